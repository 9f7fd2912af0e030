// Types of the generic reconciler: desired state in a table, side effects in Operations.

import type { Health, JobGroup, Logger } from '../../hive/index.js';
import type { DB } from '../db.js';
import type { RWTable, ReadTxn, Revision } from '../types.js';

/** Where an object stands with respect to its target. */
export type StatusKind = 'Pending' | 'Refreshing' | 'Done' | 'Error';

/** Reconciliation status, stored inside each object and written back by the reconciler. */
export interface Status {
  readonly kind: StatusKind;
  /** Epoch milliseconds. */
  readonly updatedAt: number;
  readonly error?: string;
}

/** Constructors of statuses. Producers insert objects with `Status.pending()`. */
export const Status = {
  pending: (): Status => ({ kind: 'Pending', updatedAt: Date.now() }),
  refreshing: (): Status => ({ kind: 'Refreshing', updatedAt: Date.now() }),
  done: (): Status => ({ kind: 'Done', updatedAt: Date.now() }),
  error: (err: unknown): Status => ({ kind: 'Error', updatedAt: Date.now(), error: err instanceof Error ? err.message : String(err) }),
};

/** Passed to operations: aborted when the reconciler stops. */
export interface OpContext {
  readonly signal: AbortSignal;
}

/**
 * The side effects of a reconciler. Implementations must be idempotent: `update` of an object already
 * in place does nothing harmful; `delete` of something missing succeeds.
 */
export interface Operations<T> {
  /** Makes the target match `obj` (a new object or a change, or a refresh of an old one). */
  update(ctx: OpContext, txn: ReadTxn, rev: Revision, obj: T): Promise<void>;
  /** Removes `obj` (the last version before its deletion) from the target. */
  delete(ctx: OpContext, txn: ReadTxn, rev: Revision, obj: T): Promise<void>;
  /** Removes from the target everything `desired` does not hold. Called only once the table is initialized. */
  prune(ctx: OpContext, txn: ReadTxn, desired: Iterable<[T, Revision]>): Promise<void>;
}

/** Optional batch form of update/delete: each entry's `error` is set on failure. */
export interface BatchOperations<T> {
  updateBatch(ctx: OpContext, txn: ReadTxn, batch: BatchEntry<T>[]): Promise<void>;
  deleteBatch(ctx: OpContext, txn: ReadTxn, batch: BatchEntry<T>[]): Promise<void>;
}

/** One object of a batch and its outcome. */
export interface BatchEntry<T> {
  readonly object: T;
  readonly revision: Revision;
  error?: unknown;
}

/** What a reconciler needs from its module. */
export interface ReconcilerParams {
  readonly db: DB;
  readonly jobs: JobGroup;
  readonly log: Logger;
  readonly health: Health;
}

/** How to reconcile one table. Defaults follow cilium/statedb's reconciler. */
export interface ReconcilerConfig<T> {
  readonly table: RWTable<T>;
  /** Name of the job and health scope (default: the table name). */
  readonly name?: string;
  readonly getStatus: (o: T) => Status;
  /** Returns a NEW object with the status set (objects in tables are frozen). */
  readonly setStatus: (o: T, s: Status) => T;
  readonly ops: Operations<T>;
  readonly batchOps?: BatchOperations<T>;
  /** Full prune period after the table is initialized. Default 1 h; 0 = only the initial prune and explicit prune(). */
  readonly pruneIntervalMs?: number;
  /** Objects Done for longer than this are re-marked Refreshing and updated again. Default 30 min; 0 = off. */
  readonly refreshIntervalMs?: number;
  /** Per-object retry backoff after an error. Default 100 ms → 60 s, exponential. */
  readonly retry?: { readonly minMs: number; readonly maxMs: number };
  /** Objects processed before statuses are committed. Default 1000. */
  readonly roundSize?: number;
}

/** Counters and durations, for metrics and `cilia status`. */
export interface ReconcilerStats {
  rounds: number;
  updates: number;
  deletes: number;
  errors: number;
  /** Objects currently waiting for a retry after an error. */
  currentErrors: number;
  prunes: number;
  pruneErrors: number;
  lastRoundMs: number;
  totalUpdateMs: number;
  totalDeleteMs: number;
  lastPruneMs: number;
}

/** A registered reconciler. */
export interface Reconciler {
  /** Asks for a prune soon (coalesced). */
  prune(): void;
  /**
   * Resolves once every change up to `rev` has been processed (successfully or not). `retryLowWatermark`
   * is the lowest revision still waiting for a retry (Infinity when none): when it is ≤ `rev`, some
   * object up to `rev` failed.
   */
  waitUntilReconciled(rev: Revision, signal?: AbortSignal): Promise<{ revision: Revision; retryLowWatermark: Revision }>;
  /** A snapshot of the counters. */
  stats(): ReconcilerStats;
}
