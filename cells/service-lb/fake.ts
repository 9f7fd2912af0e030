// An in-memory LbMaps for unit tests of the cell: the same contract as the BPF maps, plus counters of
// the writes so that tests can check that unchanged state is not rewritten.

import type { MapBatch } from '../../pkg/bpf/index.js';
import type { Lb4Backend, Lb4Key, Lb4ReverseNat, Lb4Service, Lb4SrcRangeKey } from '../../pkg/datapath/index.js';
import { lb4KeyText, srcRangeKeyText } from './layout.js';
import type { Entry, LbMaps } from './lbmaps.js';

/** LbMaps in JavaScript maps. `failWrites` makes the next writes throw (to test error statuses and retries). */
export class FakeLbMaps implements LbMaps {
  readonly services = new Map<string, Entry<Lb4Key, Lb4Service>>();
  readonly backends = new Map<number, Lb4Backend>();
  readonly reverseNat = new Map<number, Lb4ReverseNat>();
  readonly sourceRanges = new Map<string, Lb4SrcRangeKey>();
  readonly maglev = new Map<number, Uint32Array>();
  readonly affinityRevNats = new Set<number>();
  /** Entries written (puts) so far, all maps together. */
  writes = 0;
  /** The next `count` writes (put calls) throw `error`. */
  failWrites?: { count: number; error: Error };

  private write(n: number): void {
    if (this.failWrites && this.failWrites.count > 0) {
      this.failWrites.count--;
      throw this.failWrites.error;
    }
    this.writes += n;
  }

  putBackends(entries: MapBatch<number, Lb4Backend>): void {
    this.write(entries.length);
    for (const [k, v] of entries.entries()) this.backends.set(k, v);
  }
  deleteBackends(ids: readonly number[]): number {
    return ids.filter((id) => this.backends.delete(id)).length;
  }
  putServices(entries: MapBatch<Lb4Key, Lb4Service>): void {
    this.write(entries.length);
    for (const [k, v] of entries.entries()) this.services.set(lb4KeyText(k), [k, v]);
  }
  deleteServices(keys: readonly Lb4Key[]): number {
    return keys.filter((k) => this.services.delete(lb4KeyText(k))).length;
  }
  putReverseNat(entries: MapBatch<number, Lb4ReverseNat>): void {
    this.write(entries.length);
    for (const [k, v] of entries.entries()) this.reverseNat.set(k, v);
  }
  deleteReverseNat(ids: readonly number[]): number {
    return ids.filter((id) => this.reverseNat.delete(id)).length;
  }
  putSourceRanges(keys: readonly Lb4SrcRangeKey[]): void {
    this.write(keys.length);
    for (const k of keys) this.sourceRanges.set(srcRangeKeyText(k), k);
  }
  deleteSourceRanges(keys: readonly Lb4SrcRangeKey[]): number {
    return keys.filter((k) => this.sourceRanges.delete(srcRangeKeyText(k))).length;
  }
  putMaglev(revNat: number, table: Uint32Array): void {
    this.write(1);
    this.maglev.set(revNat, Uint32Array.from(table));
  }
  deleteMaglev(revNats: readonly number[]): number {
    return revNats.filter((r) => this.maglev.delete(r)).length;
  }
  pruneAffinity(keep: (revNat: number) => boolean): number {
    const stale = [...this.affinityRevNats].filter((r) => !keep(r));
    for (const r of stale) this.affinityRevNats.delete(r);
    return stale.length;
  }
  readServices(): Entry<Lb4Key, Lb4Service>[] {
    return [...this.services.values()];
  }
  readBackends(): Entry<number, Lb4Backend>[] {
    return [...this.backends];
  }
  readReverseNat(): Entry<number, Lb4ReverseNat>[] {
    return [...this.reverseNat];
  }
  readSourceRanges(): Lb4SrcRangeKey[] {
    return [...this.sourceRanges.values()];
  }
  readMaglev(): Entry<number, number>[] {
    return [...this.maglev.keys()].map((r) => [r, 1000 + r] as const);
  }
  readMaglevTable(revNat: number): Uint32Array | undefined {
    return this.maglev.get(revNat);
  }

  /** The master entry of a frontend, or undefined. */
  master(address: string, port: number, proto: number): Lb4Service | undefined {
    return this.services.get(`${address}:${port}/${proto}#0`)?.[1];
  }

  /** Backend ids in the slots of a frontend (per the master's count). */
  slots(address: string, port: number, proto: number): number[] {
    const m = this.master(address, port, proto);
    const out: number[] = [];
    for (let s = 1; s <= (m?.count ?? 0); s++) out.push(this.services.get(`${address}:${port}/${proto}#${s}`)?.[1].backend_id ?? 0);
    return out;
  }
}
