// policy: the rules in force (CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, NetworkPolicy) and
// their enforcement. A selector cache follows the identities table; the engine resolves each
// affected endpoint's policy into rows of the `policy-entries` table (`cilia statedb policy-entries`),
// which a reconciler writes into the cilia_policy map — only the difference, no program reload.
// Endpoints record the revision they enforce (`cilia endpoint get`).
//
// API: GET /v1/policy, GET /v1/policy/trace, GET /v1/bpf/policy/{endpoint}. Importing and deleting
// go through the object store (cells/apply), which persists them.

import { ApiError, badRequest, notFound } from '../../pkg/api/index.js';
import { type Health, IHealth, IJobGroup, ILogger, type JobGroup, type Logger, config, module, observer, provide, provideInto, timer } from '../../pkg/hive/index.js';
import { LabelSet, podIdentityLabels } from '../../pkg/labels/index.js';
import { formatRuleRef } from '../../pkg/policy/index.js';
import { IDB } from '../../pkg/statedb/index.js';
import { registerReconciler } from '../../pkg/statedb/reconciler/index.js';
import { IApiRoutes, route } from '../api-server/types.js';
import { IApplyHandlers } from '../apply/types.js';
import { policyApplyHandler } from './apply.js';
import { IEndpointManager } from '../endpoint-manager/types.js';
import { IIdentityAllocator } from '../identity/types.js';
import { IIpcache } from '../ipcache/types.js';
import { IDatapathMaps } from '../maps/types.js';
import { IStatusLines } from '../status/types.js';
import { Engine } from './engine.js';
import { PolicyMapOps } from './ops.js';
import { newPolicyTable, portText } from './table.js';
import { IPolicyConfig, IPolicyEngine, type PolicyEngine } from './types.js';

const PROTOCOLS: Record<string, number> = { tcp: 6, udp: 17, sctp: 132, icmp: 1, any: 0 };

/** Labels for trace: source-prefixed labels as given, or plain `k=v` pod labels in a namespace. */
function traceLabels(list: string[], namespace: string): LabelSet {
  if (list.some((l) => /^[a-z0-9-]+:/.test(l.split('=')[0]))) {
    try {
      return LabelSet.parse(list, 'k8s');
    } catch (err) {
      throw badRequest((err as Error).message, 'labels');
    }
  }
  const labels: Record<string, string> = {};
  for (const l of list) {
    const eq = l.indexOf('=');
    labels[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? '' : l.slice(eq + 1);
  }
  return podIdentityLabels({ namespace, labels });
}

export const PolicyCell = module(
  'policy',
  'Network policy: rules, selector cache, per-endpoint BPF policy entries',
  config(IPolicyConfig, {
    enablePolicy: { doc: 'Policy enforcement: default (an endpoint is enforced once a rule selects it), always, never', format: ['default', 'always', 'never'], default: 'default' as const },
  }),
  provide({
    provides: IPolicyEngine,
    deps: [IDB, IPolicyConfig, IEndpointManager, IIdentityAllocator, IIpcache, IDatapathMaps, IJobGroup, ILogger, IHealth],
    factory: (db, cfg, mgr, identities, ipcache, maps, jobs: JobGroup, log: Logger, health: Health): PolicyEngine => {
      const rows = newPolicyTable(db);
      const done = db.update([rows], (txn) => rows.registerInitializer(txn, 'policy-sources'));
      const engine = new Engine(db, rows, mgr, identities, ipcache, cfg.enablePolicy, () => db.update([rows], (txn) => done(txn)), log, health);
      engine.reconciler = registerReconciler({ db, jobs, log, health: health.scope('map') }, {
        table: rows,
        name: 'policy-map',
        getStatus: (r) => r.status,
        setStatus: (r, status) => ({ ...r, status }),
        ops: new PolicyMapOps(maps),
      });
      jobs.add(
        observer('follow-identities', identities.table.changes$(), async (c) => engine.onIdentity(c.object, c.deleted)),
        observer('follow-endpoints', mgr.table.changes$(), async (c) => engine.onEndpoint(c.object, c.deleted)),
        timer('regenerate', (signal) => engine.flush(signal), 60_000, { trigger: engine.trigger }),
      );
      return engine;
    },
  }),
  provideInto(IApiRoutes, {
    deps: [IPolicyEngine, IEndpointManager, IDatapathMaps],
    factory: (engine, mgr, maps) => [
      route('GET', '/v1/policy', 'The policy objects in force and the repository revision', () => ({
        revision: engine.revision(),
        mode: engine.mode,
        policies: engine.list().map((p) => ({ kind: p.kind, namespace: p.namespace, name: p.name, rules: p.rules.length, ref: formatRuleRef(p) })),
      })),
      route('GET', '/v1/policy/trace', 'Explain the verdict: ?src=LABEL&dst=LABEL (repeatable)&dport=80/tcp[&srcNamespace=&dstNamespace=]', (req) => {
        const src = req.query.getAll('src');
        const dst = req.query.getAll('dst');
        if (!src.length) throw badRequest('at least one src label is required', 'src');
        if (!dst.length) throw badRequest('at least one dst label is required', 'dst');
        const m = /^(\d+)(?:\/([a-z]+))?$/i.exec(req.query.get('dport') ?? '');
        if (!m || Number(m[1]) > 65535) throw badRequest('dport must be PORT[/tcp|udp|sctp|icmp]', 'dport');
        const proto = PROTOCOLS[(m[2] ?? 'tcp').toLowerCase()];
        if (proto === undefined) throw badRequest(`unknown protocol ${m[2]}`, 'dport');
        return engine.trace(traceLabels(src, req.query.get('srcNamespace') ?? 'default'), traceLabels(dst, req.query.get('dstNamespace') ?? 'default'), Number(m[1]), proto);
      }),
      route('GET', '/v1/bpf/policy/{ref}', 'The cilia_policy entries of one endpoint, read from the BPF map', (req) => {
        const text = req.params.ref;
        const ep = /^\d+$/.test(text) ? mgr.get({ id: Number(text) }) : mgr.get({ namespace: req.query.get('namespace') ?? 'default', name: text });
        if (!ep) throw notFound(`no such endpoint ${text}`);
        const out = [];
        try {
          for (const [k, v] of maps.maps.policy.entries()) {
            if (k.ep_id !== ep.id) continue;
            const anyL4 = k.prefixlen <= 56;
            out.push({
              direction: k.egress ? 'egress' : 'ingress',
              identity: k.sec_label,
              port: anyL4 ? 'ANY' : portText({ protocol: k.protocol, port: k.dport, portPrefixLen: k.prefixlen - 64 }),
              verdict: v.deny ? 'deny' : 'allow',
              packets: Number(v.packets),
              bytes: Number(v.bytes),
            });
          }
        } catch (err) {
          throw new ApiError(500, `reading cilia_policy failed: ${(err as Error).message}`);
        }
        return { endpoint: ep.id, policy: ep.policy, entries: out };
      }),
    ],
  }),
  provideInto(IApplyHandlers, { deps: [IPolicyEngine], factory: policyApplyHandler }),
  provideInto(IStatusLines, {
    deps: [IPolicyEngine],
    factory: (engine) => () => ({ name: 'Policy', state: 'Ok' as const, message: `enforcement ${engine.mode}, revision ${engine.revision()}, ${engine.list().length} object(s)` }),
  }),
);
