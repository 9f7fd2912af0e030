// The in-memory transactional database: tables of immutable objects with a unique primary index,
// secondary indexes, per-table revisions, atomic multi-table write transactions, consistent read
// snapshots, change streams that include deletions, and "initialized" tracking.
//
// JavaScript is single-threaded, so a write transaction is atomic as long as it is not held across an
// await. That is enforced: a write transaction still open when the current microtask ends is aborted,
// and its later commit() throws. Read snapshots are persistent maps (part.ts) and may be held forever.

import { Observable, Subject, asapScheduler, defer, filter, observeOn, of, take } from 'rxjs';
import { type Owner, PMap } from './part.js';
import { keys } from './keys.js';
import type { Change, ChangeIterator, Index, Key, Query, RWTable, ReadTxn, Revision, Table, TableMeta, WriteTxn } from './types.js';

/** Table definition: name, primary index, optional secondary indexes and table formatting. */
export interface TableDef<T> {
  /** `^[a-z][a-z0-9_-]{0,30}$`, unique in the DB. */
  readonly name: string;
  readonly primary: Index<T, unknown>;
  readonly secondary?: readonly Index<T, unknown>[];
  /** Column names for `cilia statedb` (default: primary key and JSON). */
  readonly header?: readonly string[];
  /** One row per object, matching `header`. */
  readonly row?: (o: T) => string[];
  /** JSON form of an object for dumps (default: the object itself). */
  readonly toJSON?: (o: T) => unknown;
  /** How many deletions to retain beyond what live iterators need, so `changes$(rev)` can resume. Default 1024. */
  readonly graveyardRetention?: number;
}

/** A write to a table that the transaction does not hold. */
export class TableNotLockedError extends Error {
  constructor(table: string) {
    super(`table ${table} is not locked by this write transaction; pass it to db.writeTxn()`);
    this.name = 'TableNotLockedError';
  }
}
/** Use of a committed, aborted or abandoned transaction. */
export class TransactionClosedError extends Error {
  constructor(why: string) {
    super(`write transaction is closed: ${why}`);
    this.name = 'TransactionClosedError';
  }
}
/** A second write transaction on a table that is already being written. */
export class TableLockedError extends Error {
  constructor(table: string) {
    super(`table ${table} is locked by another open write transaction (write transactions must not span an await)`);
    this.name = 'TableLockedError';
  }
}
/** compareAndSwap found a different revision. */
export class RevisionMismatchError extends Error {
  constructor(table: string, expected: Revision, actual: Revision) {
    super(`table ${table}: expected revision ${expected}, found ${actual}`);
    this.name = 'RevisionMismatchError';
  }
}
/** changes$(rev) asked for deletions that are no longer retained; the consumer must resync from scratch. */
export class RevisionCompactedError extends Error {
  constructor(table: string, rev: Revision, oldest: Revision) {
    super(`table ${table}: deletions before revision ${oldest} are no longer retained (asked to resume from ${rev})`);
    this.name = 'RevisionCompactedError';
  }
}

interface Entry<T> {
  readonly obj: T;
  readonly rev: Revision;
}

interface TableState<T> {
  readonly revision: Revision;
  readonly primary: PMap<Entry<T>>;
  /** Unique secondary: key → entry. Non-unique: key + '\0' + primary key → entry. */
  readonly secondary: ReadonlyMap<string, PMap<Entry<T>>>;
  /** Revision (keys.uint) → primary key of the object written at that revision. */
  readonly byRev: PMap<Key>;
  readonly initPending: ReadonlySet<string>;
}

type States = ReadonlyMap<string, TableState<unknown>>;

/** A table state a write transaction owns and updates in place. */
type Working<T> = { -readonly [K in keyof TableState<T>]: TableState<T>[K] } & { secondary: Map<string, PMap<Entry<T>>> };

class ReadTxnImpl implements ReadTxn {
  readonly kind: 'read' | 'write' = 'read';
  constructor(public states: States) {}
}

class WriteTxnImpl extends ReadTxnImpl implements WriteTxn {
  override readonly kind = 'write' as const;
  owner: Owner = {};
  closed?: string;
  readonly deletes = new Map<TableImpl<unknown>, { rev: Revision; pk: Key; obj: unknown }[]>();
  /** Table states this transaction created; it updates them in place (nobody else sees them before commit). */
  readonly working = new WeakSet<object>();
  private mutable: Map<string, TableState<unknown>>;

  constructor(
    private readonly db: DB,
    readonly locked: ReadonlySet<string>,
  ) {
    super(db.root);
    this.mutable = new Map(db.root);
    this.states = this.mutable;
    // Enforce "no await inside a write transaction": whatever is still open when the current job ends
    // was held across an await (or forgotten). Abort it so that the tables are not locked forever.
    queueMicrotask(() => {
      if (!this.closed) this.release('abandoned: it was still open after the code that opened it yielded (an await inside a write transaction?)');
    });
  }

  /** Replaces a table's state in this transaction. */
  put(name: string, st: TableState<unknown>): void {
    this.mutable.set(name, st);
  }

  /** New owner token: later writes copy nodes instead of editing ones a reader may be iterating. */
  freeze(): void {
    this.owner = {};
  }

  commit(): ReadTxn {
    if (this.closed) throw new TransactionClosedError(this.closed);
    const committed = this.db.commitTxn(this);
    this.release('committed');
    return new ReadTxnImpl(committed);
  }

  abort(): void {
    if (!this.closed) this.release('aborted');
  }

  [Symbol.dispose](): void {
    this.abort();
  }

  private release(why: string): void {
    this.closed = why;
    this.db.unlock(this.locked);
  }
}

function emptyState<T>(): TableState<T> {
  return { revision: 0, primary: PMap.empty(), secondary: new Map(), byRev: PMap.empty(), initPending: new Set() };
}

const NUL = '\0';

/** The database. One per hive (provided by the statedb cell). */
export class DB {
  /** @internal The committed state of every table. */
  root: States = new Map();
  private readonly tables = new Map<string, TableImpl<unknown>>();
  private readonly locks = new Set<string>();

  /** A consistent snapshot of every table. */
  readTxn(): ReadTxn {
    return new ReadTxnImpl(this.root);
  }

  /**
   * A write transaction locking `tables`. Writes are visible to this transaction only until commit().
   * Possible errors: TableLockedError when another open transaction holds one of the tables.
   */
  writeTxn(...tables: TableMeta[]): WriteTxn {
    const names = new Set(tables.map((t) => t.name));
    for (const n of names) if (this.locks.has(n)) throw new TableLockedError(n);
    for (const n of names) this.locks.add(n);
    return new WriteTxnImpl(this, names);
  }

  /** Runs `fn` in a write transaction: commits on return, aborts (leaving no trace) on throw. */
  update<R>(tables: TableMeta[], fn: (txn: WriteTxn) => R): R {
    const txn = this.writeTxn(...tables);
    try {
      const r = fn(txn);
      if (r instanceof Promise) throw new Error('db.update: the function must be synchronous');
      txn.commit();
      return r;
    } finally {
      txn.abort();
    }
  }

  /** Creates a table. Throws on a bad or duplicate name. */
  newTable<T>(def: TableDef<T>): RWTable<T> {
    if (!/^[a-z][a-z0-9_-]{0,30}$/.test(def.name)) throw new Error(`invalid table name ${JSON.stringify(def.name)}`);
    if (this.tables.has(def.name)) throw new Error(`table ${def.name} already exists`);
    if (!def.primary.unique) throw new Error(`table ${def.name}: the primary index must be unique`);
    const names = new Set([def.primary.name]);
    for (const s of def.secondary ?? []) {
      if (names.has(s.name)) throw new Error(`table ${def.name}: duplicate index ${s.name}`);
      names.add(s.name);
    }
    const t = new TableImpl<T>(this, def);
    this.tables.set(def.name, t as TableImpl<unknown>);
    return t;
  }

  /** Every table, for dumps. */
  allTables(): TableMeta[] {
    return [...this.tables.values()];
  }

  /** A table by name. */
  table(name: string): TableMeta | undefined {
    return this.tables.get(name);
  }

  /** @internal */
  unlock(names: ReadonlySet<string>): void {
    for (const n of names) this.locks.delete(n);
  }

  /** @internal Publishes a write transaction's states and notifies watchers after the commit. */
  commitTxn(txn: WriteTxnImpl): States {
    const next = new Map(this.root);
    const changed: TableImpl<unknown>[] = [];
    for (const name of txn.locked) {
      const st = txn.states.get(name);
      if (st && st !== this.root.get(name)) {
        next.set(name, st);
        changed.push(this.tables.get(name)!);
      }
    }
    this.root = next;
    for (const [t, dels] of txn.deletes) t.bury(dels);
    // Notify on a microtask after commit, never inside it, so subscribers cannot re-enter a half-done txn.
    for (const t of changed) asapScheduler.schedule(() => t.notify());
    return next;
  }
}

class TableImpl<T> implements RWTable<T> {
  readonly name: string;
  readonly header: readonly string[];
  private readonly indexes: ReadonlyMap<string, Index<T, unknown>>;
  private readonly secondaries: readonly Index<T, unknown>[];
  private readonly commits = new Subject<void>();
  private readonly graveyard: { rev: Revision; pk: Key; obj: T }[] = [];
  /** Deletions at or below this revision may have been dropped from the graveyard. */
  private compactedTo: Revision = 0;
  private readonly trackers = new Set<{ lastRev: Revision }>();
  private readonly retention: number;

  constructor(
    private readonly db: DB,
    private readonly def: TableDef<T>,
  ) {
    this.name = def.name;
    this.header = def.header ?? ['Key', 'Object'];
    this.indexes = new Map([def.primary, ...(def.secondary ?? [])].map((i) => [i.name, i]));
    this.secondaries = def.secondary ?? [];
    this.retention = def.graveyardRetention ?? 1024;
  }

  // --- reads ---------------------------------------------------------------------------------------

  private state(txn: ReadTxn): TableState<T> {
    const st = (txn as ReadTxnImpl).states.get(this.name) as TableState<T> | undefined;
    return st ?? emptyState<T>();
  }

  /** Reading inside a write txn hands out iterators over its maps: stop editing those nodes in place. */
  private reading(txn: ReadTxn): TableState<T> {
    if (txn instanceof WriteTxnImpl) txn.freeze();
    return this.state(txn);
  }

  private indexMap(st: TableState<T>, name: string): { map: PMap<Entry<T>>; unique: boolean } {
    if (name === this.def.primary.name) return { map: st.primary, unique: true };
    const idx = this.indexes.get(name);
    if (!idx) throw new Error(`table ${this.name} has no index ${name}`);
    return { map: st.secondary.get(name) ?? PMap.empty(), unique: idx.unique };
  }

  numObjects(txn: ReadTxn): number {
    return this.state(txn).primary.size;
  }
  revision(txn: ReadTxn): Revision {
    return this.state(txn).revision;
  }
  initialized(txn: ReadTxn): boolean {
    return this.state(txn).initPending.size === 0;
  }
  pendingInitializers(txn: ReadTxn): string[] {
    return [...this.state(txn).initPending];
  }

  getWithRevision(txn: ReadTxn, q: Query<T>): [T, Revision] | undefined {
    const { map, unique } = this.indexMap(this.state(txn), q.index);
    let e: Entry<T> | undefined;
    if (unique) e = map.get(q.key);
    else for (const [, first] of map.prefix(q.key + NUL)) return [first.obj, first.rev];
    return e ? [e.obj, e.rev] : undefined;
  }

  current(txn: ReadTxn, obj: T): [T, Revision] | undefined {
    const e = this.state(txn).primary.get(this.pk(obj));
    return e ? [e.obj, e.rev] : undefined;
  }

  primaryKey(obj: T): Key {
    return this.pk(obj);
  }

  get(txn: ReadTxn, q: Query<T>): T | undefined {
    return this.getWithRevision(txn, q)?.[0];
  }

  list(txn: ReadTxn, q: Query<T>): T[] {
    const { map, unique } = this.indexMap(this.reading(txn), q.index);
    if (unique) {
      const e = map.get(q.key);
      return e ? [e.obj] : [];
    }
    return [...map.prefix(q.key + NUL)].map(([, e]) => e.obj);
  }

  *all(txn: ReadTxn): Iterable<T> {
    for (const e of this.reading(txn).primary.values()) yield e.obj;
  }

  *allWithRevision(txn: ReadTxn): Iterable<[T, Revision]> {
    for (const e of this.reading(txn).primary.values()) yield [e.obj, e.rev];
  }

  *prefix(txn: ReadTxn, q: Query<T>): Iterable<T> {
    for (const [, e] of this.indexMap(this.reading(txn), q.index).map.prefix(q.key)) yield e.obj;
  }

  *lowerBound(txn: ReadTxn, q: Query<T>): Iterable<T> {
    for (const [, e] of this.indexMap(this.reading(txn), q.index).map.entries(q.key)) yield e.obj;
  }

  dump(txn: ReadTxn): { revision: Revision; object: unknown }[] {
    const toJSON = this.def.toJSON ?? ((o: T) => o);
    return [...this.allWithRevision(txn)].map(([o, rev]) => ({ revision: rev, object: toJSON(o) }));
  }

  rows(txn: ReadTxn): string[][] {
    const row = this.def.row ?? ((o: T) => [this.pk(o), JSON.stringify(this.def.toJSON ? this.def.toJSON(o) : o)]);
    return [...this.all(txn)].map(row);
  }

  watch(txn: ReadTxn): Observable<void> {
    const snap = this.state(txn).revision;
    return defer(() =>
      this.revision(this.db.readTxn()) > snap
        ? of(undefined).pipe(observeOn(asapScheduler))
        : this.commits.pipe(
            filter(() => this.revision(this.db.readTxn()) > snap),
            take(1),
          ),
    );
  }

  initialized$(): Observable<void> {
    return defer(() =>
      this.initialized(this.db.readTxn())
        ? of(undefined).pipe(observeOn(asapScheduler))
        : this.commits.pipe(
            filter(() => this.initialized(this.db.readTxn())),
            take(1),
          ),
    );
  }

  // --- changes -------------------------------------------------------------------------------------

  changes(txn: WriteTxn): ChangeIterator<T> {
    if (!(txn as WriteTxnImpl).locked.has(this.name)) throw new TableNotLockedError(this.name);
    return this.tracker(0, this.state(txn).revision);
  }

  private tracker(lastRev: Revision, deletesFrom: Revision): ChangeIterator<T> {
    const tr = { lastRev: Math.min(lastRev, deletesFrom) };
    let seen = lastRev;
    this.trackers.add(tr);
    return {
      next: (txn) => {
        const st = this.state(txn);
        const upto = st.revision;
        if (upto <= seen) return [];
        const out: Change<T>[] = [];
        for (const [, pk] of st.byRev.entries(keys.uint(seen + 1))) {
          const e = st.primary.get(pk)!;
          out.push({ object: e.obj, revision: e.rev, deleted: false });
        }
        const delFloor = Math.max(seen, deletesFrom);
        const dels = this.graveyard.filter((d) => d.rev > delFloor && d.rev <= upto);
        if (dels.length) {
          for (const d of dels) out.push({ object: d.obj, revision: d.rev, deleted: true });
          out.sort((a, b) => a.revision - b.revision);
        }
        seen = upto;
        tr.lastRev = upto;
        this.collectGarbage();
        return out;
      },
      close: () => {
        this.trackers.delete(tr);
        this.collectGarbage();
      },
    };
  }

  changes$(fromRevision?: Revision): Observable<Change<T>> {
    return new Observable<Change<T>>((sub) => {
      const current = this.revision(this.db.readTxn());
      if (fromRevision !== undefined && fromRevision < this.compactedTo) {
        sub.error(new RevisionCompactedError(this.name, fromRevision, this.compactedTo));
        return;
      }
      const it = fromRevision === undefined ? this.tracker(0, current) : this.tracker(fromRevision, fromRevision);
      const emit = (): void => {
        for (const c of it.next(this.db.readTxn())) {
          if (sub.closed) return;
          sub.next(c);
        }
      };
      const s = this.commits.subscribe(emit);
      asapScheduler.schedule(emit);
      return () => {
        s.unsubscribe();
        it.close();
      };
    });
  }

  /** @internal Records the deletions of a committed transaction. */
  bury(dels: { rev: Revision; pk: Key; obj: unknown }[]): void {
    for (const d of dels) this.graveyard.push(d as { rev: Revision; pk: Key; obj: T });
    this.collectGarbage();
  }

  /** @internal */
  notify(): void {
    this.commits.next();
  }

  private collectGarbage(): void {
    let low = Infinity;
    for (const t of this.trackers) low = Math.min(low, t.lastRev);
    let drop = 0;
    // Keep what live trackers still need and, beyond that, the `retention` most recent deletions.
    while (drop < this.graveyard.length && this.graveyard.length - drop > this.retention && this.graveyard[drop].rev <= low) drop++;
    if (drop) {
      this.compactedTo = this.graveyard[drop - 1].rev;
      this.graveyard.splice(0, drop);
    }
  }

  // --- writes --------------------------------------------------------------------------------------

  private writable(txn: WriteTxn): { w: WriteTxnImpl; st: TableState<T> } {
    const w = txn as WriteTxnImpl;
    if (w.closed) throw new TransactionClosedError(w.closed);
    if (!w.locked.has(this.name)) throw new TableNotLockedError(this.name);
    return { w, st: this.state(w) };
  }

  /**
   * The transaction's own copy of this table's state, created on its first write and then updated in place:
   * a bulk insert of N objects copies the state (and the secondary-index map) once, not N times. Safe
   * because the copy is only published at commit, after which the transaction is closed.
   */
  private working(w: WriteTxnImpl): Working<T> {
    const cur = this.state(w);
    if (w.working.has(cur)) return cur as Working<T>;
    const st: Working<T> = { revision: cur.revision, primary: cur.primary, secondary: new Map(cur.secondary), byRev: cur.byRev, initPending: cur.initPending };
    w.working.add(st);
    w.put(this.name, st);
    return st;
  }

  private pk(obj: T): Key {
    const ks = this.def.primary.fromObject(obj);
    if (ks.length !== 1) throw new Error(`table ${this.name}: primary index must yield exactly one key`);
    return ks[0];
  }

  insert(txn: WriteTxn, obj: T): T | undefined {
    const { w } = this.writable(txn);
    if (obj !== null && typeof obj === 'object') Object.freeze(obj);
    const pk = this.pk(obj);
    const st = this.working(w);
    const old = st.primary.get(pk);
    // Index keys and unique-index clashes first: a rejected insert must leave the state untouched.
    const secondaryKeys: [Index<T, unknown>, readonly Key[], readonly Key[]][] = [];
    for (const idx of this.secondaries) {
      const keysNew = idx.fromObject(obj);
      if (idx.unique) {
        const m = st.secondary.get(idx.name);
        for (const k of keysNew) {
          const clash = m?.get(k);
          if (clash && this.pk(clash.obj) !== pk) throw new Error(`table ${this.name}: unique index ${idx.name} already holds key ${JSON.stringify(k)}`);
        }
      }
      secondaryKeys.push([idx, old ? idx.fromObject(old.obj) : [], keysNew]);
    }
    const rev = st.revision + 1;
    const entry: Entry<T> = { obj, rev };
    const o = w.owner;
    if (old) st.byRev = st.byRev.delete(keys.uint(old.rev), o);
    st.byRev = st.byRev.set(keys.uint(rev), pk, o);
    for (const [idx, keysOld, keysNew] of secondaryKeys) {
      let m = st.secondary.get(idx.name) ?? PMap.empty<Entry<T>>();
      for (const k of keysOld) m = m.delete(idx.unique ? k : k + NUL + pk, o);
      for (const k of keysNew) m = m.set(idx.unique ? k : k + NUL + pk, entry, o);
      st.secondary.set(idx.name, m);
    }
    st.primary = st.primary.set(pk, entry, o);
    st.revision = rev;
    return old?.obj;
  }

  modify(txn: WriteTxn, obj: T, merge: (old: T, nu: T) => T): T | undefined {
    const { st } = this.writable(txn);
    const old = st.primary.get(this.pk(obj));
    return this.insert(txn, old ? merge(old.obj, obj) : obj);
  }

  compareAndSwap(txn: WriteTxn, rev: Revision, obj: T): T | undefined {
    const { st } = this.writable(txn);
    const cur = st.primary.get(this.pk(obj))?.rev ?? 0;
    if (cur !== rev) throw new RevisionMismatchError(this.name, rev, cur);
    return this.insert(txn, obj);
  }

  delete(txn: WriteTxn, obj: T): T | undefined {
    const { w } = this.writable(txn);
    const pk = this.pk(obj);
    const st = this.working(w);
    const old = st.primary.get(pk);
    if (!old) return undefined;
    const rev = st.revision + 1;
    const o = w.owner;
    for (const idx of this.secondaries) {
      let m = st.secondary.get(idx.name) ?? PMap.empty<Entry<T>>();
      for (const k of idx.fromObject(old.obj)) m = m.delete(idx.unique ? k : k + NUL + pk, o);
      st.secondary.set(idx.name, m);
    }
    st.primary = st.primary.delete(pk, o);
    st.byRev = st.byRev.delete(keys.uint(old.rev), o);
    st.revision = rev;
    const dels = w.deletes.get(this as TableImpl<unknown>) ?? [];
    dels.push({ rev, pk, obj: old.obj });
    w.deletes.set(this as TableImpl<unknown>, dels);
    return old.obj;
  }

  deleteAll(txn: WriteTxn): void {
    for (const o of [...this.all(txn)]) this.delete(txn, o);
  }

  registerInitializer(txn: WriteTxn, name: string): (txn: WriteTxn) => void {
    const st = this.working(this.writable(txn).w);
    st.initPending = new Set([...st.initPending, name]);
    return (done: WriteTxn) => {
      const st2 = this.working(this.writable(done).w);
      const pending = new Set(st2.initPending);
      pending.delete(name);
      st2.initPending = pending;
    };
  }

  toTable(): Table<T> {
    return this;
  }
}
