import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, test } from 'node:test';
import { type Health, IHealth, IJobGroup, ILogger, type JobGroup, type Logger, invoke, module } from '../../hive/index.js';
import { testHive } from '../../hive/hivetest/hivetest.js';
import { type DB, IDB, type RWTable, type ReadTxn, type Revision, StateDBCell, stringIndex } from '../index.js';
import { type Operations, type Reconciler, type ReconcilerConfig, Status, registerReconciler } from './index.js';

interface Route {
  readonly prefix: string;
  readonly via: string;
  readonly status: Status;
}

/** A fake target: a map we can make fail on demand, recording every call. */
class FakeRoutes implements Operations<Route> {
  readonly target = new Map<string, string>();
  readonly calls: string[] = [];
  failing = new Set<string>();
  failDelete = new Set<string>();
  pruneFails = false;

  async update(_ctx: unknown, _txn: ReadTxn, _rev: Revision, r: Route): Promise<void> {
    this.calls.push(`update ${r.prefix}`);
    if (this.failing.has(r.prefix)) throw new Error(`cannot program ${r.prefix}`);
    this.target.set(r.prefix, r.via);
  }
  async delete(_ctx: unknown, _txn: ReadTxn, _rev: Revision, r: Route): Promise<void> {
    this.calls.push(`delete ${r.prefix}`);
    if (this.failDelete.has(r.prefix)) throw new Error(`cannot delete ${r.prefix}`);
    this.target.delete(r.prefix);
  }
  async prune(_ctx: unknown, _txn: ReadTxn, desired: Iterable<[Route, Revision]>): Promise<void> {
    this.calls.push('prune');
    if (this.pruneFails) throw new Error('prune failed');
    const keep = new Set([...desired].map(([r]) => r.prefix));
    for (const k of [...this.target.keys()]) if (!keep.has(k)) this.target.delete(k);
  }
}

async function setup(opts: Partial<ReconcilerConfig<Route>> = {}, initializer = false) {
  const ops = new FakeRoutes();
  let table!: RWTable<Route>;
  let db!: DB;
  let rec!: Reconciler;
  let health!: Health;
  let markInitialized: ((txn: import('../index.js').WriteTxn) => void) | undefined;
  const { hive } = testHive([
    StateDBCell,
    module(
      'routes',
      'Test routes',
      invoke('register', [IDB, IJobGroup, ILogger, IHealth], (d: DB, jobs: JobGroup, log: Logger, h: Health) => {
        db = d;
        health = h;
        table = d.newTable<Route>({ name: 'routes', primary: stringIndex('prefix', (r) => r.prefix) });
        if (initializer) markInitialized = d.update([table], (t) => table.registerInitializer(t, 'test'));
        rec = registerReconciler({ db: d, jobs, log, health: h }, {
          table,
          getStatus: (r) => r.status,
          setStatus: (r, status) => ({ ...r, status }),
          ops,
          retry: { minMs: 5, maxMs: 20 },
          ...opts,
        });
      }),
    ),
  ]);
  await hive.start();
  const put = (prefix: string, via: string): Revision =>
    db.update([table], (t) => {
      table.insert(t, { prefix, via, status: Status.pending() });
      return table.revision(t);
    });
  const del = (prefix: string): Revision =>
    db.update([table], (t) => {
      table.delete(t, { prefix, via: '', status: Status.pending() });
      return table.revision(t);
    });
  const status = (prefix: string) => table.get(db.readTxn(), { index: 'prefix', key: prefix })?.status;
  const until = async (cond: () => boolean, what: string) => {
    for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(cond(), `timed out waiting for ${what}`);
  };
  void health;
  return { hive, ops, put, del, status, rec, until, db, markInitialized: () => db.update([table], (t) => markInitialized!(t)), healthOf: () => hive.health.statuses.get('routes') };
}

describe('reconciler', () => {
  test('waits with a long-lived signal leave no abort listeners behind; an abort rejects a pending wait', async (t) => {
    const s = await setup();
    t.after(() => s.hive.stop());
    const ac = new AbortController();
    for (let i = 0; i < 20; i++) await s.rec.waitUntilReconciled(s.put(`10.${i}.0.0/16`, 'eth0'), ac.signal);
    assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
    const pending = s.rec.waitUntilReconciled(Number.MAX_SAFE_INTEGER, ac.signal);
    ac.abort(new Error('stopping'));
    await assert.rejects(pending, /stopping/);
    await assert.rejects(s.rec.waitUntilReconciled(Number.MAX_SAFE_INTEGER, ac.signal), /stopping/, 'an already aborted signal rejects at once');
  });

  test('applies changes incrementally and records Done', async (t) => {
    const s = await setup();
    t.after(() => s.hive.stop());
    const rev = s.put('10.0.0.0/8', 'eth0');
    s.put('10.1.0.0/16', 'eth1');
    await s.rec.waitUntilReconciled(rev + 1);
    assert.deepEqual([...s.ops.target.entries()].sort(), [['10.0.0.0/8', 'eth0'], ['10.1.0.0/16', 'eth1']]);
    await s.until(() => s.status('10.0.0.0/8')?.kind === 'Done', 'status Done');
    // A second identical round does nothing: Done objects are skipped.
    const before = s.ops.calls.length;
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(s.ops.calls.length, before);
    const del = s.del('10.1.0.0/16');
    await s.rec.waitUntilReconciled(del);
    assert.deepEqual([...s.ops.target.keys()], ['10.0.0.0/8']);
    assert.match(s.healthOf()?.message ?? '', /OK, 1 object/);
  });

  test('failures set an Error status and are retried with backoff until they succeed', async (t) => {
    const s = await setup();
    t.after(() => s.hive.stop());
    s.ops.failing.add('10.9.0.0/16');
    const rev = s.put('10.9.0.0/16', 'eth9');
    const res = await s.rec.waitUntilReconciled(rev);
    assert.ok(res.retryLowWatermark <= rev, 'the failed object is waiting for a retry');
    await s.until(() => s.status('10.9.0.0/16')?.kind === 'Error', 'Error status');
    assert.equal(s.status('10.9.0.0/16')?.error, 'cannot program 10.9.0.0/16');
    await s.until(() => s.ops.calls.filter((c) => c === 'update 10.9.0.0/16').length >= 3, 'retries');
    assert.equal(s.hive.health.statuses.get('routes')?.level, 'Degraded');
    assert.ok((s.rec.stats().errors) >= 3);
    s.ops.failing.clear();
    await s.until(() => s.status('10.9.0.0/16')?.kind === 'Done', 'recovery');
    assert.equal(s.ops.target.get('10.9.0.0/16'), 'eth9');
    await s.until(() => s.hive.health.statuses.get('routes')?.level === 'OK', 'health OK');
  });

  test('the retry low watermark names the revision of the change that failed, across retries', async (t) => {
    const s = await setup();
    t.after(() => s.hive.stop());
    const okRev = s.put('ok', 'eth0');
    s.ops.failing.add('bad');
    const badRev = s.put('bad', 'eth1');
    const res = await s.rec.waitUntilReconciled(badRev);
    // The Error status write has a later revision; a waiter for badRev must still see the failure.
    assert.equal(res.retryLowWatermark, badRev);
    // Nothing up to okRev failed.
    assert.ok((await s.rec.waitUntilReconciled(okRev)).retryLowWatermark > okRev);
    // Failed retries keep the revision of the original change.
    await s.until(() => s.ops.calls.filter((c) => c === 'update bad').length >= 3, 'retries');
    assert.equal((await s.rec.waitUntilReconciled(badRev)).retryLowWatermark, badRev);
    // A failed delete is reported at the deletion's revision.
    s.ops.failDelete.add('ok');
    const delRev = s.del('ok');
    assert.equal((await s.rec.waitUntilReconciled(delRev)).retryLowWatermark, badRev);
    s.ops.failing.clear();
    await s.until(() => s.status('bad')?.kind === 'Done', 'recovery of bad');
    assert.equal((await s.rec.waitUntilReconciled(delRev)).retryLowWatermark, delRev);
    s.ops.failDelete.clear();
    await s.until(() => !s.ops.target.has('ok'), 'delete retried');
    assert.equal((await s.rec.waitUntilReconciled(delRev)).retryLowWatermark, Infinity);
  });

  test('retry backoff grows exponentially between attempts', async (t) => {
    const s = await setup({ retry: { minMs: 20, maxMs: 80 } });
    t.after(() => s.hive.stop());
    s.ops.failing.add('x');
    const times: number[] = [];
    const orig = s.ops.update.bind(s.ops);
    s.ops.update = async (...args) => {
      times.push(performance.now());
      return orig(...args);
    };
    s.put('x', 'y');
    await s.until(() => times.length >= 4, '4 attempts');
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    // 20, 40, 80 ms nominal; each gap at least its nominal delay.
    assert.ok(gaps[0] >= 18 && gaps[1] >= 38 && gaps[2] >= 78, `gaps ${gaps.map(Math.round).join(',')}`);
  });

  test('a failed delete is retried', async (t) => {
    const s = await setup();
    t.after(() => s.hive.stop());
    await s.rec.waitUntilReconciled(s.put('a', '1'));
    s.ops.failDelete.add('a');
    s.del('a');
    await s.until(() => s.ops.calls.filter((c) => c === 'delete a').length >= 2, 'delete retried');
    s.ops.failDelete.clear();
    await s.until(() => !s.ops.target.has('a'), 'deleted');
  });

  test('prune removes what the table does not hold, only after the table is initialized', async (t) => {
    const s = await setup({}, true);
    t.after(() => s.hive.stop());
    s.ops.target.set('stale', 'leftover from a previous run');
    await s.rec.waitUntilReconciled(s.put('fresh', 'eth0'));
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(!s.ops.calls.includes('prune'), 'no prune before initialized');
    assert.ok(s.ops.target.has('stale'));
    s.markInitialized();
    await s.until(() => s.ops.calls.includes('prune'), 'prune');
    assert.deepEqual([...s.ops.target.keys()], ['fresh']);
    // Explicit prune requests are honoured too.
    s.ops.target.set('again', 'x');
    s.rec.prune();
    await s.until(() => !s.ops.target.has('again'), 'second prune');
  });

  test('a failed prune marks health degraded and is retried with backoff', async (t) => {
    const s = await setup();
    t.after(() => s.hive.stop());
    s.ops.pruneFails = true;
    s.rec.prune();
    await s.until(() => s.rec.stats().pruneErrors >= 1, 'prune error');
    assert.equal(s.hive.health.statuses.get('routes')?.level, 'Degraded');
    // A round that succeeds does not hide the failed prune.
    await s.rec.waitUntilReconciled(s.put('r', 'eth0'));
    assert.equal(s.hive.health.statuses.get('routes')?.level, 'Degraded');
    // A transient failure heals without waiting for the next prune interval (1 h by default).
    s.ops.target.set('stale', 'x');
    s.ops.pruneFails = false;
    await s.until(() => s.rec.stats().prunes >= 1 && !s.ops.target.has('stale'), 'retried prune');
    assert.equal(s.hive.health.statuses.get('routes')?.level, 'OK');
  });

  test('refresh re-applies objects that have been Done for longer than the interval', async (t) => {
    const s = await setup({ refreshIntervalMs: 30 });
    t.after(() => s.hive.stop());
    await s.rec.waitUntilReconciled(s.put('r', 'eth0'));
    s.ops.target.set('r', 'tampered');
    await s.until(() => s.ops.target.get('r') === 'eth0', 'refresh repairs drift');
  });
});
