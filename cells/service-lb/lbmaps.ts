// The LB maps as the service reconciler and the API use them: batched writes and deletes, full reads
// (prune, `cilia bpf lb list`) and Maglev inner tables. BpfLbMaps is the kernel; unit tests use the
// in-memory FakeLbMaps (fake.ts) behind the same interface.

import { BpfMap, MapBatch, MapType, closeFd, deleteBatch, u16Codec, u32Codec, updateBatch } from '../../pkg/bpf/index.js';
import {
  BPF_F_INNER_MAP, type DatapathMaps, type Lb4Backend, type Lb4Key, type Lb4ReverseNat, type Lb4Service, type Lb4SrcRangeKey,
  lb4Backend, lb4Key, lb4ReverseNat, lb4Service,
} from '../../pkg/datapath/index.js';
import { mapFdById } from './map-by-id.js';

/** A key-value pair of a map. */
export type Entry<K, V> = readonly [K, V];

/** Entries for cilia_lb4_services, encoded as they are added (see MapBatch). */
export function serviceEntries(capacity?: number): MapBatch<Lb4Key, Lb4Service> {
  return new MapBatch(lb4Key, lb4Service, capacity);
}
/** Entries for cilia_lb4_backends (key: backend id). */
export function backendEntries(capacity?: number): MapBatch<number, Lb4Backend> {
  return new MapBatch(u32Codec, lb4Backend, capacity);
}
/** Entries for cilia_lb4_reverse_nat (key: rev-NAT index). */
export function reverseNatEntries(capacity?: number): MapBatch<number, Lb4ReverseNat> {
  return new MapBatch(u16Codec, lb4ReverseNat, capacity);
}

/**
 * Reads and writes of cilia_lb4_services, _backends, _reverse_nat, _source_range, _maglev and
 * _affinity. Writes of several entries happen in the order given. Deleting an absent entry is not an
 * error. Every method throws (BpfError for the kernel) when the map refuses a write, e.g. when full.
 */
export interface LbMaps {
  /** Writes a batch made by backendEntries(). */
  putBackends(entries: MapBatch<number, Lb4Backend>): void;
  /** Returns how many existed. */
  deleteBackends(ids: readonly number[]): number;
  /** Writes a batch made by serviceEntries(). */
  putServices(entries: MapBatch<Lb4Key, Lb4Service>): void;
  deleteServices(keys: readonly Lb4Key[]): number;
  /** Writes a batch made by reverseNatEntries(). */
  putReverseNat(entries: MapBatch<number, Lb4ReverseNat>): void;
  deleteReverseNat(ids: readonly number[]): number;
  /** Source ranges: the key is the whole entry (its value is always 1). */
  putSourceRanges(keys: readonly Lb4SrcRangeKey[]): void;
  deleteSourceRanges(keys: readonly Lb4SrcRangeKey[]): number;
  /** Installs (or atomically replaces) the Maglev table of a rev-NAT index. */
  putMaglev(revNat: number, table: Uint32Array): void;
  deleteMaglev(revNats: readonly number[]): number;
  /** Deletes the affinity entries of rev-NAT indexes for which `keep` is false; returns how many. */
  pruneAffinity(keep: (revNat: number) => boolean): number;
  readServices(): Entry<Lb4Key, Lb4Service>[];
  readBackends(): Entry<number, Lb4Backend>[];
  readReverseNat(): Entry<number, Lb4ReverseNat>[];
  readSourceRanges(): Lb4SrcRangeKey[];
  /** Rev-NAT index → kernel id of its inner map. */
  readMaglev(): Entry<number, number>[];
  /** The Maglev table of a rev-NAT index, or undefined when it has none. */
  readMaglevTable(revNat: number): Uint32Array | undefined;
}

/** LbMaps on the pinned datapath maps (handles from the maps cell, valid after it started). */
export class BpfLbMaps implements LbMaps {
  constructor(private readonly datapath: () => DatapathMaps) {}

  private get m(): DatapathMaps {
    return this.datapath();
  }

  putBackends(entries: MapBatch<number, Lb4Backend>): void {
    updateBatch(this.m.lb4Backends, entries);
  }
  deleteBackends(ids: readonly number[]): number {
    return deleteBatch(this.m.lb4Backends, ids);
  }
  putServices(entries: MapBatch<Lb4Key, Lb4Service>): void {
    updateBatch(this.m.lb4Services, entries);
  }
  deleteServices(keys: readonly Lb4Key[]): number {
    return deleteBatch(this.m.lb4Services, keys);
  }
  putReverseNat(entries: MapBatch<number, Lb4ReverseNat>): void {
    updateBatch(this.m.lb4ReverseNat, entries);
  }
  deleteReverseNat(ids: readonly number[]): number {
    return deleteBatch(this.m.lb4ReverseNat, ids);
  }
  putSourceRanges(keys: readonly Lb4SrcRangeKey[]): void {
    const m = this.m.lb4SourceRange;
    updateBatch(m, MapBatch.of(m.keyCodec, m.valueCodec, keys.map((k) => [k, 1] as const)));
  }
  deleteSourceRanges(keys: readonly Lb4SrcRangeKey[]): number {
    return deleteBatch(this.m.lb4SourceRange, keys);
  }

  putMaglev(revNat: number, table: Uint32Array): void {
    // A fresh inner map, filled before it is swapped in: the datapath never sees a half-written table.
    const inner = BpfMap.create({ type: MapType.Array, name: 'cilia_maglev_in', key: u32Codec, value: u32Codec, maxEntries: table.length, flags: BPF_F_INNER_MAP });
    try {
      const entries = new MapBatch(u32Codec, u32Codec, table.length);
      for (let i = 0; i < table.length; i++) entries.add(i, table[i]);
      updateBatch(inner, entries);
      this.m.lb4Maglev.put(revNat, inner.fd);
    } finally {
      inner.close(); // the outer map holds its own reference
    }
  }
  deleteMaglev(revNats: readonly number[]): number {
    let n = 0;
    for (const r of revNats) if (this.m.lb4Maglev.delete(r)) n++;
    return n;
  }

  pruneAffinity(keep: (revNat: number) => boolean): number {
    const stale = [...this.m.lb4Affinity.keys()].filter((k) => !keep(k.rev_nat_id));
    return deleteBatch(this.m.lb4Affinity, stale);
  }

  readServices(): Entry<Lb4Key, Lb4Service>[] {
    return [...this.m.lb4Services.entries()];
  }
  readBackends(): Entry<number, Lb4Backend>[] {
    return [...this.m.lb4Backends.entries()];
  }
  readReverseNat(): Entry<number, Lb4ReverseNat>[] {
    return [...this.m.lb4ReverseNat.entries()];
  }
  readSourceRanges(): Lb4SrcRangeKey[] {
    return [...this.m.lb4SourceRange.keys()];
  }
  readMaglev(): Entry<number, number>[] {
    return [...this.m.lb4Maglev.entries()];
  }
  readMaglevTable(revNat: number): Uint32Array | undefined {
    const id = this.m.lb4Maglev.get(revNat);
    if (id === undefined) return undefined;
    const fd = mapFdById(id);
    let inner: BpfMap<number, number>;
    try {
      inner = BpfMap.fromFd(fd, u32Codec, u32Codec);
    } catch (err) {
      closeFd(fd);
      throw err;
    }
    try {
      const table = new Uint32Array(inner.info.maxEntries);
      for (const [i, v] of inner.entries()) table[i] = v;
      return table;
    } finally {
      inner.close();
    }
  }
}
