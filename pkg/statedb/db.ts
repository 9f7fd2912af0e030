// The in-memory transactional database: tables of immutable objects with a unique primary index,
// secondary indexes, per-table revisions, atomic multi-table write transactions, consistent read
// snapshots, change streams that include deletions, and "initialized" tracking.
//
// JavaScript is single-threaded, so a write transaction is atomic as long as it is not held across an
// await. That is enforced: a write transaction still open when the current microtask ends is aborted,
// and its later commit() throws. Read snapshots are persistent maps (part.ts) and may be held forever.

import { Observable, Subject, asapScheduler, defer, filter, observeOn, of, take } from 'rxjs';
import { type Owner, PMap } from './part.js';
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

/** An object as stored: with its revision and the keys it has in each secondary index. */
interface Entry<T> {
  readonly obj: T;
  readonly rev: Revision;
  /**
   * Per secondary index (in definition order), the keys this object is stored under in that index's
   * map (non-unique: key + '\0' + primary key). Kept so that replacing or deleting the object does
   * not compute its old keys again.
   */
  readonly skeys: readonly (readonly Key[])[];
}

interface TableState<T> {
  readonly revision: Revision;
  readonly primary: PMap<Entry<T>>;
  /** Per secondary index (in definition order): unique, key → entry; non-unique, key + '\0' + primary key → entry. */
  readonly secondary: readonly PMap<Entry<T>>[];
  /** Revision → the object written at that revision (only live objects: a replaced or deleted one leaves). */
  readonly byRev: PMap<Entry<T>, number>;
  readonly initPending: ReadonlySet<string>;
}

type States = ReadonlyMap<string, TableState<unknown>>;

/** A table state a write transaction owns and updates in place. */
type Working<T> = { -readonly [K in keyof TableState<T>]: TableState<T>[K] } & { secondary: PMap<Entry<T>>[] };

const NO_KEYS: readonly (readonly Key[])[] = [];

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
  /** Secondary index name → its position in `secondaries` (and in a state's `secondary`). */
  private readonly secondaryPos: ReadonlyMap<string, number>;
  /** The state of a table nobody wrote yet. */
  private readonly empty: TableState<T>;
  /** Scratch for PMap's previous-value result (one insert or delete at a time: JS is single-threaded). */
  private readonly prev: { value: Entry<T> | undefined } = { value: undefined };
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
    this.secondaryPos = new Map(this.secondaries.map((s, i) => [s.name, i]));
    this.empty = { revision: 0, primary: PMap.empty(), secondary: this.secondaries.map(() => PMap.empty()), byRev: PMap.empty(), initPending: new Set() };
    this.retention = def.graveyardRetention ?? 1024;
  }

  // --- reads ---------------------------------------------------------------------------------------

  private state(txn: ReadTxn): TableState<T> {
    const st = (txn as ReadTxnImpl).states.get(this.name) as TableState<T> | undefined;
    return st ?? this.empty;
  }

  /** Reading inside a write txn hands out iterators over its maps: stop editing those nodes in place. */
  private reading(txn: ReadTxn): TableState<T> {
    if (txn instanceof WriteTxnImpl) txn.freeze();
    return this.state(txn);
  }

  private indexMap(st: TableState<T>, name: string): { map: PMap<Entry<T>>; unique: boolean } {
    if (name === this.def.primary.name) return { map: st.primary, unique: true };
    const pos = this.secondaryPos.get(name);
    if (pos === undefined) throw new Error(`table ${this.name} has no index ${name}`);
    return { map: st.secondary[pos], unique: this.secondaries[pos].unique };
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

  /** The entry a query finds (the first by primary key for a non-unique index). */
  private find(txn: ReadTxn, q: Query<T>): Entry<T> | undefined {
    const st = this.state(txn);
    // The primary index first, without indexMap's result object: lookups by key are the common case.
    if (q.index === this.def.primary.name) return st.primary.get(q.key);
    const { map, unique } = this.indexMap(st, q.index);
    if (unique) return map.get(q.key);
    for (const [, first] of map.prefix(q.key + NUL)) return first;
    return undefined;
  }

  getWithRevision(txn: ReadTxn, q: Query<T>): [T, Revision] | undefined {
    const e = this.find(txn, q);
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
    return this.find(txn, q)?.obj;
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
        st.byRev.forEach((e) => out.push({ object: e.obj, revision: e.rev, deleted: false }), seen + 1);
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

  /** The transaction as ours, after checking that it is open and holds this table. */
  private writer(txn: WriteTxn): WriteTxnImpl {
    const w = txn as WriteTxnImpl;
    if (w.closed) throw new TransactionClosedError(w.closed);
    if (!w.locked.has(this.name)) throw new TableNotLockedError(this.name);
    return w;
  }

  /**
   * The transaction's own copy of this table's state, created on its first write and then updated in place:
   * a bulk insert of N objects copies the state (and the secondary-index list) once, not N times. Safe
   * because the copy is only published at commit, after which the transaction is closed.
   */
  private working(w: WriteTxnImpl): Working<T> {
    const cur = this.state(w);
    if (w.working.has(cur)) return cur as Working<T>;
    const st: Working<T> = { revision: cur.revision, primary: cur.primary, secondary: cur.secondary.slice(), byRev: cur.byRev, initPending: cur.initPending };
    w.working.add(st);
    w.put(this.name, st);
    return st;
  }

  private pk(obj: T): Key {
    const ks = this.def.primary.fromObject(obj);
    if (ks.length !== 1) throw new Error(`table ${this.name}: primary index must yield exactly one key`);
    return ks[0];
  }

  /** The keys `obj` goes under in each secondary index's map. */
  private secondaryKeys(obj: T, pk: Key): readonly (readonly Key[])[] {
    const n = this.secondaries.length;
    if (n === 0) return NO_KEYS;
    const out = new Array<readonly Key[]>(n);
    for (let i = 0; i < n; i++) {
      const idx = this.secondaries[i];
      const ks = idx.fromObject(obj);
      out[i] = idx.unique ? ks : ks.map((k) => k + NUL + pk);
    }
    return out;
  }

  insert(txn: WriteTxn, obj: T): T | undefined {
    return this.write(txn, obj, undefined);
  }

  /** insert, or with `expectRev` compareAndSwap: one walk down the primary tree either way. */
  private write(txn: WriteTxn, obj: T, expectRev: Revision | undefined): T | undefined {
    const w = this.writer(txn);
    if (obj !== null && typeof obj === 'object') Object.freeze(obj);
    const pk = this.pk(obj);
    const st = this.working(w);
    const o = w.owner;
    const rev = st.revision + 1;
    const entry: Entry<T> = { obj, rev, skeys: this.secondaryKeys(obj, pk) };
    // One walk down the primary tree sets the new entry and finds the old one.
    st.primary = st.primary.set(pk, entry, o, this.prev);
    const old = this.prev.value;
    this.prev.value = undefined;
    if (expectRev !== undefined && (old?.rev ?? 0) !== expectRev) {
      st.primary = old ? st.primary.set(pk, old, o) : st.primary.delete(pk, o);
      throw new RevisionMismatchError(this.name, expectRev, old?.rev ?? 0);
    }
    if (this.secondaries.length) {
      try {
        this.checkUnique(st, entry, old);
      } catch (err) {
        // A rejected insert leaves the state untouched.
        st.primary = old ? st.primary.set(pk, old, o) : st.primary.delete(pk, o);
        throw err;
      }
      for (let i = 0; i < this.secondaries.length; i++) {
        let m = st.secondary[i];
        const keysNew = entry.skeys[i];
        // Keys the object keeps are overwritten in place by the set below; only dropped ones are deleted.
        if (old) {
          const keysOld = old.skeys[i];
          for (let j = 0; j < keysOld.length; j++) if (!keysNew.includes(keysOld[j])) m = m.delete(keysOld[j], o);
        }
        for (let j = 0; j < keysNew.length; j++) m = m.set(keysNew[j], entry, o);
        st.secondary[i] = m;
      }
    }
    if (old) st.byRev = st.byRev.delete(old.rev, o);
    st.byRev = st.byRev.set(rev, entry, o);
    st.revision = rev;
    return old?.obj;
  }

  /** Throws when a unique secondary key of `entry` belongs to another object. */
  private checkUnique(st: TableState<T>, entry: Entry<T>, old: Entry<T> | undefined): void {
    for (let i = 0; i < this.secondaries.length; i++) {
      const idx = this.secondaries[i];
      if (!idx.unique) continue;
      const keys = entry.skeys[i];
      for (let j = 0; j < keys.length; j++) {
        const k = keys[j];
        if (old && old.skeys[i].includes(k)) continue;
        const clash = st.secondary[i].get(k);
        if (clash && clash !== old) throw new Error(`table ${this.name}: unique index ${idx.name} already holds key ${JSON.stringify(k)}`);
      }
    }
  }

  modify(txn: WriteTxn, obj: T, merge: (old: T, nu: T) => T): T | undefined {
    const st = this.state(this.writer(txn));
    const old = st.primary.get(this.pk(obj));
    return this.insert(txn, old ? merge(old.obj, obj) : obj);
  }

  compareAndSwap(txn: WriteTxn, rev: Revision, obj: T): T | undefined {
    return this.write(txn, obj, rev);
  }

  delete(txn: WriteTxn, obj: T): T | undefined {
    const w = this.writer(txn);
    const pk = this.pk(obj);
    const st = this.working(w);
    const o = w.owner;
    st.primary = st.primary.delete(pk, o, this.prev);
    const old = this.prev.value;
    this.prev.value = undefined;
    if (!old) return undefined;
    const rev = st.revision + 1;
    for (let i = 0; i < this.secondaries.length; i++) {
      let m = st.secondary[i];
      for (const k of old.skeys[i]) m = m.delete(k, o);
      st.secondary[i] = m;
    }
    st.byRev = st.byRev.delete(old.rev, o);
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
    const st = this.working(this.writer(txn));
    st.initPending = new Set([...st.initPending, name]);
    return (done: WriteTxn) => {
      const st2 = this.working(this.writer(done));
      const pending = new Set(st2.initPending);
      pending.delete(name);
      st2.initPending = pending;
    };
  }

  toTable(): Table<T> {
    return this;
  }
}
