// The writer of the `services` and `backends` tables. Sources (the API, `cilia apply`, selector
// derivation) hand in validated services; the manager checks who owns what, gives frontends their
// rev-NAT indexes and backends their ids, keeps the backends table's reference counts, and writes
// every change of one call in one transaction, so the reconciler sees it atomically.

import { conflict } from '../../pkg/api/index.js';
import { type Backend, type BackendState, type Service, backendIdentity } from '../../pkg/lb/model/index.js';
import type { DB, RWTable, Revision, WriteTxn } from '../../pkg/statedb/index.js';
import { Status } from '../../pkg/statedb/reconciler/index.js';
import type { IdAllocator } from './ids.js';
import type { JsonLinesStore } from '../../pkg/statefile/index.js';
import { frontendKey, serviceKey } from './tables.js';
import type { BackendSource, BackendStateCounts, LbBackend, LbService, LbServiceBackend, ServiceSource } from './types.js';

/** A service as a source wants it: the validated model plus its origin. */
export interface DesiredService {
  readonly service: Service;
  readonly source: ServiceSource;
  readonly backendSource: BackendSource;
}

const SOURCE_NAMES: Record<ServiceSource, string> = { api: 'the API (cilia service upsert)', k8s: 'cilia apply' };

const NO_REFS: BackendStateCounts = { active: 0, terminating: 0, quarantined: 0, maintenance: 0 };

function sameBackends(a: readonly LbServiceBackend[], b: readonly LbServiceBackend[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x.id !== y.id || x.address !== y.address || x.port !== y.port || x.protocol !== y.protocol || x.portName !== y.portName || x.weight !== y.weight || x.state !== y.state || x.nodeName !== y.nodeName) return false;
  }
  return true;
}

/** Whether two rows want the same map content (everything but the status). */
export function sameService(a: LbService, b: LbService): boolean {
  return (
    a.source === b.source &&
    a.backendSource === b.backendSource &&
    a.trafficPolicy === b.trafficPolicy &&
    a.algorithm === b.algorithm &&
    a.sessionAffinity?.timeoutSeconds === b.sessionAffinity?.timeoutSeconds &&
    a.sourceRanges.length === b.sourceRanges.length &&
    a.sourceRanges.every((r, i) => r === b.sourceRanges[i]) &&
    a.frontends.length === b.frontends.length &&
    a.frontends.every((f, i) => {
      const g = b.frontends[i];
      return f.address === g.address && f.port === g.port && f.protocol === g.protocol && f.portName === g.portName && f.revNat === g.revNat;
    }) &&
    sameBackends(a.backends, b.backends)
  );
}

function backendKey(b: Pick<Backend, 'address' | 'port' | 'protocol'>): string {
  return backendIdentity(b);
}

/** Writes services and backends; see the file comment. */
export class ServiceManager {
  constructor(
    private readonly db: DB,
    private readonly services: RWTable<LbService>,
    private readonly backends: RWTable<LbBackend>,
    private readonly revNats: IdAllocator,
    private readonly backendIds: IdAllocator,
    private readonly idStore: JsonLinesStore<number>,
  ) {}

  /**
   * Checks that `upserts` and `deletes` (service keys) by `source` can be applied together: no service
   * of another source is replaced or deleted, and no frontend ends up in two services.
   * Throws ApiError 409 naming the field (`name`, `frontends[i]`), with `where(i)` prefixing the
   * position of the i-th upsert in the caller's input. Changes nothing.
   */
  check(upserts: readonly DesiredService[], deletes: readonly string[], source: ServiceSource, where: (i: number) => string = () => ''): void {
    const txn = this.db.readTxn();
    const touched = new Set([...deletes, ...upserts.map((u) => serviceKey(u.service.namespace, u.service.name))]);
    const claims = new Map<string, string>();
    upserts.forEach((u, i) => {
      const key = serviceKey(u.service.namespace, u.service.name);
      const existing = this.services.get(txn, { index: 'key', key });
      if (existing && existing.source !== source) {
        throw conflict(`${where(i)}service ${key} is managed by ${SOURCE_NAMES[existing.source]}; change or delete it there`, `${where(i)}name`);
      }
      u.service.frontends.forEach((f, j) => {
        const fkey = frontendKey(f);
        const other = claims.get(fkey);
        if (other !== undefined && other !== key) throw conflict(`${where(i)}frontend ${fkey} is also a frontend of service ${other} in this request`, `${where(i)}frontends[${j}]`);
        claims.set(fkey, key);
        const owner = this.services.get(txn, { index: 'frontend', key: fkey });
        if (owner && owner.key !== key && !touched.has(owner.key)) {
          throw conflict(`${where(i)}frontend ${fkey} already belongs to service ${owner.key}`, `${where(i)}frontends[${j}]`);
        }
      });
    });
    for (const key of deletes) {
      const existing = this.services.get(txn, { index: 'key', key });
      if (existing && existing.source !== source) throw conflict(`service ${key} is managed by ${SOURCE_NAMES[existing.source]}; delete it there`, 'name');
    }
  }

  /**
   * Replaces the services in `upserts` and removes those in `deletes` (absent keys are ignored), in
   * one transaction. Call `check` first (not repeated here: it costs a lookup per service and
   * frontend, which counts when 10,000 services arrive at once); a frontend conflict still fails the
   * transaction through the unique `frontend` index, leaving the tables unchanged.
   * Throws IdsExhaustedError when no rev-NAT index or backend id is left (the tables are unchanged;
   * numbers taken by the failed call stay reserved until the agent restarts).
   * Returns the `services` table revision after the change.
   */
  apply(upserts: readonly DesiredService[], deletes: readonly string[]): Revision {
    const revision = this.db.update([this.services, this.backends], (txn) => {
      const keptFrontends = new Set<string>();
      const released = new Set<string>();
      const refDelta = new Map<string, { backend: Backend; delta: Record<BackendState, number> }>();
      const count = (b: Backend, by: number, key = backendKey(b)): void => {
        let d = refDelta.get(key);
        if (!d) refDelta.set(key, (d = { backend: b, delta: { active: 0, terminating: 0, quarantined: 0, maintenance: 0 } }));
        d.delta[b.state] += by;
      };
      const forget = (old: LbService): void => {
        for (const f of old.frontends) released.add(frontendKey(f));
        for (const b of old.backends) count(b, -1);
      };
      const rows: LbService[] = [];
      for (const u of upserts) {
        const s = u.service;
        const key = serviceKey(s.namespace, s.name);
        const old = this.services.get(txn, { index: 'key', key });
        const backendKeys = s.backends.map(backendKey);
        const row: LbService = {
          key,
          name: s.name,
          namespace: s.namespace,
          source: u.source,
          backendSource: u.backendSource,
          frontends: s.frontends.map((f) => {
            const fkey = frontendKey(f);
            keptFrontends.add(fkey);
            return { ...f, revNat: this.revNats.acquire(fkey) };
          }),
          backends: s.backends.map((b, i) => ({ ...b, id: this.backendIds.acquire(backendKeys[i]) })),
          ...(s.sessionAffinity ? { sessionAffinity: s.sessionAffinity } : {}),
          sourceRanges: s.sourceRanges,
          trafficPolicy: s.trafficPolicy,
          algorithm: s.algorithm,
          status: Status.pending(),
        };
        if (old && sameService(old, row)) {
          for (const f of old.frontends) keptFrontends.add(frontendKey(f));
          continue;
        }
        if (old) forget(old);
        row.backends.forEach((b, i) => count(b, +1, backendKeys[i]));
        rows.push(row);
      }
      for (const key of deletes) {
        const old = this.services.get(txn, { index: 'key', key });
        if (!old) continue;
        forget(old);
        this.services.delete(txn, old);
      }
      for (const row of rows) this.services.insert(txn, row);
      for (const fkey of released) if (!keptFrontends.has(fkey)) this.revNats.release(fkey);
      for (const [key, { backend, delta }] of refDelta) this.applyRefDelta(txn, key, backend, delta);
      return this.services.revision(txn);
    });
    this.idStore.flush();
    return revision;
  }

  /** Applies one backend's reference-count change: creates, updates or (at zero) deletes its row and id. */
  private applyRefDelta(txn: WriteTxn, key: string, backend: Backend, delta: Record<BackendState, number>): void {
    if (!delta.active && !delta.terminating && !delta.quarantined && !delta.maintenance) return;
    const old = this.backends.get(txn, { index: 'key', key });
    const prev = old?.states ?? NO_REFS;
    const states: BackendStateCounts = {
      active: prev.active + delta.active,
      terminating: prev.terminating + delta.terminating,
      quarantined: prev.quarantined + delta.quarantined,
      maintenance: prev.maintenance + delta.maintenance,
    };
    if (states.active + states.terminating + states.quarantined + states.maintenance <= 0) {
      if (old) this.backends.delete(txn, old);
      this.backendIds.release(key);
      return;
    }
    this.backends.insert(txn, {
      key,
      id: this.backendIds.acquire(key),
      address: backend.address,
      port: backend.port,
      protocol: backend.protocol,
      states,
    });
  }

  /** Every service of `source`. */
  list(source?: ServiceSource): LbService[] {
    const all = [...this.services.all(this.db.readTxn())];
    return source ? all.filter((s) => s.source === source) : all;
  }
}
