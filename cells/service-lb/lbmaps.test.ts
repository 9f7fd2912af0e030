// BpfLbMaps and ServiceMapOps on the real LB maps of bpf_lxc.o (loaded into a private bpffs
// directory): batched writes and deletes, Maglev inner tables, source ranges, affinity pruning, and
// the reconciler's update/delete/prune being idempotent and exact.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, beforeEach, describe, test } from 'node:test';
import { type LoadedLxcDatapath, loadLxcDatapath } from '../../pkg/datapath/index.js';
import { DB } from '../../pkg/statedb/index.js';
import { Status } from '../../pkg/statedb/reconciler/index.js';
import { BpfLbMaps, backendEntries, reverseNatEntries, serviceEntries } from './lbmaps.js';
import { ServiceMapOps } from './ops.js';
import { newBackendsTable } from './tables.js';
import type { LbBackend, LbService } from './types.js';

const PIN_ROOT = `/sys/fs/bpf/cilia-test-ts-lbmaps-${process.pid}`;
const TCP = 6;
const ctx = { signal: new AbortController().signal };

function row(name: string, port: number, revNat: number, backends: [number, string, LbService['backends'][number]['state']?][], extra: Partial<LbService> = {}): LbService {
  return {
    key: `default/${name}`, name, namespace: 'default', source: 'api', backendSource: 'explicit',
    frontends: [{ address: '10.96.32.1', port, protocol: 'TCP', portName: '', revNat }],
    backends: backends.map(([id, address, state]) => ({ id, address, port: 8080, protocol: 'TCP', portName: '', weight: 1, state: state ?? 'active' })),
    sourceRanges: [], trafficPolicy: 'Cluster', algorithm: 'random', status: Status.pending(), ...extra,
  };
}

describe('LB maps on the kernel', { timeout: 60_000 }, () => {
  let dp: LoadedLxcDatapath;
  let maps: BpfLbMaps;
  before(() => {
    dp = loadLxcDatapath({ pinRoot: PIN_ROOT, config: { maglevTableSize: 251 } });
    maps = new BpfLbMaps(() => dp.maps);
  });
  after(() => {
    dp?.close();
    fs.rmSync(PIN_ROOT, { recursive: true, force: true });
  });
  beforeEach(() => {
    for (const m of [dp.maps.lb4Services, dp.maps.lb4Backends, dp.maps.lb4ReverseNat, dp.maps.lb4SourceRange, dp.maps.lb4Maglev, dp.maps.lb4Affinity]) m.clear();
  });

  test('batched writes and deletes; deleting absent entries is skipped, not an error', { timeout: 10_000 }, () => {
    const backends = Array.from({ length: 3000 }, (_, i) => [i + 1, { address: `10.244.32.${i % 250}`, port: 1000 + i, proto: TCP, flags: 0 }] as const);
    const batch = backendEntries();
    for (const [id, b] of backends) batch.add(id, b);
    maps.putBackends(batch);
    assert.equal(maps.readBackends().length, 3000);
    assert.deepEqual(dp.maps.lb4Backends.get(1234), backends[1233][1]);
    assert.equal(maps.deleteBackends([5, 99999, 6, 88888, 7]), 3, 'three existed');
    assert.equal(maps.readBackends().length, 2997);
    maps.putSourceRanges([{ prefixlen: 32 + 24, rev_nat_id: 1, addr: '10.244.32.0' }, { prefixlen: 32 + 32, rev_nat_id: 2, addr: '10.244.32.7' }]);
    assert.deepEqual(maps.readSourceRanges().map((k) => `${k.rev_nat_id}|${k.addr}/${k.prefixlen - 32}`).sort(), ['1|10.244.32.0/24', '2|10.244.32.7/32']);
    assert.equal(maps.deleteSourceRanges([{ prefixlen: 32 + 24, rev_nat_id: 1, addr: '10.244.32.0' }, { prefixlen: 33, rev_nat_id: 9, addr: '10.0.0.0' }]), 1);
  });

  test('a batch is encoded as added, grows, replaces in place, decodes back, and must match the map', { timeout: 10_000 }, () => {
    const batch = serviceEntries(1);
    const key = { address: '10.96.32.20', dport: 80, backend_slot: 0, proto: TCP, scope: 0 };
    const value = { backend_id: 0, count: 3, rev_nat_index: 20, flags: 0, flags2: 0 };
    batch.add(key, value);
    // The same scratch objects, changed: the batch keeps what they held when added.
    for (let slot = 1; slot <= 3; slot++) {
      key.backend_slot = slot;
      value.backend_id = 100 + slot;
      value.count = 0;
      batch.add(key, value);
    }
    assert.throws(() => batch.add({ ...key, address: 'nope' }, value), /not an IPv4 address/);
    assert.equal(batch.length, 4, 'a refused entry is not added');
    batch.replace(3, { ...key, backend_slot: 3 }, { ...value, backend_id: 999 });
    assert.throws(() => batch.replace(4, key, value), RangeError);
    assert.deepEqual(batch.entries().map(([k, v]) => `${k.backend_slot}=${v.backend_id}/${v.count}`), ['0=0/3', '1=101/0', '2=102/0', '3=999/0']);
    maps.putServices(batch);
    assert.deepEqual(maps.readServices().map(([k, v]) => `${k.backend_slot}=${v.backend_id}`).sort(), ['0=0', '1=101', '2=102', '3=999']);
    // A batch for another map is refused (its entries would be garbage there); an empty one writes nothing.
    assert.throws(() => maps.putBackends(batch as unknown as ReturnType<typeof backendEntries>), /the batch's entries are struct lb4_key/);
    maps.putBackends(backendEntries());
  });

  test('a Maglev table is swapped in whole, read back, and deleted', { timeout: 10_000 }, () => {
    const table = Uint32Array.from({ length: 251 }, (_, i) => 1 + (i % 3));
    maps.putMaglev(7, table);
    assert.deepEqual(maps.readMaglevTable(7), table);
    const next = Uint32Array.from({ length: 251 }, () => 9);
    maps.putMaglev(7, next);
    assert.deepEqual(maps.readMaglevTable(7), next);
    assert.deepEqual(maps.readMaglev().map(([r]) => r), [7]);
    assert.equal(maps.deleteMaglev([7, 8]), 1);
    assert.equal(maps.readMaglevTable(7), undefined);
  });

  test('affinity entries of rev-NAT indexes no service has are pruned', { timeout: 10_000 }, () => {
    for (const r of [1, 2, 3]) dp.maps.lb4Affinity.put({ client_id: 42n, rev_nat_id: r, netns_cookie: 0 }, { last_used: 1n, backend_id: 1 });
    assert.equal(maps.pruneAffinity((r) => r === 2), 2);
    assert.deepEqual([...dp.maps.lb4Affinity.keys()].map((k) => k.rev_nat_id), [2]);
  });

  test('ServiceMapOps: update is idempotent, shrinks exactly, delete and prune leave nothing behind', { timeout: 10_000 }, async () => {
    const db = new DB();
    const backendsTable = newBackendsTable(db);
    const setBackends = (list: [number, string][]) =>
      db.update([backendsTable], (txn) => {
        backendsTable.deleteAll(txn);
        for (const [id, address] of list) backendsTable.insert(txn, { key: `${address}:8080/TCP`, id, address, port: 8080, protocol: 'TCP', states: { active: 1, terminating: 0, quarantined: 0, maintenance: 0 } } satisfies LbBackend);
      });
    const ops = new ServiceMapOps(maps, backendsTable, () => ({ localNodeName: 'n', maglevTableSize: 251 }));
    const snapshot = () => JSON.stringify([maps.readServices().map(([k, v]) => [k, v]).sort(), maps.readBackends().sort(), maps.readReverseNat().sort(), maps.readMaglev().map(([r]) => r)]);

    const svc = row('a', 80, 11, [[1, '10.244.32.1'], [2, '10.244.32.2'], [3, '10.244.32.3']], { algorithm: 'maglev', sourceRanges: ['10.244.32.0/24'] });
    setBackends([[1, '10.244.32.1'], [2, '10.244.32.2'], [3, '10.244.32.3']]);
    await ops.update(ctx, db.readTxn(), 1, svc);
    const first = snapshot();
    assert.equal(dp.maps.lb4Services.get({ address: '10.96.32.1', dport: 80, backend_slot: 0, proto: TCP, scope: 0 })?.count, 3);
    assert.equal(maps.readMaglevTable(11)?.length, 251);
    await ops.update(ctx, db.readTxn(), 2, svc);
    assert.equal(snapshot(), first, 'a second update changes nothing');

    // Down to one backend, no Maglev, no source ranges: the extra slots, table and ranges go.
    const small = row('a', 80, 11, [[2, '10.244.32.2']]);
    setBackends([[2, '10.244.32.2']]);
    await ops.update(ctx, db.readTxn(), 3, small);
    assert.deepEqual(maps.readServices().map(([k]) => k.backend_slot).sort(), [0, 1]);
    assert.deepEqual(maps.readBackends().map(([id]) => id), [2]);
    assert.deepEqual(maps.readMaglev(), []);
    assert.deepEqual(maps.readSourceRanges(), []);

    setBackends([]);
    await ops.delete(ctx, db.readTxn(), 4, small);
    assert.equal(snapshot(), JSON.stringify([[], [], [], []]));

    // Prune: entries nothing asks for (left by an earlier run) go; what a row wants stays.
    const kept = row('b', 81, 12, [[5, '10.244.32.5']]);
    setBackends([[5, '10.244.32.5']]);
    await ops.update(ctx, db.readTxn(), 5, kept);
    const leftover = serviceEntries();
    leftover.add({ address: '10.96.32.9', dport: 99, backend_slot: 0, proto: TCP, scope: 0 }, { backend_id: 0, count: 0, rev_nat_index: 99, flags: 0, flags2: 0 });
    maps.putServices(leftover);
    const rn = reverseNatEntries();
    rn.add(99, { address: '10.96.32.9', port: 99 });
    maps.putReverseNat(rn);
    const be = backendEntries();
    be.add(77, { address: '10.244.32.77', port: 1, proto: TCP, flags: 0 });
    maps.putBackends(be);
    maps.putMaglev(99, new Uint32Array(251));
    await ops.prune(ctx, db.readTxn(), [[kept, 5]]);
    assert.deepEqual(maps.readServices().map(([k]) => `${k.address}:${k.dport}#${k.backend_slot}`).sort(), ['10.96.32.1:81#0', '10.96.32.1:81#1']);
    assert.deepEqual(maps.readReverseNat().map(([r]) => r), [12]);
    assert.deepEqual(maps.readBackends().map(([id]) => id), [5]);
    assert.deepEqual(maps.readMaglev(), []);
  });
});
