// The reconciler's side effects for the `services` table: writes each service's backends, slots,
// master entries, reverse NAT, source ranges and Maglev tables into the LB maps, removes what a
// service no longer has, and prunes what no service wants. Nothing else in the agent writes these maps
// (the datapath itself writes affinity and socket reverse-NAT entries).
//
// Ordering inside one write keeps the datapath consistent at every instant: backends and reverse NAT
// before the slots that name them, slots before the master entry whose count exposes them; deletions
// in the opposite order (master first, backends last).
//
// The ops remember what they wrote per service (and which service owns each frontend and rev-NAT
// index in the kernel right now), so a service's update removes exactly what it dropped, and an old
// version never deletes entries a newer owner wrote. After a restart that memory is empty: leftovers
// of the previous run are removed by the first prune, which runs once the table is initialized.

import { BACKEND_STATE_CODE, PROTOCOL_NUMBER } from '../../pkg/lb/model/index.js';
import type { Lb4Backend, Lb4Key, Lb4SrcRangeKey } from '../../pkg/datapath/index.js';
import type { ReadTxn, Revision, Table } from '../../pkg/statedb/index.js';
import type { BatchEntry, BatchOperations, OpContext, Operations } from '../../pkg/statedb/reconciler/index.js';
import { type FrontendEntries, type LayoutOptions, frontendEntries, lb4KeyText, slotKey, srcRangeKeyText } from './layout.js';
import { type LbMaps, backendEntries, reverseNatEntries, serviceEntries } from './lbmaps.js';
import { type LbBackend, type LbService, type LbServiceBackend, combinedBackendState } from './types.js';

/** What the ops wrote for one frontend. */
interface WrittenFrontend {
  /** `address:port/PROTOCOL`. */
  readonly frontend: string;
  readonly key: Omit<Lb4Key, 'backend_slot'>;
  readonly revNat: number;
  readonly slots: number;
  readonly sourceRanges: readonly Lb4SrcRangeKey[];
  /** Signature of the installed Maglev table; undefined = none. */
  readonly maglev?: string;
}

/**
 * What the ops wrote for one service: the row and the layout options they wrote it with. What that
 * put in the maps (WrittenFrontend, backend ids) is recomputed from these when the service changes
 * again. Why not keep the entries themselves: ~700 bytes per service, 7 MB for 10,000 services, all
 * of it copied by the garbage collector during a bulk apply, for the rare later update.
 */
interface Written {
  readonly row: LbService;
  readonly layout: LayoutOptions;
}

/** What a written row put in the maps per frontend. */
function writtenFrontends(w: Written): WrittenFrontend[] {
  return frontendEntries(w.row, w.layout).map((fe) => ({ frontend: fe.frontend, key: fe.key, revNat: fe.revNat, slots: fe.slots.length, sourceRanges: fe.sourceRanges, maglev: fe.maglev?.signature }));
}

/** The backends a row put in the backends map: each id once (its first backend), with its key at the same index. */
function writtenBackends(row: LbService): { ids: number[]; keys: string[]; first: LbServiceBackend[] } {
  const ids: number[] = [];
  const keys: string[] = [];
  const first: LbServiceBackend[] = [];
  // One backend serving several port names appears once per name; a set only for long lists.
  const seen = row.backends.length > 16 ? new Set<number>() : undefined;
  for (let i = 0; i < row.backends.length; i++) {
    const b = row.backends[i];
    if (seen ? seen.has(b.id) : ids.includes(b.id)) continue;
    seen?.add(b.id);
    ids.push(b.id);
    keys.push(`${b.address}:${b.port}/${b.protocol}`);
    first.push(b);
  }
  return { ids, keys, first };
}

const findFrontend = (list: readonly WrittenFrontend[] | undefined, frontend: string): WrittenFrontend | undefined => {
  if (list) for (const w of list) if (w.frontend === frontend) return w;
  return undefined;
};

/**
 * Map writes of one reconciliation step, applied in a safe order (see the file comment). Writes are
 * encoded into batches as they are planned (MapBatch): a plan for 10,000 services holds ~80,000
 * entries, which as [key, value] objects were most of the reconciler's garbage.
 */
class Plan {
  /** Backend writes, one per id (the last value set wins), and the position of each id in them. */
  readonly backends = backendEntries(64);
  readonly backendAt = new Map<number, number>();
  readonly reverseNat = reverseNatEntries(64);
  readonly sourceRanges: Lb4SrcRangeKey[] = [];
  readonly maglev: [number, Uint32Array][] = [];
  readonly slots = serviceEntries(64);
  readonly masters = serviceEntries(64);
  readonly deadMasters: Lb4Key[] = [];
  readonly deadSlots: Lb4Key[] = [];
  readonly deadSourceRanges: Lb4SrcRangeKey[] = [];
  readonly deadMaglev: number[] = [];
  readonly deadReverseNat: number[] = [];
  readonly deadBackends = new Set<number>();

  constructor(readonly layout: LayoutOptions) {}

  /** Writes `value` for backend `id` (replacing what this plan wrote for it before). */
  putBackend(id: number, value: Lb4Backend): void {
    const at = this.backendAt.get(id);
    if (at === undefined) {
      this.backendAt.set(id, this.backends.length);
      this.backends.add(id, value);
    } else {
      this.backends.replace(at, id, value);
    }
  }

  apply(maps: LbMaps): void {
    maps.putBackends(this.backends);
    maps.putReverseNat(this.reverseNat);
    maps.putSourceRanges(this.sourceRanges);
    for (const [revNat, table] of this.maglev) maps.putMaglev(revNat, table);
    maps.putServices(this.slots);
    maps.putServices(this.masters);
    maps.deleteServices(this.deadMasters);
    maps.deleteServices(this.deadSlots);
    maps.deleteSourceRanges(this.deadSourceRanges);
    maps.deleteMaglev(this.deadMaglev);
    maps.deleteReverseNat(this.deadReverseNat);
    // A backend another service of this plan still writes stays.
    maps.deleteBackends([...this.deadBackends].filter((id) => !this.backendAt.has(id)));
  }
}

/** The backends-map value of a backend of a service, with the state all its services agree on. */
function backendValue(b: { address: string; port: number; protocol: keyof typeof PROTOCOL_NUMBER }, row: LbBackend | undefined): Lb4Backend {
  const state = row ? combinedBackendState(row.states) : 'active';
  return { address: b.address, port: b.port, proto: PROTOCOL_NUMBER[b.protocol], flags: BACKEND_STATE_CODE[state] };
}

/** Reconciler operations (single and batched) of the `services` table on the LB maps. */
export class ServiceMapOps implements Operations<LbService>, BatchOperations<LbService> {
  private readonly written = new Map<string, Written>();
  /** Frontend key → service whose entries the kernel holds for it now. */
  private readonly frontendOwner = new Map<string, string>();
  /** Rev-NAT index → service whose reverse NAT / source ranges / Maglev table the kernel holds. */
  private readonly revNatOwner = new Map<number, string>();

  constructor(
    private readonly maps: LbMaps,
    private readonly backends: Table<LbBackend>,
    private readonly layout: () => LayoutOptions,
  ) {}

  async update(_ctx: OpContext, txn: ReadTxn, _rev: Revision, svc: LbService): Promise<void> {
    const plan = new Plan(this.layout());
    const commit = this.planUpdate(plan, txn, svc);
    plan.apply(this.maps);
    commit();
  }

  async delete(_ctx: OpContext, txn: ReadTxn, _rev: Revision, svc: LbService): Promise<void> {
    const plan = new Plan(this.layout());
    const commit = this.planDelete(plan, txn, svc);
    plan.apply(this.maps);
    commit();
  }

  /**
   * One plan for the whole batch (a few batched syscalls per map instead of several per service). If
   * the kernel refuses part of it, every service is retried alone so that the error lands on the
   * service that caused it.
   */
  async updateBatch(ctx: OpContext, txn: ReadTxn, batch: BatchEntry<LbService>[]): Promise<void> {
    await this.runBatch(batch, (plan, svc) => this.planUpdate(plan, txn, svc), (e) => this.update(ctx, txn, e.revision, e.object));
  }

  async deleteBatch(ctx: OpContext, txn: ReadTxn, batch: BatchEntry<LbService>[]): Promise<void> {
    await this.runBatch(batch, (plan, svc) => this.planDelete(plan, txn, svc), (e) => this.delete(ctx, txn, e.revision, e.object));
  }

  private async runBatch(batch: BatchEntry<LbService>[], planOne: (plan: Plan, svc: LbService) => () => void, alone: (e: BatchEntry<LbService>) => Promise<void>): Promise<void> {
    const plan = new Plan(this.layout());
    const commits: (() => void)[] = [];
    try {
      for (let i = 0; i < batch.length; i++) commits.push(planOne(plan, batch[i].object));
      plan.apply(this.maps);
    } catch {
      for (const e of batch) {
        try {
          await alone(e);
        } catch (err) {
          e.error = err;
        }
      }
      return;
    }
    for (let i = 0; i < commits.length; i++) commits[i]();
  }

  async prune(_ctx: OpContext, txn: ReadTxn, desired: Iterable<[LbService, Revision]>): Promise<void> {
    const opts = this.layout();
    const wantServices = new Set<string>();
    const wantRevNat = new Set<number>();
    const wantRanges = new Set<string>();
    const wantMaglev = new Set<number>();
    for (const [svc] of desired) {
      for (const fe of frontendEntries(svc, opts)) {
        for (let s = 0; s <= fe.slots.length; s++) wantServices.add(lb4KeyText(slotKey(fe.key, s)));
        wantRevNat.add(fe.revNat);
        for (const k of fe.sourceRanges) wantRanges.add(srcRangeKeyText(k));
        if (fe.maglev) wantMaglev.add(fe.revNat);
      }
    }
    const wantBackends = new Set<number>();
    for (const b of this.backends.all(txn)) wantBackends.add(b.id);

    const m = this.maps;
    const deadServices = m.readServices().map(([k]) => k).filter((k) => !wantServices.has(lb4KeyText(k)));
    // Masters before slots, so the datapath never sees a count that reaches a deleted slot.
    m.deleteServices(deadServices.filter((k) => k.backend_slot === 0));
    m.deleteServices(deadServices.filter((k) => k.backend_slot !== 0));
    m.deleteSourceRanges(m.readSourceRanges().filter((k) => !wantRanges.has(srcRangeKeyText(k))));
    m.deleteMaglev(m.readMaglev().map(([r]) => r).filter((r) => !wantMaglev.has(r)));
    m.deleteReverseNat(m.readReverseNat().map(([r]) => r).filter((r) => !wantRevNat.has(r)));
    m.deleteBackends(m.readBackends().map(([id]) => id).filter((id) => !wantBackends.has(id)));
    m.pruneAffinity((r) => wantRevNat.has(r));
  }

  /** Adds the writes and deletions of `svc`'s new state to `plan`; returns what to record once applied. */
  private planUpdate(plan: Plan, txn: ReadTxn, svc: LbService): () => void {
    const prev = this.written.get(svc.key);
    const before = prev && writtenFrontends(prev);
    const backends = writtenBackends(svc);
    for (let i = 0; i < backends.ids.length; i++) {
      const b = backends.first[i];
      // Active for this service means active in the map (active wins), so only other states need the table.
      plan.putBackend(b.id, backendValue(b, b.state === 'active' ? undefined : this.backends.get(txn, { index: 'key', key: backends.keys[i] })));
    }
    const entries = frontendEntries(svc, plan.layout);
    for (let i = 0; i < entries.length; i++) {
      const fe = entries[i];
      const was = findFrontend(before, fe.frontend);
      plan.reverseNat.add(fe.revNat, fe.reverseNat);
      for (const k of fe.sourceRanges) plan.sourceRanges.push(k);
      if (fe.maglev && (was?.maglev !== fe.maglev.signature || was.revNat !== fe.revNat)) plan.maglev.push([fe.revNat, fe.maglev.build()]);
      // One scratch key and value for every slot (the batch encodes them as they are added).
      const key = slotKey(fe.key, 0);
      plan.masters.add(key, fe.master);
      const slot = { backend_id: 0, count: 0, rev_nat_index: fe.revNat, flags: 0, flags2: 0 };
      for (let k = 0; k < fe.slots.length; k++) {
        key.backend_slot = k + 1;
        slot.backend_id = fe.slots[k];
        plan.slots.add(key, slot);
      }
      if (was) this.planShrink(plan, svc.key, fe, was);
    }
    const dropped: WrittenFrontend[] = [];
    if (prev && before) {
      for (const w of before) if (!entries.some((fe) => fe.frontend === w.frontend)) dropped.push(w);
      for (const w of dropped) this.planFrontendRemoval(plan, svc.key, w);
      const old = writtenBackends(prev.row);
      const kept = backends.ids.length > 16 ? new Set(backends.ids) : undefined;
      old.ids.forEach((id, i) => {
        if (!(kept ? kept.has(id) : backends.ids.includes(id))) this.planBackendRemoval(plan, txn, id, old.keys[i]);
      });
    }
    return () => {
      this.disown(svc.key, dropped);
      this.written.set(svc.key, { row: svc, layout: plan.layout });
      for (let i = 0; i < entries.length; i++) {
        this.frontendOwner.set(entries[i].frontend, svc.key);
        this.revNatOwner.set(entries[i].revNat, svc.key);
      }
    };
  }

  /** Forgets that `owner` holds these frontends and their rev-NAT indexes in the kernel. */
  private disown(owner: string, frontends: readonly WrittenFrontend[]): void {
    for (const f of frontends) {
      if (this.frontendOwner.get(f.frontend) === owner) this.frontendOwner.delete(f.frontend);
      if (this.revNatOwner.get(f.revNat) === owner) this.revNatOwner.delete(f.revNat);
    }
  }

  /** A frontend kept across an update: drop slots past the new count, stale source ranges, a Maglev table no longer wanted. */
  private planShrink(plan: Plan, owner: string, fe: FrontendEntries, before: WrittenFrontend): void {
    for (let s = fe.slots.length + 1; s <= before.slots; s++) plan.deadSlots.push(slotKey(fe.key, s));
    if (before.revNat !== fe.revNat) {
      this.planRevNatRemoval(plan, owner, before);
      return;
    }
    const now = new Set(fe.sourceRanges.map(srcRangeKeyText));
    plan.deadSourceRanges.push(...before.sourceRanges.filter((k) => !now.has(srcRangeKeyText(k))));
    if (before.maglev !== undefined && !fe.maglev) plan.deadMaglev.push(fe.revNat);
  }

  private planFrontendRemoval(plan: Plan, owner: string, w: WrittenFrontend): void {
    const current = this.frontendOwner.get(w.frontend);
    if (current === undefined || current === owner) {
      plan.deadMasters.push(slotKey(w.key, 0));
      for (let s = 1; s <= w.slots; s++) plan.deadSlots.push(slotKey(w.key, s));
    }
    this.planRevNatRemoval(plan, owner, w);
  }

  private planRevNatRemoval(plan: Plan, owner: string, w: WrittenFrontend): void {
    const current = this.revNatOwner.get(w.revNat);
    if (current !== undefined && current !== owner) return; // a newer owner wrote this index since
    plan.deadReverseNat.push(w.revNat);
    plan.deadSourceRanges.push(...w.sourceRanges);
    if (w.maglev !== undefined) plan.deadMaglev.push(w.revNat);
  }

  /** A backend this service no longer refers to leaves the map unless the table still holds it under that id. */
  private planBackendRemoval(plan: Plan, txn: ReadTxn, id: number, key: string): void {
    if (this.backends.get(txn, { index: 'key', key })?.id !== id) plan.deadBackends.add(id);
  }

  private planDelete(plan: Plan, txn: ReadTxn, svc: LbService): () => void {
    const prev = this.written.get(svc.key);
    // Without a record (written by a previous run of the agent), what the row says is what it wrote.
    const w = prev ?? { row: svc, layout: plan.layout };
    const frontends = writtenFrontends(w);
    for (const f of frontends) this.planFrontendRemoval(plan, svc.key, f);
    const backends = writtenBackends(w.row);
    backends.ids.forEach((id, i) => this.planBackendRemoval(plan, txn, id, backends.keys[i]));
    return () => {
      if (prev) this.disown(svc.key, frontends);
      this.written.delete(svc.key);
    };
  }
}
