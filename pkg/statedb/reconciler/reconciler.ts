// The reconciler loop: one job per table that waits for a table change, a due retry, a prune or a
// refresh; processes changed objects incrementally (Pending/Refreshing → update, deletion → delete);
// writes statuses back in a separate write transaction (dropping results for objects that changed
// meanwhile); retries failures per object with exponential backoff; and prunes the target once the
// table is initialized and then periodically. Like cilium/statedb, the periodic "full" reconciliation is
// split into prune (remove what is not desired) and refresh (re-apply what is), so a full pass never
// blocks incremental changes for long.

import { backoffDelay, oneShot } from '../../hive/index.js';
import { RevisionMismatchError } from '../db.js';
import type { ChangeIterator, ReadTxn, Revision } from '../types.js';
import {
  type BatchEntry,
  type OpContext,
  type Reconciler,
  type ReconcilerConfig,
  type ReconcilerParams,
  type ReconcilerStats,
  Status,
} from './types.js';

interface Retry<T> {
  attempt: number;
  due: number;
  /** Revision of the version to retry (for an update: its Error status write). */
  revision: Revision;
  /**
   * Revision of the change that first failed (an insert, update or delete). A waiter for that revision
   * must learn of the failure, so the low watermark is taken over these, not over `revision`.
   */
  origin: Revision;
  deleted: boolean;
  object: T;
}

/** An object of a round and its outcome (a BatchEntry, so batches are passed as they are). */
interface Result<T> extends BatchEntry<T> {
  error?: unknown;
}

/**
 * Registers a reconciler for `cfg.table` as a job of the calling module. Call it from an invoke (or a
 * constructor): the job starts with the hive and stops before the module's stop hooks.
 */
export function registerReconciler<T>(p: ReconcilerParams, cfg: ReconcilerConfig<T>): Reconciler {
  const name = cfg.name ?? cfg.table.name;
  const retryCfg = cfg.retry ?? { minMs: 100, maxMs: 60_000 };
  const pruneInterval = cfg.pruneIntervalMs ?? 3_600_000;
  const refreshInterval = cfg.refreshIntervalMs ?? 1_800_000;
  const roundSize = cfg.roundSize ?? 1000;
  const table = cfg.table;
  const log = p.log.with({ reconciler: name });

  const stats: ReconcilerStats = {
    rounds: 0,
    updates: 0,
    deletes: 0,
    errors: 0,
    currentErrors: 0,
    prunes: 0,
    pruneErrors: 0,
    lastRoundMs: 0,
    totalUpdateMs: 0,
    totalDeleteMs: 0,
    lastPruneMs: 0,
  };
  const retries = new Map<string, Retry<T>>();
  let processedRev = 0;
  let pruneRequested = false;
  /** Failed prunes in a row; a failed prune is retried with the retry backoff, not only at the next interval. */
  let pruneFailures = 0;
  let pruneRetryAt = Infinity;
  let pruneError: unknown;

  /** Health: degraded while objects wait for a retry or the last prune failed, else OK. */
  const reportHealth = (txn: ReadTxn): void => {
    if (retries.size) {
      const sample = [...retries.values()].find((r) => !r.deleted);
      p.health.degraded(`${retries.size} error(s)`, sample ? cfg.getStatus(sample.object).error : 'delete failed');
    } else if (pruneFailures) {
      p.health.degraded('prune failed', pruneError);
    } else {
      p.health.ok(`OK, ${table.numObjects(txn)} object(s)`);
    }
  };
  let wake: (() => void) | undefined;
  const waiters: { rev: Revision; resolve: (r: { revision: Revision; retryLowWatermark: Revision }) => void }[] = [];

  const lowWatermark = (): Revision => {
    let low = Infinity;
    for (const r of retries.values()) low = Math.min(low, r.origin);
    return low;
  };
  const settleWaiters = (): void => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].rev <= processedRev) {
        waiters[i].resolve({ revision: processedRev, retryLowWatermark: lowWatermark() });
        waiters.splice(i, 1);
      }
    }
  };

  const runUpdates = async (ctx: OpContext, txn: ReadTxn, batch: Result<T>[]): Promise<void> => {
    const t0 = performance.now();
    if (cfg.batchOps && batch.length > 1) {
      await cfg.batchOps.updateBatch(ctx, txn, batch);
    } else {
      for (const b of batch) {
        try {
          await cfg.ops.update(ctx, txn, b.revision, b.object);
        } catch (err) {
          b.error = err;
        }
      }
    }
    stats.updates += batch.length;
    stats.totalUpdateMs += performance.now() - t0;
  };

  const runDeletes = async (ctx: OpContext, txn: ReadTxn, batch: Result<T>[]): Promise<void> => {
    const t0 = performance.now();
    if (cfg.batchOps && batch.length > 1) {
      await cfg.batchOps.deleteBatch(ctx, txn, batch);
    } else {
      for (const b of batch) {
        try {
          await cfg.ops.delete(ctx, txn, b.revision, b.object);
        } catch (err) {
          b.error = err;
        }
      }
    }
    stats.deletes += batch.length;
    stats.totalDeleteMs += performance.now() - t0;
  };

  /** Writes statuses for objects that have not changed since we processed them; schedules retries. */
  const commitStatuses = (updated: Result<T>[], deleted: Result<T>[]): void => {
    const now = Date.now();
    for (const d of deleted) {
      const key = table.primaryKey(d.object);
      if (d.error === undefined) {
        if (retries.get(key)?.deleted) retries.delete(key);
        continue;
      }
      stats.errors++;
      const prev = retries.get(key);
      const attempt = prev ? prev.attempt + 1 : 0;
      const origin = prev?.deleted ? prev.origin : d.revision;
      retries.set(key, { attempt, due: now + backoffDelay(retryCfg, attempt), revision: d.revision, origin, deleted: true, object: d.object });
      log.warn('delete failed, will retry', { key, attempt, error: d.error });
    }
    if (!updated.length) return;
    // One Done status for the whole round (objects are immutable, so they can share it).
    const done = Status.done();
    const txn = p.db.writeTxn(table);
    try {
      for (let i = 0; i < updated.length; i++) {
        const u = updated[i];
        // The object is still at the revision processed, or it changed meanwhile and the new version is
        // reconciled next round. (Same revision, same object: the status goes onto u.object.)
        const next = cfg.setStatus(u.object, u.error === undefined ? done : Status.error(u.error));
        try {
          table.compareAndSwap(txn, u.revision, next);
        } catch (err) {
          if (err instanceof RevisionMismatchError) continue;
          throw err;
        }
        if (u.error === undefined) {
          if (retries.size) retries.delete(table.primaryKey(u.object));
        } else {
          const key = table.primaryKey(u.object);
          stats.errors++;
          const prev = retries.get(key);
          const again = prev !== undefined && !prev.deleted;
          const attempt = again ? prev.attempt + 1 : 0;
          // The status write gave the object a new revision; the retry tracks that one, and remembers
          // the revision of the change that failed for waiters.
          retries.set(key, { attempt, due: now + backoffDelay(retryCfg, attempt), revision: table.revision(txn), origin: again ? prev.origin : u.revision, deleted: false, object: next });
          log.warn('update failed, will retry', { key, attempt, error: u.error });
        }
      }
      txn.commit();
    } finally {
      txn.abort();
    }
  };

  /** One incremental round over the changes since the previous round, plus due retries. Returns the snapshot it consumed. */
  const round = async (ctx: OpContext, iter: ChangeIterator<T>): Promise<ReadTxn> => {
    const t0 = performance.now();
    const txn = p.db.readTxn();
    const changes = iter.next(txn);
    const now = Date.now();
    let updated: Result<T>[] = [];
    let deleted: Result<T>[] = [];
    const flush = async (): Promise<void> => {
      if (deleted.length) await runDeletes(ctx, txn, deleted);
      if (updated.length) await runUpdates(ctx, txn, updated);
      commitStatuses(updated, deleted);
      updated = [];
      deleted = [];
    };
    for (let i = 0; i < changes.length; i++) {
      const c = changes[i];
      if (ctx.signal.aborted) return txn;
      // A new version of an object supersedes its pending retry (a failed delete stays queued).
      if (c.deleted) {
        if (retries.size) {
          const key = table.primaryKey(c.object);
          if (retries.get(key)?.deleted === false) retries.delete(key);
        }
        deleted.push({ object: c.object, revision: c.revision });
      } else {
        const kind = cfg.getStatus(c.object).kind;
        if (kind !== 'Pending' && kind !== 'Refreshing') continue; // Done, or Error waiting in the retry queue
        if (retries.size) retries.delete(table.primaryKey(c.object));
        updated.push({ object: c.object, revision: c.revision });
      }
      if (updated.length + deleted.length >= roundSize) await flush();
    }
    // Due retries: re-read the current version so a retry never applies stale state.
    for (const [key, r] of retries.size ? [...retries] : []) {
      if (r.due > now || ctx.signal.aborted) continue;
      if (r.deleted) {
        deleted.push({ object: r.object, revision: r.revision });
        continue;
      }
      const cur = table.current(txn, r.object);
      if (!cur) {
        retries.delete(key);
        continue;
      }
      if (cur[1] === r.revision) updated.push({ object: cur[0], revision: cur[1] });
    }
    await flush();
    processedRev = Math.max(processedRev, table.revision(txn));
    stats.rounds++;
    stats.lastRoundMs = performance.now() - t0;
    stats.currentErrors = retries.size;
    reportHealth(txn);
    settleWaiters();
    return txn;
  };

  const doPrune = async (ctx: OpContext): Promise<void> => {
    const t0 = performance.now();
    const txn = p.db.readTxn();
    try {
      await cfg.ops.prune(ctx, txn, table.allWithRevision(txn));
      stats.prunes++;
      pruneFailures = 0;
      pruneRetryAt = Infinity;
      pruneError = undefined;
    } catch (err) {
      stats.pruneErrors++;
      pruneRetryAt = Date.now() + backoffDelay(retryCfg, pruneFailures++);
      pruneError = err;
      log.warn('prune failed, will retry', { error: err, attempt: pruneFailures });
    }
    reportHealth(txn);
    stats.lastPruneMs = performance.now() - t0;
  };

  /** Re-marks objects that have been Done for longer than the refresh interval, so they are updated again. */
  const doRefresh = (): void => {
    const cutoff = Date.now() - refreshInterval;
    const txn = p.db.writeTxn(table);
    try {
      let n = 0;
      for (const o of table.all(txn)) {
        const s = cfg.getStatus(o);
        if (s.kind === 'Done' && s.updatedAt < cutoff) {
          table.insert(txn, cfg.setStatus(o, Status.refreshing()));
          if (++n >= roundSize) break; // rate limit: the rest are refreshed next time
        }
      }
      txn.commit();
    } finally {
      txn.abort();
    }
  };

  p.jobs.add(
    oneShot(
      `reconcile-${name}`,
      async (signal) => {
        const ctx: OpContext = { signal };
        const iter = p.db.update([table], (txn) => table.changes(txn));
        let initialized = false;
        let lastPrune = 0;
        let lastRefresh = Date.now();
        try {
          while (!signal.aborted) {
            // Changes committed while the round awaited its operations come after `consumed`, so
            // watching from it cannot miss them (our own status writes cost one cheap extra round).
            const consumed = await round(ctx, iter);
            if (signal.aborted) break;
            const now = Date.now();
            if (!initialized && table.initialized(p.db.readTxn())) {
              initialized = true;
              pruneRequested = true; // the first prune, right after the table holds its full desired state
            }
            if (initialized && (pruneRequested || now >= pruneRetryAt || (pruneInterval > 0 && now - lastPrune >= pruneInterval))) {
              pruneRequested = false;
              lastPrune = now;
              await doPrune(ctx);
            }
            if (refreshInterval > 0 && now - lastRefresh >= Math.min(refreshInterval, 60_000)) {
              lastRefresh = now;
              doRefresh();
            }
            // Wait for: a table change after `snap` or our own status writes, a retry falling due, a
            // prune request or the table becoming initialized, the next prune/refresh, or stop.
            const nextRetry = Math.min(...[...retries.values()].map((r) => r.due));
            const timers = [nextRetry - Date.now(), pruneRetryAt - Date.now()];
            if (initialized && pruneInterval > 0) timers.push(lastPrune + pruneInterval - Date.now());
            if (refreshInterval > 0) timers.push(lastRefresh + Math.min(refreshInterval, 60_000) - Date.now());
            const delay = Math.max(0, Math.min(...timers.filter((t) => Number.isFinite(t))));
            await new Promise<void>((resolve) => {
              const subs = [
                table.watch(consumed).subscribe(() => done()),
                ...(initialized ? [] : [table.initialized$().subscribe(() => done())]),
              ];
              const t = Number.isFinite(delay) ? setTimeout(done, delay) : undefined;
              const onAbort = (): void => done();
              signal.addEventListener('abort', onAbort, { once: true });
              wake = done;
              function done(): void {
                for (const s of subs) s.unsubscribe();
                clearTimeout(t);
                signal.removeEventListener('abort', onAbort);
                wake = undefined;
                resolve();
              }
              if (pruneRequested && initialized) done();
            });
          }
        } finally {
          iter.close();
        }
      },
      { retry: -1, backoff: retryCfg },
    ),
  );

  return {
    prune() {
      pruneRequested = true;
      wake?.();
    },
    waitUntilReconciled(rev, signal) {
      if (processedRev >= rev) return Promise.resolve({ revision: processedRev, retryLowWatermark: lowWatermark() });
      return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        const onAbort = (): void => {
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1);
          reject(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'));
        };
        // A long-lived signal (a job's) sees many waits: each removes its listener when it resolves.
        const w = {
          rev,
          resolve: (r: { revision: Revision; retryLowWatermark: Revision }) => {
            signal?.removeEventListener('abort', onAbort);
            resolve(r);
          },
        };
        waiters.push(w);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    stats: () => ({ ...stats }),
  };
}
