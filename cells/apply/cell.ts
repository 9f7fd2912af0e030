// apply: the local backend's entry for Kubernetes-style objects. `cilia apply -f` / `cilia delete -f`
// and `cilia policy import|delete|validate` send manifests here; each kind goes to the cell that owns it
// (policies → policy, Namespace → namespaces, Service/EndpointSlice → service-lb), every object is
// validated before anything changes, and applied objects persist in <state-dir>/objects.json.
// `?wait=true` returns only once the datapath enforces the change.

import path from 'node:path';
import { firstValueFrom } from 'rxjs';
import { ApiError, badRequest } from '../../pkg/api/index.js';
import { type Health, IHealth, ILifecycle, ILogger, type Lifecycle, type Logger, module, provide, provideInto, token } from '../../pkg/hive/index.js';
import { podIdentityLabels } from '../../pkg/labels/index.js';
import { type DB, IDB } from '../../pkg/statedb/index.js';
import { IApiRoutes, type ApiRequest, route } from '../api-server/types.js';
import { IDaemonConfig } from '../daemon-config/types.js';
import { IEndpointManager, type EndpointManager, IEndpointManagerConfig } from '../endpoint-manager/types.js';
import { INamespaces, NAMESPACE_NAME, type Namespaces } from '../namespaces/types.js';
import { IPolicyEngine, type PolicyEngine } from '../policy/types.js';
import { readManifest } from './manifest.js';
import { ObjectStore } from './store.js';
import { type ApplyHandler, type ApplyItem, IApplyHandlers, type ObjectKey, type PreparedChange } from './types.js';

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Namespace objects: their labels become the namespace labels endpoint identities carry. */
function namespaceHandler(db: DB, namespaces: Namespaces, endpoints: EndpointManager, policy: PolicyEngine, clusterName: () => string): ApplyHandler {
  const parse = (item: ApplyItem) => {
    const meta = (item.object.metadata ?? {}) as { name?: unknown; labels?: unknown };
    if (typeof meta.name !== 'string' || !NAMESPACE_NAME.test(meta.name) || meta.name.length > 63) {
      throw badRequest(`${item.where}: metadata.name ${JSON.stringify(meta.name)} must be a DNS label`, `${item.where}: metadata.name`);
    }
    const labels: Record<string, string> = {};
    if (meta.labels !== undefined) {
      if (typeof meta.labels !== 'object' || meta.labels === null) throw badRequest(`${item.where}: metadata.labels must be a map`, `${item.where}: metadata.labels`);
      for (const [k, v] of Object.entries(meta.labels)) {
        if (!LABEL_KEY.test(k) || typeof v !== 'string' || !LABEL_VALUE.test(v)) throw badRequest(`${item.where}: metadata.labels.${k}: invalid label`, `${item.where}: metadata.labels.${k}`);
        // kubernetes.io/metadata.name is set by the API server, not the user (it always equals the name).
        if (k !== 'kubernetes.io/metadata.name') labels[k] = v;
      }
    }
    return { name: meta.name, labels };
  };
  /** Waits until every endpoint of these namespaces carries identity labels with the namespace's labels. */
  const waitRelabelled = async (names: readonly string[], signal?: AbortSignal): Promise<void> => {
    for (;;) {
      signal?.throwIfAborted();
      const txn = db.readTxn();
      const pending = endpoints
        .list()
        .filter((e) => names.includes(e.namespace))
        .filter((e) => !podIdentityLabels({ namespace: e.namespace, labels: e.labels, namespaceLabels: namespaces.labelsOf(e.namespace), clusterName: clusterName() }).equals(e.identityLabels));
      if (!pending.length) break;
      await firstValueFrom(endpoints.table.watch(txn));
    }
    await policy.waitIdle(signal);
  };
  return {
    kinds: ['Namespace'],
    prepareApply(items) {
      const nss = items.map(parse);
      return {
        objects: nss.map((n, i) => ({ key: { kind: 'Namespace', namespace: '', name: n.name }, source: items[i].object, item: items[i] })),
        commit: () => namespaces.upsert(nss),
        wait: (signal) => waitRelabelled(nss.map((n) => n.name), signal),
      };
    },
    prepareDelete(keys) {
      const names = keys.filter((k) => k.kind === 'Namespace').map((k) => k.name);
      return {
        objects: names.map((name) => ({ key: { kind: 'Namespace', namespace: '', name } })),
        commit: () => namespaces.delete(names),
        wait: (signal) => waitRelabelled(names, signal),
      };
    },
    keysOf: (items) => items.map((i) => ({ kind: 'Namespace', namespace: '', name: parse(i).name })),
  };
}

/** Applies and deletes manifests through the handlers, and persists what was applied. */
export class ApplyService {
  private readonly byKind = new Map<string, ApplyHandler>();

  constructor(
    handlers: readonly ApplyHandler[],
    private readonly store: ObjectStore,
    private readonly log?: Logger,
  ) {
    for (const h of handlers) for (const k of h.kinds) {
      if (this.byKind.has(k)) throw new Error(`two apply handlers for kind ${k}`);
      this.byKind.set(k, h);
    }
  }

  kinds(): string[] {
    return [...this.byKind.keys()];
  }

  private group(items: readonly ApplyItem[], only?: readonly string[]): Map<ApplyHandler, ApplyItem[]> {
    const out = new Map<ApplyHandler, ApplyItem[]>();
    for (const item of items) {
      const h = this.byKind.get(item.kind);
      if (!h || (only && !only.includes(item.kind))) {
        const supported = only ?? this.kinds();
        throw badRequest(`${item.where}: kind ${item.kind} is not supported here (supported: ${supported.join(', ')})`, `${item.where}: kind`);
      }
      const list = out.get(h) ?? [];
      list.push(item);
      out.set(h, list);
    }
    return out;
  }

  /** Validates everything, then applies it. Returns the stored keys and each handler's revision. */
  async apply(text: string, opts: { wait: boolean; namespace: string; only?: readonly string[]; dryRun?: boolean }, signal?: AbortSignal) {
    const t = [performance.now()];
    const { items, json } = readManifest(text);
    if (!items.length) throw badRequest('the input holds no objects');
    const groups = this.group(items, opts.only);
    t.push(performance.now());
    // Validation of every object happens before any change: bad input changes nothing.
    const prepared: PreparedChange[] = [...groups].map(([h, its]) => h.prepareApply(its, opts.namespace));
    const keys = prepared.flatMap((p) => p.objects.map((o) => o.key));
    if (opts.dryRun) return { objects: keys, revisions: [] as number[] };
    t.push(performance.now());
    const revisions = prepared.map((p) => p.commit());
    t.push(performance.now());
    // The journal line is written while the datapath catches up; the answer waits for both.
    const stored = this.store.upsert(prepared.flatMap((p) => p.objects), json ? text : undefined);
    t.push(performance.now());
    await Promise.all([stored, ...(opts.wait ? prepared.map((p) => p.wait?.(signal) ?? Promise.resolve()) : [])]);
    t.push(performance.now());
    const ms = t.slice(1).map((x, i) => Math.round(x - t[i]));
    this.log?.debug('applied', { objects: items.length, readMs: ms[0], validateMs: ms[1], commitMs: ms[2], storeMs: ms[3], waitMs: ms[4] });
    return { objects: keys, revisions };
  }

  /** Deletes the objects a manifest names (or explicit keys). */
  async delete(target: { text: string; namespace: string } | { keys: readonly ObjectKey[] }, opts: { wait: boolean }, signal?: AbortSignal) {
    let keysByHandler: Map<ApplyHandler, ObjectKey[]>;
    if ('text' in target) {
      const { items } = readManifest(target.text);
      if (!items.length) throw badRequest('the input holds no objects');
      keysByHandler = new Map([...this.group(items)].map(([h, its]) => [h, h.keysOf(its, target.namespace)]));
    } else {
      keysByHandler = new Map();
      for (const k of target.keys) {
        const h = this.byKind.get(k.kind);
        if (!h) throw badRequest(`kind ${k.kind} is not supported`, 'kind');
        keysByHandler.set(h, [...(keysByHandler.get(h) ?? []), k]);
      }
    }
    const prepared = [...keysByHandler].map(([h, keys]) => h.prepareDelete(keys));
    const revisions = prepared.map((p) => p.commit());
    const keys = prepared.flatMap((p) => p.objects.map((o) => o.key));
    const stored = this.store.delete(keys);
    await Promise.all([stored, ...(opts.wait ? prepared.map((p) => p.wait?.(signal) ?? Promise.resolve()) : [])]);
    return { objects: keys, revisions };
  }

  /** Re-applies the persisted objects after a restart; objects that no longer validate are reported. */
  restore(log: Logger): number {
    const stored = this.store.load();
    const groups = new Map<ApplyHandler, ApplyItem[]>();
    for (const o of stored) {
      const h = this.byKind.get(o.key.kind);
      if (!h) {
        log.warn('a stored object has a kind nobody handles any more', { key: o.key });
        continue;
      }
      groups.set(h, [...(groups.get(h) ?? []), { kind: o.key.kind, object: o.source, where: `stored ${o.key.kind}/${o.key.namespace}/${o.key.name}` }]);
    }
    let n = 0;
    // Namespaces first: other objects may refer to their labels.
    for (const [h, items] of [...groups].sort(([a], [b]) => Number(b.kinds.includes('Namespace')) - Number(a.kinds.includes('Namespace')))) {
      try {
        h.prepareApply(items, 'default').commit();
        n += items.length;
      } catch (err) {
        log.error('could not restore stored objects', { kinds: h.kinds, error: err });
      }
    }
    return n;
  }
}

const IApplyService = token<ApplyService>('ApplyService');

function wantWait(req: ApiRequest): boolean {
  const w = req.query.get('wait');
  return w === '' || w === 'true' || w === '1';
}

function manifestText(req: ApiRequest): string {
  if (!req.rawBody.trim()) throw badRequest('the request body must hold a YAML or JSON manifest');
  return req.rawBody;
}

export const ApplyCell = module(
  'apply',
  'Kubernetes-style objects from cilia apply, persisted by the local backend',
  provide({
    provides: IApplyService,
    deps: [IDB, IApplyHandlers, INamespaces, IEndpointManager, IEndpointManagerConfig, IPolicyEngine, IDaemonConfig, ILifecycle, ILogger, IHealth],
    factory: (db, handlers, namespaces, endpoints, epCfg, policy, daemon, lc: Lifecycle, log: Logger, health: Health) => {
      const store = new ObjectStore(path.join(daemon.stateDir, 'objects.jsonl'));
      const svc = new ApplyService([namespaceHandler(db, namespaces, endpoints, policy, () => epCfg.clusterName), ...handlers], store, log);
      const restored = policy.registerSource('local-object-store');
      lc.append({
        name: 'restore-objects',
        onStart: () => {
          const n = svc.restore(log);
          restored();
          log.info('stored objects applied', { objects: n });
          health.ok(`${n} stored object(s) applied`);
        },
      });
      return svc;
    },
  }),
  provideInto(IApiRoutes, {
    deps: [IApplyService, IPolicyEngine],
    factory: (svc, policy) => [
      route('PUT', '/v1/apply', 'Apply a YAML/JSON manifest (?wait=true, ?namespace=default, ?dryRun=true)', (req) =>
        svc.apply(manifestText(req), { wait: wantWait(req), namespace: req.query.get('namespace') ?? 'default', dryRun: req.query.get('dryRun') === 'true' }, req.signal),
      ),
      route('POST', '/v1/apply/delete', 'Delete the objects a manifest names (?wait=true)', (req) => svc.delete({ text: manifestText(req), namespace: req.query.get('namespace') ?? 'default' }, { wait: wantWait(req) }, req.signal)),
      route('PUT', '/v1/policy', 'Import policies (CNP, CCNP, NetworkPolicy, or a JSON array of Cilium rules); ?wait=true', async (req) => {
        const r = await svc.apply(manifestText(req), { wait: wantWait(req), namespace: req.query.get('namespace') ?? 'default', only: ['CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy', 'NetworkPolicy', 'CiliumRules'] }, req.signal);
        return { revision: policy.revision(), objects: r.objects };
      }),
      route('POST', '/v1/policy/validate', 'Validate policies without applying them', async (req) => {
        const r = await svc.apply(manifestText(req), { wait: false, namespace: req.query.get('namespace') ?? 'default', only: ['CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy', 'NetworkPolicy', 'CiliumRules'], dryRun: true });
        return { valid: true, objects: r.objects };
      }),
      route('DELETE', '/v1/policy', 'Delete policies: ?all=true, or ?name=[&kind=&namespace=]', async (req) => {
        const q = req.query;
        let keys: ObjectKey[];
        if (q.get('all') === 'true') keys = policy.list().map((p) => ({ kind: p.kind, namespace: p.namespace, name: p.name }));
        else {
          const name = q.get('name');
          if (!name) throw badRequest('name the policy (?name=) or pass ?all=true', 'name');
          keys = policy.list().filter((p) => p.name === name && (!q.get('kind') || p.kind === q.get('kind')) && (!q.get('namespace') || p.namespace === q.get('namespace'))).map((p) => ({ kind: p.kind, namespace: p.namespace, name: p.name }));
          if (!keys.length) throw new ApiError(404, `no policy named ${JSON.stringify(name)}`);
        }
        await svc.delete({ keys }, { wait: wantWait(req) }, req.signal);
        return { revision: policy.revision(), deleted: keys };
      }),
    ],
  }),
);
