// Public types of pkg/statedb: tables, indexes, transactions, changes.

import type { Observable } from 'rxjs';

/** Per-table revision: +1 on every insert or delete in that table. Each object carries the revision of its last write. */
export type Revision = number;

/** An index key: strings compare in byte order, so encoders must keep the order they want (see keys.ts). */
export type Key = string;

/** A query against one index of a table. */
export interface Query<T> {
  readonly index: string;
  readonly key: Key;
  /** Phantom, ties the query to its table's object type. */
  readonly __t?: T;
}

/** An index over objects of type T, looked up by values of type K. */
export interface Index<T, K> {
  readonly name: string;
  /** Unique indexes map a key to at most one object; the primary index must be unique. */
  readonly unique: boolean;
  /** The keys of an object under this index (exactly one for the primary index). */
  fromObject(o: T): readonly Key[];
  /** Encodes a lookup value into a key. */
  fromKey(k: K): Key;
  /** A query for `k`. */
  query(k: K): Query<T>;
}

/** A consistent, immutable snapshot of the database. */
export interface ReadTxn {
  readonly kind: 'read' | 'write';
}

/** A write transaction over some tables. Commit or abort it before the next await. */
export interface WriteTxn extends ReadTxn {
  /** Makes the writes visible atomically, notifies watchers, and returns a read snapshot of the result. */
  commit(): ReadTxn;
  /** Discards every write. Safe to call after commit (no-op). */
  abort(): void;
  [Symbol.dispose](): void;
}

/** One change seen by a change iterator or `changes$`. */
export interface Change<T> {
  readonly object: T;
  readonly revision: Revision;
  readonly deleted: boolean;
}

/** Read-only metadata of a table. */
export interface TableMeta {
  readonly name: string;
  /** Number of objects in the snapshot. */
  numObjects(txn: ReadTxn): number;
  /** The table's revision in the snapshot. */
  revision(txn: ReadTxn): Revision;
  /** True when every registered initializer is done (the table holds its complete desired state). */
  initialized(txn: ReadTxn): boolean;
  /** Pending initializer names. */
  pendingInitializers(txn: ReadTxn): string[];
  /** The objects as JSON-able values, in primary-key order (for the API and `cilia statedb`). */
  dump(txn: ReadTxn): { revision: Revision; object: unknown }[];
  /** Column names for `cilia statedb` table output. */
  readonly header: readonly string[];
  /** One row per object (matching `header`), in primary-key order, for table output. */
  rows(txn: ReadTxn): string[][];
}

/** Read access to a table. */
export interface Table<T> extends TableMeta {
  /** The object matching a unique query, or undefined. */
  get(txn: ReadTxn, q: Query<T>): T | undefined;
  /** The object and its revision. */
  getWithRevision(txn: ReadTxn, q: Query<T>): [T, Revision] | undefined;
  /** The current version of `obj` (found by its primary key) and its revision. */
  current(txn: ReadTxn, obj: T): [T, Revision] | undefined;
  /** The primary key of an object. */
  primaryKey(obj: T): Key;
  /** Every object matching the query (any index), in key order. */
  list(txn: ReadTxn, q: Query<T>): T[];
  /** Every object in primary-key order. */
  all(txn: ReadTxn): Iterable<T>;
  /** Every object with its revision. */
  allWithRevision(txn: ReadTxn): Iterable<[T, Revision]>;
  /** Objects whose key in `q.index` starts with `q.key`. */
  prefix(txn: ReadTxn, q: Query<T>): Iterable<T>;
  /** Objects whose key in `q.index` is ≥ `q.key`, in key order. */
  lowerBound(txn: ReadTxn, q: Query<T>): Iterable<T>;
  /** Emits once (then completes) when the table changes after the snapshot `txn`. */
  watch(txn: ReadTxn): Observable<void>;
  /** Emits once (then completes) when the table becomes initialized (at once if it is). */
  initialized$(): Observable<void>;
  /**
   * A change iterator: the first `next()` yields every current object, later ones what changed since
   * (deletions included). Registering needs a write transaction so no deletion can slip in between.
   */
  changes(txn: WriteTxn): ChangeIterator<T>;
  /**
   * A stream of changes. Without `fromRevision`: the current objects, then every change. With it: every
   * change (deletions included) after that revision, so a consumer can resume where it stopped. Errors
   * with RevisionCompactedError when deletions after `fromRevision` are no longer retained.
   */
  changes$(fromRevision?: Revision): Observable<Change<T>>;
}

/** Write access to a table; kept private by the owning cell, which provides `toTable()` to others. */
export interface RWTable<T> extends Table<T> {
  /**
   * Inserts or replaces the object with the same primary key; returns the replaced object.
   * Possible errors: TableNotLockedError, TransactionClosedError. Objects are frozen: clone, then insert.
   */
  insert(txn: WriteTxn, obj: T): T | undefined;
  /** Inserts, or merges with the existing object via `merge(old, new)`. Returns the replaced object. */
  modify(txn: WriteTxn, obj: T, merge: (old: T, nu: T) => T): T | undefined;
  /** Inserts only if the current object's revision is `rev` (0 = must not exist). Throws RevisionMismatchError. */
  compareAndSwap(txn: WriteTxn, rev: Revision, obj: T): T | undefined;
  /** Deletes the object with obj's primary key; returns it, or undefined if absent. */
  delete(txn: WriteTxn, obj: T): T | undefined;
  /** Deletes every object. */
  deleteAll(txn: WriteTxn): void;
  /** Registers a source that must finish its initial sync; call the returned function (in a write txn) when done. */
  registerInitializer(txn: WriteTxn, name: string): (txn: WriteTxn) => void;
  /** The read-only view, for other cells. */
  toTable(): Table<T>;
}

/** See `Table.changes`. */
export interface ChangeIterator<T> {
  /** The changes since the previous call, in revision order (only the latest state per object). */
  next(txn: ReadTxn): Change<T>[];
  /** Stops tracking deletions for this iterator. */
  close(): void;
}
