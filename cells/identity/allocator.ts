// The local identity allocator: label set → number, reference counted, numbers persisted so that an
// endpoint restored after an agent restart gets the identity it had (the BPF maps still hold it).

import { LabelSet, localIdentity, MIN_ENDPOINT_IDENTITY, reservedIdentities } from '../../pkg/labels/index.js';
import { type DB, type RWTable, index, keys, uintIndex } from '../../pkg/statedb/index.js';
import type { Identity, IdentityAllocator } from './types.js';

/** Highest endpoint identity of cluster 0 (Cilium's global range 256..65535). */
export const MAX_ENDPOINT_IDENTITY = 65535;

/** The persisted label-set → number reservations. */
export interface IdentityReservations {
  readonly endpoint: Readonly<Record<string, number>>;
  readonly cidr: Readonly<Record<string, number>>;
}

/** Out of identity numbers. */
export class IdentityExhaustedError extends Error {
  constructor(kind: string) {
    super(`identity: no free ${kind} identity number left`);
    this.name = 'IdentityExhaustedError';
  }
}

/** Creates the `identities` table. */
export function newIdentityTable(db: DB): RWTable<Identity> {
  return db.newTable<Identity>({
    name: 'identities',
    primary: uintIndex('id', (i) => i.id),
    secondary: [index({ name: 'labels', unique: true, key: (i: Identity) => i.labels.key, encode: keys.str })],
    header: ['ID', 'KIND', 'REFS', 'LABELS'],
    row: (i) => [String(i.id), i.kind, Number.isFinite(i.refs) ? String(i.refs) : '-', i.labels.toString()],
    toJSON: (i) => ({ id: i.id, labels: i.labels.toStrings(), kind: i.kind, refs: Number.isFinite(i.refs) ? i.refs : null }),
  });
}

/**
 * Allocator over the identities table. `persist` is called with the reservations after every change
 * that allocates or frees a number.
 */
export class LocalIdentityAllocator implements IdentityAllocator {
  /** label-set key → number, including restored numbers not (yet) acquired again. */
  private readonly reserved = { endpoint: new Map<string, number>(), cidr: new Map<string, number>() };
  private nextEndpoint = MIN_ENDPOINT_IDENTITY;
  private nextCidr = 1;

  constructor(
    private readonly db: DB,
    private readonly rw: RWTable<Identity>,
    private readonly persist: (r: IdentityReservations) => void,
  ) {
    db.update([rw], (txn) => {
      for (const r of reservedIdentities()) rw.insert(txn, { id: r.id, labels: r.labels, kind: 'reserved', refs: Infinity });
    });
  }

  get table() {
    return this.rw.toTable();
  }

  /** Loads reservations from a previous run (numbers are kept for their label sets until released). */
  restore(r: IdentityReservations): void {
    for (const [k, id] of Object.entries(r.endpoint ?? {})) if (Number.isInteger(id) && id >= MIN_ENDPOINT_IDENTITY && id <= MAX_ENDPOINT_IDENTITY) this.reserved.endpoint.set(k, id);
    for (const [k, id] of Object.entries(r.cidr ?? {})) if (Number.isInteger(id) && id > 0 && id <= 0xffffff) this.reserved.cidr.set(k, id);
  }

  /** Drops restored reservations that nobody acquired again; returns how many. */
  dropUnclaimed(): number {
    const txn = this.db.readTxn();
    let n = 0;
    for (const kind of ['endpoint', 'cidr'] as const) {
      for (const [k, num] of this.reserved[kind]) {
        const id = kind === 'cidr' ? localIdentity(num) : num;
        if (!this.rw.get(txn, { index: 'id', key: keys.uint(id) })) {
          this.reserved[kind].delete(k);
          n++;
        }
      }
    }
    if (n) this.save();
    return n;
  }

  acquire(labels: LabelSet, kind: 'endpoint' | 'cidr'): Identity {
    return this.db.update([this.rw], (txn) => {
      const cur = this.rw.get(txn, { index: 'labels', key: labels.key });
      if (cur) {
        if (cur.kind === 'reserved') return cur;
        const next = { ...cur, refs: cur.refs + 1 };
        this.rw.insert(txn, next);
        return next;
      }
      const num = this.reserved[kind].get(labels.key) ?? this.freeNumber(kind);
      const isNew = !this.reserved[kind].has(labels.key);
      this.reserved[kind].set(labels.key, num);
      const identity: Identity = { id: kind === 'cidr' ? localIdentity(num) : num, labels, kind, refs: 1 };
      this.rw.insert(txn, identity);
      if (isNew) this.save();
      return identity;
    });
  }

  release(id: number): boolean {
    const freed = this.db.update([this.rw], (txn) => {
      const cur = this.rw.get(txn, { index: 'id', key: keys.uint(id) });
      if (!cur || cur.kind === 'reserved') return undefined;
      if (cur.refs > 1) {
        this.rw.insert(txn, { ...cur, refs: cur.refs - 1 });
        return null;
      }
      this.rw.delete(txn, cur);
      return cur;
    });
    if (freed === undefined) return false;
    if (freed) {
      this.reserved[freed.kind === 'cidr' ? 'cidr' : 'endpoint'].delete(freed.labels.key);
      this.save();
    }
    return true;
  }

  get(id: number): Identity | undefined {
    return this.rw.get(this.db.readTxn(), { index: 'id', key: keys.uint(id) });
  }

  lookup(labels: LabelSet): Identity | undefined {
    return this.rw.get(this.db.readTxn(), { index: 'labels', key: labels.key });
  }

  /** The next number not in use nor reserved, continuing after the last one (wrapping around). */
  private freeNumber(kind: 'endpoint' | 'cidr'): number {
    const used = new Set(this.reserved[kind].values());
    const [lo, hi] = kind === 'endpoint' ? [MIN_ENDPOINT_IDENTITY, MAX_ENDPOINT_IDENTITY] : [1, 0xffffff];
    const span = hi - lo + 1;
    const start = kind === 'endpoint' ? this.nextEndpoint : this.nextCidr;
    for (let i = 0; i < span; i++) {
      const n = lo + ((start - lo + i) % span);
      if (used.has(n)) continue;
      if (kind === 'endpoint') this.nextEndpoint = n + 1;
      else this.nextCidr = n + 1;
      return n;
    }
    throw new IdentityExhaustedError(kind);
  }

  private save(): void {
    this.persist({ endpoint: Object.fromEntries(this.reserved.endpoint), cidr: Object.fromEntries(this.reserved.cidr) });
  }
}

/** Rebuilds a LabelSet from the strings of a JSON identity (for clients). */
export function labelsOf(strings: readonly string[]): LabelSet {
  return LabelSet.parse(strings);
}
