// Stable numbers for keys: backend ids (key `address:port/PROTO`) and rev-NAT indexes (key: the
// frontend `address:port/PROTO`). The BPF maps and connection-tracking entries hold these numbers, so
// a restarted agent must hand out the same ones again: assignments are persisted (IdJournal).

import type { IdJournal } from './id-journal.js';

/** No free number is left in the allocator's range. */
export class IdsExhaustedError extends Error {
  constructor(readonly what: string, readonly max: number) {
    super(`no free ${what} left (all of 1..${max} are in use)`);
    this.name = 'IdsExhaustedError';
  }
}

/**
 * Hands out numbers 1..max for string keys. A key keeps its number while it is held; released
 * numbers are reused only after every other free number (round-robin from the last one handed out),
 * so a number does not come back soon under another key while old conntrack entries may still
 * carry it. Assignments are written to `journal` in namespace `ns`; `flush` the journal to persist.
 *
 * After a restart, `restore()` turns the assignments in the (loaded) journal into reservations:
 * `acquire` of the same key returns the same number, and `dropUnclaimed` releases the ones nobody
 * acquired again.
 */
export class IdAllocator {
  /** The journal's live map of this namespace (changed only through the journal). */
  private readonly byKey: ReadonlyMap<string, number>;
  private readonly byId = new Map<number, string>();
  /** Keys acquired since restore; only tracked until dropUnclaimed (afterwards every number is claimed). */
  private readonly claimed = new Set<string>();
  private tracking = true;
  private next = 1;

  /**
   * @param what name for errors ("backend ids")
   * @param max largest number (65535 for rev-NAT indexes, 2^32-1 for backend ids)
   */
  constructor(
    private readonly what: string,
    private readonly max: number,
    private readonly journal: IdJournal,
    private readonly ns: string,
  ) {
    this.byKey = journal.entries(ns);
  }

  /**
   * Takes the assignments of this allocator's namespace from the journal (call after `journal.load()`,
   * before the first acquire). Entries that are out of range or repeat a number are dropped.
   */
  restore(): void {
    this.byId.clear();
    for (const [key, id] of [...this.byKey]) {
      if (!Number.isInteger(id) || id < 1 || id > this.max || this.byId.has(id)) {
        this.journal.delete(this.ns, key);
        continue;
      }
      this.byId.set(id, key);
      if (id >= this.next) this.next = id >= this.max ? 1 : id + 1;
    }
  }

  /** The number of `key`, allocating one if needed. Throws IdsExhaustedError when none is free. */
  acquire(key: string): number {
    if (this.tracking) this.claimed.add(key);
    const known = this.byKey.get(key);
    if (known !== undefined) return known;
    let id = this.next;
    for (let tries = 0; this.byId.has(id); tries++) {
      if (tries >= this.max) throw new IdsExhaustedError(this.what, this.max);
      id = id >= this.max ? 1 : id + 1;
    }
    this.next = id >= this.max ? 1 : id + 1;
    this.journal.set(this.ns, key, id);
    this.byId.set(id, key);
    return id;
  }

  /** The number of `key` if it has one (held or reserved). */
  peek(key: string): number | undefined {
    return this.byKey.get(key);
  }

  /** Frees the number of `key`. Releasing a key without a number is a no-op. */
  release(key: string): void {
    const id = this.byKey.get(key);
    if (this.tracking) this.claimed.delete(key);
    if (id === undefined) return;
    this.journal.delete(this.ns, key);
    this.byId.delete(id);
  }

  /** Releases reservations loaded from the store that no `acquire` claimed since; returns how many. */
  dropUnclaimed(): number {
    let n = 0;
    for (const key of [...this.byKey.keys()]) {
      if (this.claimed.has(key)) continue;
      this.release(key);
      n++;
    }
    this.tracking = false;
    this.claimed.clear();
    return n;
  }

  /** Numbers in use (held or reserved). */
  get size(): number {
    return this.byKey.size;
  }
}
