// The policy engine: keeps the rule repository and the selector cache, and turns them into
// per-endpoint policy map entries — recomputing only the endpoints a change can affect:
//   - a rule change: the endpoints its old or new rules select (others only move to the new revision);
//   - an identity change: the endpoints whose resolution used a selector whose selection changed;
//   - an endpoint change: that endpoint (and, for named ports, the endpoints with egress named-port rules).
// Rows are diffed per endpoint, so the reconciler writes only the difference to the BPF map. An endpoint
// records the revision it enforces once its rows are in the map.

import { type Health, type Logger, Trigger } from '../../pkg/hive/index.js';
import { LabelSet, cidrLabels } from '../../pkg/labels/index.js';
import {
  type EnforcementMode,
  type NamedPort,
  type NamedPortValue,
  type PolicyKey,
  type PolicyObject,
  Repository,
  type ResolvedPolicy,
  SelectorCache,
  type TraceResult,
  resolve,
  trace,
} from '../../pkg/policy/index.js';
import { type DB, type RWTable, keys } from '../../pkg/statedb/index.js';
import { type Reconciler, Status } from '../../pkg/statedb/reconciler/index.js';
import { type Endpoint, type EndpointManager, type EndpointPolicyState, datapathRevisionOf } from '../endpoint-manager/types.js';
import type { Identity, IdentityAllocator } from '../identity/types.js';
import type { Ipcache } from '../ipcache/types.js';
import { type PolicyRow, rowKey } from './table.js';
import type { PolicyEngine } from './types.js';

const PROTO_NUM: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132 };

/** What the engine remembers about an endpoint's last resolution. */
interface EndpointState {
  identity: number;
  labelsKey: string;
  portsKey: string;
  selectorKeys: ReadonlySet<string>;
  /** Its rules name ports in egress sections (their numbers depend on the peers' declarations). */
  namedEgress: boolean;
  ingressEnforced: boolean;
  egressEnforced: boolean;
}

function portsKey(ep: Endpoint): string {
  return ep.namedPorts.map((p) => `${p.name}=${p.port}/${p.protocol}`).join(',');
}

function namedPortMap(ep: Endpoint): Map<string, NamedPortValue> {
  return new Map(ep.namedPorts.map((p) => [p.name, { port: p.port, protocol: PROTO_NUM[p.protocol] }]));
}

function hasNamedEgress(objects: Iterable<PolicyObject>, refs: ResolvedPolicy['matchingRules']): boolean {
  const wanted = new Set(refs.map((r) => `${r.kind}/${r.namespace}/${r.name}`));
  for (const o of objects) {
    if (!wanted.has(`${o.kind}/${o.namespace}/${o.name}`)) continue;
    for (const r of o.rules) for (const c of [...r.egress, ...r.egressDeny]) if (c.ports.some((p) => typeof p.port === 'string')) return true;
  }
  return false;
}

export class Engine implements PolicyEngine {
  readonly cache = new SelectorCache();
  readonly repo = new Repository({ selectorCache: this.cache });
  private readonly endpoints = new Map<number, EndpointState>();
  private readonly dirty = new Set<number>();
  private readonly removed = new Set<number>();
  private bumpAll = true;
  private readonly cidrIds = new Map<string, number>();
  private enforced = -1;
  private readonly waiters: { rev: number; resolve: () => void }[] = [];
  private readonly pendingSources = new Set<string>();
  private initDone = false;
  private flushStarted = 0;
  private readonly idleWaiters: { after: number; resolve: () => void }[] = [];
  /**
   * The last `datapathRevision` handed out: a flush that changes an endpoint's entries gives it a new,
   * larger one (restored endpoints raise it to theirs, so a value is never reused).
   */
  private datapathGeneration = 0;
  readonly trigger = new Trigger();
  reconciler?: Reconciler;

  constructor(
    private readonly db: DB,
    private readonly rows: RWTable<PolicyRow>,
    private readonly mgr: EndpointManager,
    private readonly identities: IdentityAllocator,
    private readonly ipcache: Ipcache,
    readonly mode: EnforcementMode,
    private readonly markInitialized: () => void,
    private readonly log: Logger,
    private readonly health: Health,
  ) {}

  // --- inputs ------------------------------------------------------------------------------------

  /** An identity appeared, changed or went away (from the identities table). */
  onIdentity(i: Identity, deleted: boolean): void {
    const changed = deleted ? this.cache.deleteIdentity(i.id) : this.cache.upsertIdentity(i.id, i.labels);
    this.markSelectors(changed);
  }

  private markSelectors(changed: readonly string[]): void {
    if (!changed.length) return;
    const set = new Set(changed);
    for (const [id, st] of this.endpoints) if ([...set].some((k) => st.selectorKeys.has(k))) this.dirty.add(id);
    this.trigger.trigger();
  }

  /** An endpoint appeared, changed or went away (from the endpoints table). */
  onEndpoint(ep: Endpoint, deleted: boolean): void {
    if (ep.policy) this.datapathGeneration = Math.max(this.datapathGeneration, datapathRevisionOf(ep.policy));
    const st = this.endpoints.get(ep.id);
    if (deleted) {
      if (st) {
        this.endpoints.delete(ep.id);
        this.removed.add(ep.id);
        if (ep.namedPorts.length) this.markNamedEgress();
        this.trigger.trigger();
      }
      return;
    }
    const pk = portsKey(ep);
    if (st && st.identity === ep.identity && st.labelsKey === ep.identityLabels.key && st.portsKey === pk) return;
    if (!st || st.portsKey !== pk) this.markNamedEgress();
    this.dirty.add(ep.id);
    this.removed.delete(ep.id);
    this.trigger.trigger();
  }

  private markNamedEgress(): void {
    for (const [id, st] of this.endpoints) if (st.namedEgress) this.dirty.add(id);
  }

  // --- repository --------------------------------------------------------------------------------

  /** Marks the endpoints the rules of `objects` select. */
  private markSubjects(objects: Iterable<PolicyObject | undefined>): void {
    const rules = [...objects].flatMap((o) => o?.rules ?? []);
    if (!rules.length) return;
    for (const ep of this.mgr.list()) if (rules.some((r) => r.subject.matches(ep.identityLabels))) this.dirty.add(ep.id);
  }

  upsert(objects: readonly PolicyObject[]): number {
    const old = objects.map((o) => this.repo.get(o));
    const rev = this.repo.upsert(...objects);
    this.markSubjects([...old, ...objects]);
    return this.changed(rev);
  }

  delete(keys: readonly PolicyKey[]): number {
    const old = keys.map((k) => this.repo.get(k));
    let rev = this.repo.revision;
    for (const k of keys) rev = this.repo.delete(k);
    this.markSubjects(old);
    return this.changed(rev);
  }

  deleteAll(): number {
    const old = this.repo.list();
    const rev = this.repo.deleteAll();
    this.markSubjects(old);
    return this.changed(rev);
  }

  private changed(rev: number): number {
    this.bumpAll = true;
    this.trigger.trigger();
    return rev;
  }

  list(): PolicyObject[] {
    return this.repo.list();
  }

  revision(): number {
    return this.repo.revision;
  }

  trace(src: LabelSet | readonly LabelSet[], dst: LabelSet | readonly LabelSet[], dport: number, protocol: number): TraceResult {
    return trace({ src, dst, dport, protocol }, this.repo, { enforcementMode: this.mode });
  }

  registerSource(name: string): () => void {
    this.pendingSources.add(name);
    return () => {
      this.pendingSources.delete(name);
      this.trigger.trigger();
    };
  }

  waitEnforced(rev: number, signal?: AbortSignal): Promise<void> {
    if (this.enforced >= rev) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = { rev, resolve };
      this.waiters.push(w);
      signal?.addEventListener('abort', () => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error('aborted while waiting for policy enforcement'));
      }, { once: true });
    });
  }

  waitIdle(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const w = { after: this.flushStarted, resolve };
      this.idleWaiters.push(w);
      this.trigger.trigger();
      signal?.addEventListener('abort', () => {
        const i = this.idleWaiters.indexOf(w);
        if (i >= 0) this.idleWaiters.splice(i, 1);
        reject(new Error('aborted while waiting for policy to settle'));
      }, { once: true });
    });
  }

  // --- computation -------------------------------------------------------------------------------

  /** CIDR identities for every prefix the rules refer to, into the selector cache and the ipcache. */
  private syncCidrs(): number {
    const want = new Set(this.repo.referencedPrefixes());
    for (const p of want) {
      if (this.cidrIds.has(p)) continue;
      const labels = cidrLabels(p);
      const id = this.identities.acquire(labels, 'cidr').id;
      this.cidrIds.set(p, id);
      this.markSelectors(this.cache.upsertIdentity(id, labels));
    }
    for (const [p, id] of [...this.cidrIds]) {
      if (want.has(p)) continue;
      this.cidrIds.delete(p);
      this.markSelectors(this.cache.deleteIdentity(id));
      this.identities.release(id);
    }
    return this.ipcache.setCidrIdentities(this.cidrIds);
  }

  /** One round: recompute dirty endpoints, write their rows, wait for the maps, record revisions. */
  async flush(signal: AbortSignal): Promise<void> {
    // The waits below (reconciler.waitUntilReconciled) leave an abort listener on the signal they are
    // given even after they resolve; a signal per round keeps them from piling up on the job's
    // long-lived one (a leak, and Node's MaxListenersExceededWarning after ten rounds).
    const round = new AbortController();
    const onAbort = () => round.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.flushRound(round.signal);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private async flushRound(signal: AbortSignal): Promise<void> {
    const t0 = performance.now();
    const seq = ++this.flushStarted;
    const revision = this.repo.revision;
    const ipcRev = this.syncCidrs();
    const eps = new Map(this.mgr.list().map((e) => [e.id, e]));
    // Named ports per identity, for egress rules that name ports.
    const portsByIdentity = new Map<number, NamedPort[]>();
    for (const e of eps.values()) {
      if (!e.namedPorts.length) continue;
      const list = portsByIdentity.get(e.identity) ?? [];
      for (const p of e.namedPorts) list.push({ name: p.name, port: p.port, protocol: PROTO_NUM[p.protocol] });
      portsByIdentity.set(e.identity, list);
    }
    for (const id of eps.keys()) if (!this.endpoints.has(id)) this.dirty.add(id);
    const dirty = [...this.dirty].filter((id) => eps.has(id));
    this.dirty.clear();
    const removed = [...this.removed];
    this.removed.clear();
    const resolved = new Map<number, ResolvedPolicy>();
    for (const id of dirty) {
      const ep = eps.get(id)!;
      const r = resolve({ id, identity: ep.identity, labels: ep.identityLabels, namedPorts: namedPortMap(ep) }, this.repo, this.cache, {
        enforcementMode: this.mode,
        namedPortsOf: (identity) => portsByIdentity.get(identity) ?? [],
      });
      resolved.set(id, r);
      this.endpoints.set(id, {
        identity: ep.identity,
        labelsKey: ep.identityLabels.key,
        portsKey: portsKey(ep),
        selectorKeys: new Set(r.selectorKeys),
        namedEgress: hasNamedEgress(this.repo.list(), r.matchingRules),
        ingressEnforced: r.ingressEnforced,
        egressEnforced: r.egressEnforced,
      });
    }
    // Write only the difference, per endpoint.
    let inserted = 0;
    let deleted = 0;
    const entriesChanged = new Set<number>();
    const rowsRev = this.db.update([this.rows], (txn) => {
      for (const id of removed) {
        for (const row of this.rows.list(txn, { index: 'endpoint', key: keys.uint(id) })) {
          this.rows.delete(txn, row);
          deleted++;
        }
      }
      for (const [id, r] of resolved) {
        const current = new Map(this.rows.list(txn, { index: 'endpoint', key: keys.uint(id) }).map((row) => [row.key, row]));
        for (const e of r.entries) {
          const key = rowKey(id, e);
          const derivedFrom = e.derivedFrom.map((ref) => `${ref.kind}/${ref.namespace ? ref.namespace + '/' : ''}${ref.name}`);
          const cur = current.get(key);
          current.delete(key);
          if (cur && cur.deny === e.deny && cur.derivedFrom.join() === derivedFrom.join()) continue;
          this.rows.insert(txn, { key, endpointId: id, identity: e.identity, egress: e.direction === 'egress', protocol: e.protocol, port: e.port, portPrefixLen: e.portPrefixLen, deny: e.deny, derivedFrom, status: Status.pending() });
          inserted++;
          if (!cur || cur.deny !== e.deny) entriesChanged.add(id);
        }
        for (const stale of current.values()) {
          this.rows.delete(txn, stale);
          deleted++;
          entriesChanged.add(id);
        }
      }
      return this.rows.revision(txn);
    });
    // The datapath must hold the rows (and the CIDR identities) before endpoints claim the revision.
    await this.reconciler?.waitUntilReconciled(rowsRev, signal);
    await this.ipcache.waitSynced(ipcRev, signal);
    // Every endpoint records the new revision, but only those whose entries or enforcement changed get
    // a new datapathRevision (lxc policy_rev: their conntrack entries are checked again) and datapath
    // work; for the others the new revision is bookkeeping. A policy change thus costs work in
    // proportion to the endpoints it affects, not to all endpoints (Cilium skips regeneration alike).
    const touched = this.bumpAll ? [...eps.keys()] : dirty;
    this.bumpAll = false;
    const states = new Map<number, EndpointPolicyState>();
    const regenerated: number[] = [];
    let generation: number | undefined;
    for (const id of touched) {
      const st = this.endpoints.get(id);
      const cur = eps.get(id)?.policy;
      if (!st) continue;
      const changed = !cur || entriesChanged.has(id) || cur.ingressEnforced !== st.ingressEnforced || cur.egressEnforced !== st.egressEnforced;
      if (changed) {
        generation ??= ++this.datapathGeneration;
        regenerated.push(id);
      }
      states.set(id, { ingressEnforced: st.ingressEnforced, egressEnforced: st.egressEnforced, revision, datapathRevision: changed ? generation! : datapathRevisionOf(cur) });
    }
    if (states.size) this.mgr.setPolicyStates(states);
    await Promise.all(regenerated.map((id) => this.mgr.waitReady(id, signal).catch((err: unknown) => this.log.warn('endpoint did not take its new policy', { endpoint: id, error: err }))));
    this.enforced = Math.max(this.enforced, revision);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i].rev <= this.enforced) {
        this.waiters[i].resolve();
        this.waiters.splice(i, 1);
      }
    }
    if (!this.initDone && this.pendingSources.size === 0 && this.mgr.table.initialized(this.db.readTxn())) {
      this.initDone = true;
      this.markInitialized();
    }
    if (this.dirty.size === 0 && this.removed.size === 0) {
      for (let i = this.idleWaiters.length - 1; i >= 0; i--) {
        if (this.idleWaiters[i].after < seq) {
          this.idleWaiters[i].resolve();
          this.idleWaiters.splice(i, 1);
        }
      }
    } else {
      this.trigger.trigger(); // more work arrived meanwhile
    }
    const ms = performance.now() - t0;
    if (dirty.length || removed.length) this.log.debug('policy recomputed', { revision, endpoints: dirty.length, regenerated: regenerated.length, removed: removed.length, inserted, deleted, ms: Math.round(ms) });
    this.health.ok(`revision ${revision} enforced on ${eps.size} endpoint(s)`);
  }
}
