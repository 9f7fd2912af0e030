// The writer of the `services` and `backends` tables. Sources (the API, `cilia apply`, selector
// derivation) hand in validated services; the manager checks who owns what, gives frontends their
// rev-NAT indexes and backends their ids, keeps the backends table's reference counts, and writes
// every change of one call in one transaction, so the reconciler sees it atomically.

import { conflict } from '../../pkg/api/index.js';
import { type Backend, type Service, backendIdentity } from '../../pkg/lb/model/index.js';
import type { DB, RWTable, Revision, WriteTxn } from '../../pkg/statedb/index.js';
import { Status } from '../../pkg/statedb/reconciler/index.js';
import type { IdAllocator } from './ids.js';
import type { IdJournal } from './id-journal.js';
import { frontendKey, serviceKey } from './tables.js';
import type { BackendSource, BackendStateCounts, LbBackend, LbFrontend, LbService, LbServiceBackend, ServiceSource } from './types.js';

/** A service as a source wants it: the validated model plus its origin. */
export interface DesiredService {
  readonly service: Service;
  readonly source: ServiceSource;
  readonly backendSource: BackendSource;
}

const SOURCE_NAMES: Record<ServiceSource, string> = { api: 'the API (cilia service upsert)', k8s: 'cilia apply' };

const NO_REFS: BackendStateCounts = { active: 0, terminating: 0, quarantined: 0, maintenance: 0 };
/** The counts of a backend one service uses while active, by far the most common; shared by every such row. */
const ONE_ACTIVE: BackendStateCounts = Object.freeze({ active: 1, terminating: 0, quarantined: 0, maintenance: 0 });

/** A backend's reference-count change in one `apply`. */
interface RefDelta {
  readonly backend: Backend;
  /** Its id when a row of this change holds it (saves asking the allocator again). */
  id: number | undefined;
  active: number;
  terminating: number;
  quarantined: number;
  maintenance: number;
}

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

/** Adds `by` to the count of `b`'s state in `refDelta`. */
function count(refDelta: Map<string, RefDelta>, b: Backend, by: number, key: string, id?: number): void {
  let d = refDelta.get(key);
  if (!d) refDelta.set(key, (d = { backend: b, id, active: 0, terminating: 0, quarantined: 0, maintenance: 0 }));
  else if (id !== undefined) d.id = id;
  switch (b.state) {
    case 'active':
      d.active += by;
      break;
    case 'terminating':
      d.terminating += by;
      break;
    case 'quarantined':
      d.quarantined += by;
      break;
    case 'maintenance':
      d.maintenance += by;
      break;
  }
}

/** Records that `old` is replaced or deleted: its frontends may be released, its backends lose a reference. */
function forget(old: LbService, released: string[], refDelta: Map<string, RefDelta>): void {
  for (const f of old.frontends) released.push(frontendKey(f));
  for (const b of old.backends) count(refDelta, b, -1, backendKey(b));
}

/** Writes services and backends; see the file comment. */
export class ServiceManager {
  constructor(
    private readonly db: DB,
    private readonly services: RWTable<LbService>,
    private readonly backends: RWTable<LbBackend>,
    private readonly revNats: IdAllocator,
    private readonly backendIds: IdAllocator,
    private readonly idStore: IdJournal,
  ) {}

  /**
   * Checks that `upserts` and `deletes` (service keys) by `source` can be applied together: no service
   * of another source is replaced or deleted, and no frontend ends up in two services.
   * Throws ApiError 409 naming the field (`name`, `frontends[i]`), with `where(i)` prefixing the
   * position of the i-th upsert in the caller's input. Changes nothing.
   */
  check(upserts: readonly DesiredService[], deletes: readonly string[], source: ServiceSource, where: (i: number) => string = () => ''): void {
    const txn = this.db.readTxn();
    // The services this call replaces or deletes, built only if a frontend has another owner.
    let touched: Set<string> | undefined;
    const isTouched = (key: string): boolean =>
      (touched ??= new Set([...deletes, ...upserts.map((u) => serviceKey(u.service.namespace, u.service.name))])).has(key);
    const claims = new Map<string, string>();
    // An empty table (a node's first apply) has no owners to look up.
    const empty = this.services.numObjects(txn) === 0;
    for (let i = 0; i < upserts.length; i++) {
      const u = upserts[i];
      const key = serviceKey(u.service.namespace, u.service.name);
      const existing = empty ? undefined : this.services.get(txn, { index: 'key', key });
      if (existing && existing.source !== source) {
        throw conflict(`${where(i)}service ${key} is managed by ${SOURCE_NAMES[existing.source]}; change or delete it there`, `${where(i)}name`);
      }
      const frontends = u.service.frontends;
      for (let j = 0; j < frontends.length; j++) {
        const fkey = frontendKey(frontends[j]);
        const other = claims.get(fkey);
        if (other !== undefined && other !== key) throw conflict(`${where(i)}frontend ${fkey} is also a frontend of service ${other} in this request`, `${where(i)}frontends[${j}]`);
        claims.set(fkey, key);
        const owner = empty ? undefined : this.services.get(txn, { index: 'frontend', key: fkey });
        if (owner && owner.key !== key && !isTouched(owner.key)) {
          throw conflict(`${where(i)}frontend ${fkey} already belongs to service ${owner.key}`, `${where(i)}frontends[${j}]`);
        }
      }
    }
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
    // Indexed loops and forEach rather than for-of: this runs once per apply over 10,000s of items,
    // mostly before V8 optimizes it, and unoptimized for-of allocates an iterator result per step.
    const revision = this.db.update([this.services, this.backends], (txn) => {
      /** Frontend keys of the rows this change replaces or deletes: their rev-NAT indexes may be freed. */
      const released: string[] = [];
      const refDelta = new Map<string, RefDelta>();
      // One status object for every row of this change (rows are immutable, so sharing is safe).
      const pending = Status.pending();
      const rows: LbService[] = [];
      const unchanged: LbService[] = [];
      // Rows are inserted after this loop: an empty table stays empty while it runs, with no old rows to read.
      const empty = this.services.numObjects(txn) === 0;
      for (let i = 0; i < upserts.length; i++) {
        const u = upserts[i];
        const s = u.service;
        const key = serviceKey(s.namespace, s.name);
        const old = empty ? undefined : this.services.get(txn, { index: 'key', key });
        // Explicit literals, not spreads: `{ ...b, id }` of objects with optional fields made
        // dictionary-mode objects, several times larger, 40,000 of them in a 10,000-service apply.
        const frontends = new Array<LbFrontend>(s.frontends.length);
        for (let j = 0; j < frontends.length; j++) {
          const f = s.frontends[j];
          frontends[j] = { address: f.address, port: f.port, protocol: f.protocol, portName: f.portName, revNat: this.revNats.acquire(frontendKey(f)) };
        }
        const backends = new Array<LbServiceBackend>(s.backends.length);
        const backendKeys = new Array<string>(s.backends.length);
        for (let j = 0; j < backends.length; j++) {
          const b = s.backends[j];
          const bkey = backendKey(b);
          const id = this.backendIds.acquire(bkey);
          backendKeys[j] = bkey;
          backends[j] =
            b.nodeName === undefined
              ? { address: b.address, port: b.port, protocol: b.protocol, portName: b.portName, weight: b.weight, state: b.state, id }
              : { address: b.address, port: b.port, protocol: b.protocol, portName: b.portName, weight: b.weight, state: b.state, nodeName: b.nodeName, id };
        }
        const row: LbService = s.sessionAffinity
          ? { key, name: s.name, namespace: s.namespace, source: u.source, backendSource: u.backendSource, frontends, backends, sessionAffinity: s.sessionAffinity, sourceRanges: s.sourceRanges, trafficPolicy: s.trafficPolicy, algorithm: s.algorithm, status: pending }
          : { key, name: s.name, namespace: s.namespace, source: u.source, backendSource: u.backendSource, frontends, backends, sourceRanges: s.sourceRanges, trafficPolicy: s.trafficPolicy, algorithm: s.algorithm, status: pending };
        if (old && sameService(old, row)) {
          unchanged.push(old);
          continue;
        }
        if (old) forget(old, released, refDelta);
        for (let j = 0; j < backends.length; j++) count(refDelta, backends[j], +1, backendKeys[j], backends[j].id);
        rows.push(row);
      }
      for (const key of deletes) {
        const old = this.services.get(txn, { index: 'key', key });
        if (!old) continue;
        forget(old, released, refDelta);
        this.services.delete(txn, old);
      }
      for (let i = 0; i < rows.length; i++) this.services.insert(txn, rows[i]);
      if (released.length) {
        // A released frontend stays if a row of this change (new or unchanged) still has it.
        const kept = new Set<string>();
        for (const r of [rows, unchanged]) for (const row of r) for (const f of row.frontends) kept.add(frontendKey(f));
        for (const fkey of released) if (!kept.has(fkey)) this.revNats.release(fkey);
      }
      refDelta.forEach((delta, key) => this.applyRefDelta(txn, key, delta));
      return this.services.revision(txn);
    });
    this.idStore.flush();
    return revision;
  }

  /** Applies one backend's reference-count change: creates, updates or (at zero) deletes its row and id. */
  private applyRefDelta(txn: WriteTxn, key: string, delta: RefDelta): void {
    if (!delta.active && !delta.terminating && !delta.quarantined && !delta.maintenance) return;
    const row = (prev: BackendStateCounts): LbBackend | undefined => {
      const active = prev.active + delta.active;
      const terminating = prev.terminating + delta.terminating;
      const quarantined = prev.quarantined + delta.quarantined;
      const maintenance = prev.maintenance + delta.maintenance;
      if (active + terminating + quarantined + maintenance <= 0) return undefined;
      const states: BackendStateCounts = active === 1 && !terminating && !quarantined && !maintenance ? ONE_ACTIVE : { active, terminating, quarantined, maintenance };
      const b = delta.backend;
      return { key, id: delta.id ?? this.backendIds.acquire(key), address: b.address, port: b.port, protocol: b.protocol, states };
    };
    if (delta.active >= 0 && delta.terminating >= 0 && delta.quarantined >= 0 && delta.maintenance >= 0) {
      // Only gains (a new backend, most of a bulk apply): write the row as if new, one lookup fewer;
      // if there was a row, write again with its counts added.
      const old = this.backends.insert(txn, row(NO_REFS)!);
      if (old) this.backends.insert(txn, row(old.states)!);
      return;
    }
    const old = this.backends.get(txn, { index: 'key', key });
    const next = row(old?.states ?? NO_REFS);
    if (next) {
      this.backends.insert(txn, next);
      return;
    }
    if (old) this.backends.delete(txn, old);
    this.backendIds.release(key);
  }

  /** Every service of `source`. */
  list(source?: ServiceSource): LbService[] {
    const all = [...this.services.all(this.db.readTxn())];
    return source ? all.filter((s) => s.source === source) : all;
  }
}
