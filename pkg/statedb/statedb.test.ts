import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { firstValueFrom, take, toArray } from 'rxjs';
import { DB, PMap, RevisionCompactedError, TableLockedError, TableNotLockedError, TransactionClosedError, index, keys, stringIndex } from './index.js';

interface Pod {
  readonly name: string;
  readonly node: string;
  readonly ip: string;
  readonly labels?: readonly string[];
}

function podTable(db: DB, retention?: number) {
  return db.newTable<Pod>({
    name: 'pods',
    primary: stringIndex('name', (p) => p.name),
    secondary: [
      index({ name: 'node', unique: false, key: (p: Pod) => p.node, encode: keys.str }),
      index({ name: 'ip', unique: true, key: (p: Pod) => p.ip, encode: keys.ipv4 }),
      index({ name: 'label', unique: false, key: (p: Pod) => p.labels ?? [], encode: keys.str }),
    ],
    graveyardRetention: retention,
  });
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('PMap (persistent B+tree)', () => {
  test('agrees with a Map under random operations and keeps old versions intact', () => {
    let pm = PMap.empty<number>();
    const ref = new Map<string, number>();
    const versions: [PMap<number>, [string, number][]][] = [];
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed);
    for (let i = 0; i < 3000; i++) {
      const k = `k${rnd() % 500}`;
      if (rnd() % 3 === 0) {
        pm = pm.delete(k);
        ref.delete(k);
      } else {
        pm = pm.set(k, i);
        ref.set(k, i);
      }
      if (i % 500 === 0) versions.push([pm, [...ref.entries()].sort(([a], [b]) => (a < b ? -1 : 1))]);
    }
    assert.equal(pm.size, ref.size);
    assert.deepEqual([...pm.entries()], [...ref.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
    for (const [v, expected] of versions) assert.deepEqual([...v.entries()], expected);
  });

  test('deep trees: splits, merges and snapshots with thousands of keys', () => {
    // 20,000 keys make a tree three levels deep; deleting most of them merges nodes back.
    const owner = {};
    let pm = PMap.empty<number>();
    const keysOf = (n: number) => Array.from({ length: n }, (_, i) => `key-${String((i * 7919) % n).padStart(6, '0')}`);
    const all = keysOf(20_000);
    for (const [i, k] of all.entries()) pm = pm.set(k, i, owner);
    const full = pm;
    const sorted = [...all].sort();
    assert.equal(full.size, 20_000);
    assert.deepEqual([...full.entries()].map(([k]) => k), sorted);
    // Deletes with a new owner leave the full snapshot intact.
    const owner2 = {};
    for (const [i, k] of all.entries()) if (i % 10 !== 0) pm = pm.delete(k, owner2);
    assert.equal(pm.size, 2_000);
    assert.deepEqual([...pm.entries()].map(([k]) => k), all.filter((_, i) => i % 10 === 0).sort());
    assert.deepEqual([...full.entries()].map(([k]) => k), sorted);
    assert.equal(full.get(all[1]), 1);
    assert.equal(pm.get(all[1]), undefined);
    assert.equal(pm.get(all[10]), 10);
    // Lower bound from between keys, across node boundaries.
    assert.deepEqual([...full.entries('key-010000x')].slice(0, 2).map(([k]) => k), ['key-010001', 'key-010002']);
    // forEach visits what entries yields, from any key.
    for (const from of [undefined, 'key-010000x', 'key-000000', 'key-019999', 'zzz']) {
      const seen: string[] = [];
      full.forEach((_, k) => seen.push(k), from);
      assert.deepEqual(seen, [...full.entries(from)].map(([k]) => k), `from ${from}`);
    }
    // Numeric keys order numerically.
    let nm = PMap.empty<string, number>();
    for (let i = 1000; i > 0; i--) nm = nm.set(i, `v${i}`);
    assert.deepEqual([...nm.entries(998)].map(([k]) => k), [998, 999, 1000]);
    for (let i = 1; i <= 1000; i++) nm = nm.delete(i);
    assert.equal(nm.size, 0);
    assert.deepEqual([...nm.entries()], []);
  });

  test('set and delete report the previous value', () => {
    const prev: { value: number | undefined } = { value: undefined };
    let pm = PMap.empty<number>().set('a', 1, {}, prev);
    assert.equal(prev.value, undefined);
    pm = pm.set('a', 2, {}, prev);
    assert.equal(prev.value, 1);
    pm = pm.delete('a', {}, prev);
    assert.equal(prev.value, 2);
    assert.equal(pm.delete('a', {}, prev), pm);
    assert.equal(prev.value, undefined);
  });

  test('lower bound and prefix iteration', () => {
    let pm = PMap.empty<string>();
    for (const k of ['b', 'ab', 'aa', 'c', 'abc']) pm = pm.set(k, k.toUpperCase());
    assert.deepEqual([...pm.entries('ab')].map(([k]) => k), ['ab', 'abc', 'b', 'c']);
    assert.deepEqual([...pm.prefix('ab')].map(([k]) => k), ['ab', 'abc']);
    assert.deepEqual([...pm.entries('zz')], []);
  });

  test('transient owner edits in place without touching snapshots taken before', () => {
    const owner = {};
    const base = PMap.empty<number>().set('a', 1).set('b', 2);
    let m = base.set('c', 3, owner);
    m = m.set('c', 4, owner).set('a', 10, owner);
    assert.deepEqual([...base.entries()], [['a', 1], ['b', 2]]);
    assert.deepEqual([...m.entries()], [['a', 10], ['b', 2], ['c', 4]]);
  });
});

describe('statedb tables', () => {
  test('primary and secondary indexes, unique and not', () => {
    const db = new DB();
    const pods = podTable(db);
    db.update([pods], (txn) => {
      pods.insert(txn, { name: 'a', node: 'n1', ip: '10.0.0.1', labels: ['app=web', 'tier=fe'] });
      pods.insert(txn, { name: 'b', node: 'n1', ip: '10.0.0.2', labels: ['app=web'] });
      pods.insert(txn, { name: 'c', node: 'n2', ip: '10.0.0.10' });
    });
    const txn = db.readTxn();
    const byName = stringIndex<Pod>('name', (p) => p.name);
    assert.equal(pods.get(txn, byName.query('b'))?.ip, '10.0.0.2');
    assert.deepEqual(pods.list(txn, { index: 'node', key: 'n1' }).map((p) => p.name), ['a', 'b']);
    assert.deepEqual(pods.list(txn, { index: 'label', key: 'app=web' }).map((p) => p.name), ['a', 'b']);
    assert.equal(pods.get(txn, { index: 'ip', key: keys.ipv4('10.0.0.10') })?.name, 'c');
    // Numeric order of IPs, not string order: 10.0.0.2 < 10.0.0.10.
    assert.deepEqual([...pods.lowerBound(txn, { index: 'ip', key: keys.ipv4('10.0.0.2') })].map((p) => p.name), ['b', 'c']);
    // Moving a pod updates its secondary keys.
    db.update([pods], (t) => pods.insert(t, { name: 'a', node: 'n2', ip: '10.0.0.1' }));
    assert.deepEqual(pods.list(db.readTxn(), { index: 'node', key: 'n2' }).map((p) => p.name), ['a', 'c']);
    assert.deepEqual(pods.list(db.readTxn(), { index: 'label', key: 'app=web' }).map((p) => p.name), ['b']);
    // A unique secondary key held by another object is an error (and the txn leaves no trace).
    assert.throws(() => db.update([pods], (t) => pods.insert(t, { name: 'd', node: 'n1', ip: '10.0.0.2' })), /unique index ip already holds/);
    assert.equal(pods.numObjects(db.readTxn()), 3);
  });

  test('every write bumps the revision, stored with the object', () => {
    const db = new DB();
    const pods = podTable(db);
    const q = stringIndex<Pod>('name', (p) => p.name).query('a');
    db.update([pods], (t) => pods.insert(t, { name: 'a', node: 'n1', ip: '10.0.0.1' }));
    assert.equal(pods.getWithRevision(db.readTxn(), q)?.[1], 1);
    db.update([pods], (t) => pods.insert(t, { name: 'b', node: 'n1', ip: '10.0.0.2' }));
    db.update([pods], (t) => pods.insert(t, { name: 'a', node: 'n3', ip: '10.0.0.1' }));
    assert.equal(pods.getWithRevision(db.readTxn(), q)?.[1], 3);
    db.update([pods], (t) => pods.delete(t, { name: 'b', node: '', ip: '0.0.0.0' }));
    assert.equal(pods.revision(db.readTxn()), 4);
    // compareAndSwap only writes over the expected revision.
    assert.throws(() => db.update([pods], (t) => pods.compareAndSwap(t, 1, { name: 'a', node: 'x', ip: '10.0.0.1' })), /expected revision 1, found 3/);
    db.update([pods], (t) => pods.compareAndSwap(t, 3, { name: 'a', node: 'x', ip: '10.0.0.1' }));
    assert.equal(pods.get(db.readTxn(), q)?.node, 'x');
    // Inserted objects are frozen: mutate a copy, never what a query returned.
    assert.ok(Object.isFrozen(pods.get(db.readTxn(), q)));
  });

  test('write transactions over several tables commit atomically or not at all', () => {
    const db = new DB();
    const pods = podTable(db);
    const nodes = db.newTable<{ name: string }>({ name: 'nodes', primary: stringIndex('name', (n) => n.name) });
    assert.throws(() =>
      db.update([pods, nodes], (t) => {
        nodes.insert(t, { name: 'n1' });
        pods.insert(t, { name: 'a', node: 'n1', ip: '10.0.0.1' });
        throw new Error('changed my mind');
      }),
    );
    const r = db.readTxn();
    assert.equal(pods.numObjects(r), 0);
    assert.equal(nodes.numObjects(r), 0);
    assert.equal(pods.revision(r), 0);
    db.update([pods, nodes], (t) => {
      nodes.insert(t, { name: 'n1' });
      pods.insert(t, { name: 'a', node: 'n1', ip: '10.0.0.1' });
    });
    assert.equal(pods.numObjects(db.readTxn()) + nodes.numObjects(db.readTxn()), 2);
  });

  test('reads see a consistent snapshot; a write txn sees its own writes', () => {
    const db = new DB();
    const pods = podTable(db);
    db.update([pods], (t) => pods.insert(t, { name: 'a', node: 'n1', ip: '10.0.0.1' }));
    const before = db.readTxn();
    const w = db.writeTxn(pods);
    pods.insert(w, { name: 'b', node: 'n1', ip: '10.0.0.2' });
    assert.equal(pods.numObjects(w), 2);
    assert.equal(pods.numObjects(db.readTxn()), 1, 'uncommitted writes are invisible');
    w.commit();
    assert.equal(pods.numObjects(before), 1, 'old snapshots never change');
    assert.equal(pods.numObjects(db.readTxn()), 2);
  });

  test('writes need the table locked; a table is locked by one txn at a time', () => {
    const db = new DB();
    const pods = podTable(db);
    const other = db.newTable<{ name: string }>({ name: 'other', primary: stringIndex('name', (n) => n.name) });
    const w = db.writeTxn(other);
    assert.throws(() => pods.insert(w, { name: 'a', node: 'n', ip: '1.1.1.1' }), TableNotLockedError);
    assert.throws(() => db.writeTxn(other), TableLockedError);
    w.abort();
    db.writeTxn(other).abort();
  });

  test('a write transaction held across an await is aborted and cannot commit', async () => {
    const db = new DB();
    const pods = podTable(db);
    const w = db.writeTxn(pods);
    pods.insert(w, { name: 'a', node: 'n', ip: '1.1.1.1' });
    await tick();
    assert.throws(() => w.commit(), TransactionClosedError);
    assert.equal(pods.numObjects(db.readTxn()), 0);
    db.writeTxn(pods).abort(); // and the lock was released
  });

  test('watch fires once after a commit that changes the table', async () => {
    const db = new DB();
    const pods = podTable(db);
    const snap = db.readTxn();
    let fired = 0;
    pods.watch(snap).subscribe(() => fired++);
    await tick();
    assert.equal(fired, 0);
    db.update([pods], (t) => pods.insert(t, { name: 'a', node: 'n', ip: '1.1.1.1' }));
    assert.equal(fired, 0, 'notifications come after commit, never inside it');
    await tick();
    db.update([pods], (t) => pods.insert(t, { name: 'b', node: 'n', ip: '1.1.1.2' }));
    await tick();
    assert.equal(fired, 1);
    // Watching an old snapshot fires at once.
    assert.equal(await firstValueFrom(pods.watch(snap)), undefined);
  });

  test('change iterators see current objects, then changes including deletions', () => {
    const db = new DB();
    const pods = podTable(db);
    db.update([pods], (t) => {
      pods.insert(t, { name: 'a', node: 'n', ip: '1.1.1.1' });
      pods.insert(t, { name: 'b', node: 'n', ip: '1.1.1.2' });
    });
    const it = db.update([pods], (t) => pods.changes(t));
    const first = it.next(db.readTxn());
    assert.deepEqual(first.map((c) => [c.object.name, c.revision, c.deleted]), [['a', 1, false], ['b', 2, false]]);
    db.update([pods], (t) => {
      pods.insert(t, { name: 'c', node: 'n', ip: '1.1.1.3' }); // 3
      pods.delete(t, { name: 'a', node: '', ip: '0.0.0.0' }); // 4
      pods.insert(t, { name: 'b', node: 'm', ip: '1.1.1.2' }); // 5
      pods.insert(t, { name: 'tmp', node: 'n', ip: '1.1.1.9' }); // 6
      pods.delete(t, { name: 'tmp', node: '', ip: '0.0.0.0' }); // 7: created and deleted before observed
    });
    const second = it.next(db.readTxn());
    assert.deepEqual(second.map((c) => [c.object.name, c.revision, c.deleted]), [['c', 3, false], ['a', 4, true], ['b', 5, false], ['tmp', 7, true]]);
    assert.deepEqual(it.next(db.readTxn()), []);
    it.close();
  });

  test('changes$ resumes from a revision, including deletions, and reports compaction', async () => {
    const db = new DB();
    const pods = podTable(db, 2);
    db.update([pods], (t) => pods.insert(t, { name: 'a', node: 'n', ip: '1.1.1.1' })); // 1
    db.update([pods], (t) => pods.insert(t, { name: 'b', node: 'n', ip: '1.1.1.2' })); // 2
    db.update([pods], (t) => pods.delete(t, { name: 'a', node: '', ip: '0.0.0.0' })); // 3
    const resumed = await firstValueFrom(pods.changes$(1).pipe(take(2), toArray()));
    assert.deepEqual(resumed.map((c) => [c.object.name, c.revision, c.deleted]), [['b', 2, false], ['a', 3, true]]);
    // A live subscriber sees later commits too.
    const live: string[] = [];
    const sub = pods.changes$().subscribe((c) => live.push(`${c.object.name}@${c.revision}${c.deleted ? '-' : ''}`));
    await tick();
    db.update([pods], (t) => pods.delete(t, { name: 'b', node: '', ip: '0.0.0.0' })); // 4
    await tick();
    sub.unsubscribe();
    assert.deepEqual(live, ['b@2', 'b@4-']);
    // With a retention of 2 deletions and no live iterators, older deletions are compacted away.
    for (let i = 0; i < 3; i++) {
      db.update([pods], (t) => pods.insert(t, { name: `x${i}`, node: 'n', ip: `1.1.2.${i}` }));
      db.update([pods], (t) => pods.delete(t, { name: `x${i}`, node: '', ip: '0.0.0.0' }));
    }
    await assert.rejects(firstValueFrom(pods.changes$(1)), RevisionCompactedError);
  });

  test('initializers gate "initialized"', async () => {
    const db = new DB();
    const pods = podTable(db);
    const done = db.update([pods], (t) => pods.registerInitializer(t, 'k8s-pods'));
    assert.equal(pods.initialized(db.readTxn()), false);
    assert.deepEqual(pods.pendingInitializers(db.readTxn()), ['k8s-pods']);
    const init = firstValueFrom(pods.initialized$());
    db.update([pods], (t) => done(t));
    await init;
    assert.equal(pods.initialized(db.readTxn()), true);
  });

  test('tables dump as JSON with revisions', () => {
    const db = new DB();
    const pods = podTable(db);
    db.update([pods], (t) => pods.insert(t, { name: 'a', node: 'n', ip: '1.1.1.1' }));
    assert.deepEqual(db.table('pods')!.dump(db.readTxn()), [{ revision: 1, object: { name: 'a', node: 'n', ip: '1.1.1.1' } }]);
    assert.throws(() => db.newTable({ name: 'pods', primary: stringIndex('x', (o: Pod) => o.name) }), /already exists/);
  });
});
