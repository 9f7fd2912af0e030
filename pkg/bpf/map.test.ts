import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { asCodec, bytes, ipv4, mac, pad, struct, u16, u32, u32Codec, u64, u64Codec, u8 } from './codec.js';
import { MapBatch, deleteBatch, updateBatch } from './batch.js';
import { BpfError } from './errors.js';
import { BpfMap, MapType, PinnedMapMismatchError } from './map.js';
import { isPinned, numPossibleCpus } from './pin.js';
import { scratchPinRoot } from './testenv.js';

const endpointKey = struct('endpoint_key', { ip4: ipv4, family: u8, key: u8, cluster_id: u16 });
const endpointInfo = struct('endpoint_info', { ifindex: u32, unused: u16, lxc_id: u16, flags: u32, mac, node_mac: mac, pad: pad(4) });
const lpmKey = struct('lpm_v4_key', { prefixlen: u32, addr: ipv4 });
const counters = struct('counters', { packets: u64, bytes: u64 });

/** Every map made in a test, closed in `after` even when the test fails. */
const opened: BpfMap<unknown, unknown>[] = [];
function track<K, V>(m: BpfMap<K, V>): BpfMap<K, V> {
  opened.push(m);
  return m;
}

describe('BpfMap', () => {
  let pins: ReturnType<typeof scratchPinRoot>;
  before(() => { pins = scratchPinRoot(); });
  after(() => {
    for (const m of opened) m.close();
    pins.remove();
  });

  test('hash: put/get/delete with struct keys and values, flags, errors', { timeout: 15_000 }, () => {
    const m = track(BpfMap.create({ type: MapType.Hash, name: 'cb_lxc', key: endpointKey, value: endpointInfo, maxEntries: 4 }));
    const k = { ip4: '10.244.251.10', family: 1, key: 0, cluster_id: 0 };
    const v = { ifindex: 7, unused: 0, lxc_id: 42, flags: 1, mac: '02:00:00:00:00:01', node_mac: '02:00:00:00:00:02' };
    assert.equal(m.get(k), undefined);
    m.put(k, v);
    assert.deepEqual(m.get(k), v);
    assert.throws(() => m.put(k, v, 'noexist'),
      (e: unknown) => e instanceof BpfError && e.code === 'EEXIST' && e.message === 'bpf_map_update_elem(cb_lxc): EEXIST (File exists)');
    m.put(k, { ...v, lxc_id: 43 }, 'exist');
    assert.equal(m.get(k)?.lxc_id, 43);
    assert.throws(() => m.put({ ...k, ip4: '10.244.251.11' }, v, 'exist'), /bpf_map_update_elem\(cb_lxc\): ENOENT/);
    for (let i = 11; i < 14; i++) m.put({ ...k, ip4: `10.244.251.${i}` }, v);
    assert.throws(() => m.put({ ...k, ip4: '10.244.251.99' }, v), (e: unknown) => e instanceof BpfError && e.code === 'E2BIG');
    assert.equal(m.delete(k), true);
    assert.equal(m.delete(k), false);
    assert.equal(m.info.type, MapType.Hash);
    assert.equal(m.info.name, 'cb_lxc');
    assert.equal(m.info.keySize, endpointKey.size);
    assert.equal(m.info.maxEntries, 4);
    assert.ok(m.info.id > 0);
  });

  test('hash: 10k entries iterate through batch lookup, then clear', { timeout: 30_000 }, () => {
    const m = track(BpfMap.create({ type: MapType.Hash, name: 'cb_big', key: u32Codec, value: u64Codec, maxEntries: 10_000 }));
    for (let i = 0; i < 10_000; i++) m.put(i, BigInt(i) * 3n);
    const seen = new Map<number, bigint>();
    for (const [k, v] of m.entries()) {
      assert.equal(seen.has(k), false, `key ${k} returned twice`);
      seen.set(k, v);
    }
    assert.equal(seen.size, 10_000);
    assert.equal(m.iterationMethod, 'batch');
    for (const [k, v] of seen) assert.equal(v, BigInt(k) * 3n);
    assert.equal([...m.keys()].length, 10_000);
    assert.equal(m.clear(), 10_000);
    assert.equal([...m.keys()].length, 0);
  });

  for (const batch of [true, false]) {
    test(`iteration survives deletes while it runs (${batch ? 'batch' : 'get_next_key'})`, { timeout: 30_000 }, () => {
    const hash = track(BpfMap.create({ type: MapType.Hash, name: 'cb_churn', key: u32Codec, value: u32Codec, maxEntries: 4096 }));
    const lpm = track(BpfMap.create({ type: MapType.LpmTrie, name: 'cb_lpm_churn', key: lpmKey, value: u32Codec, maxEntries: 512 }));
    for (let i = 0; i < 4000; i++) hash.put(i, i);
    for (let i = 0; i < 256; i++) lpm.put({ prefixlen: 32, addr: `10.244.251.${i}` }, i);
    for (const [m, total, keyOf] of [
      [hash, 4000, (k: unknown) => k as number],
      [lpm, 256, (k: unknown) => Number((k as { addr: string }).addr.split('.')[3])],
    ] as const) {
      const seen = new Set<number>();
      const deleted = new Set<number>();
      for (const [k] of (m as BpfMap<unknown, number>).entries({ batch })) {
        const id = keyOf(k);
        assert.equal(seen.has(id), false, `key ${id} returned twice`);
        seen.add(id);
        // Delete the key just returned (forces get_next_key to restart) and one not yet seen.
        if (id % 3 === 0) {
          (m as BpfMap<unknown, number>).delete(k);
          deleted.add(id);
        }
        const victim = (id * 7 + 1) % total;
        if (!seen.has(victim) && !deleted.has(victim)) {
          const victimKey = m === hash ? victim : { prefixlen: 32, addr: `10.244.251.${victim}` };
          if ((m as BpfMap<unknown, number>).delete(victimKey)) deleted.add(victim);
        }
      }
      // Everything that was never deleted before being reached must have been returned.
      for (let i = 0; i < total; i++) if (!deleted.has(i)) assert.ok(seen.has(i), `key ${i} was missed`);
      assert.equal(m.iterationMethod, batch ? 'batch' : 'next-key');
    }
    });
  }

  test('batches: one update of many entries, deletes that skip absent keys, a full map refuses the rest', { timeout: 15_000 }, () => {
    const m = track(BpfMap.create({ type: MapType.Hash, name: 'cb_batch', key: endpointKey, value: u32Codec, maxEntries: 1000 }));
    const key = { ip4: '10.244.251.0', family: 1, key: 0, cluster_id: 0 };
    const batch = new MapBatch(endpointKey, u32Codec, 1);
    for (let i = 0; i < 900; i++) {
      key.ip4 = `10.244.251.${i % 250}`;
      key.cluster_id = Math.floor(i / 250);
      batch.add(key, i);
    }
    updateBatch(m, batch);
    assert.equal([...m.keys()].length, 900);
    assert.equal(m.get({ ip4: '10.244.251.7', family: 1, key: 0, cluster_id: 3 }), 757);
    const gone = [{ ip4: '10.244.251.1', family: 1, key: 0, cluster_id: 0 }, { ip4: '10.244.251.1', family: 9, key: 0, cluster_id: 0 }, { ip4: '10.244.251.2', family: 1, key: 0, cluster_id: 0 }];
    assert.equal(deleteBatch(m, gone), 2, 'the absent key in the middle is skipped');
    assert.equal([...m.keys()].length, 898);
    const more = MapBatch.of(endpointKey, u32Codec, Array.from({ length: 200 }, (_, i) => [{ ip4: '10.244.251.9', family: 2, key: i, cluster_id: 0 }, i] as const));
    assert.throws(() => updateBatch(m, more), (e: unknown) => e instanceof BpfError && /bpf_map_update_batch\(cb_batch\)/.test(e.message) && /after 102 of 200/.test(e.message));
    assert.throws(() => updateBatch(m, new MapBatch(u32Codec, u32Codec) as unknown as typeof batch), /not the map's/);
  });

  test('LRU hash evicts instead of failing when full', { timeout: 15_000 }, () => {
    const m = track(BpfMap.create({ type: MapType.LruHash, name: 'cb_lru', key: u32Codec, value: u32Codec, maxEntries: 64 }));
    for (let i = 0; i < 1000; i++) m.put(i, i);
    const keys = [...m.keys()];
    assert.ok(keys.length > 0 && keys.length <= 64, `LRU holds ${keys.length}`);
    assert.equal(m.get(999), 999);
  });

  test('LPM trie: longest prefix wins; both iteration methods list the prefixes', { timeout: 15_000 }, () => {
    const m = track(BpfMap.create({ type: MapType.LpmTrie, name: 'cb_lpm', key: lpmKey, value: u32Codec, maxEntries: 16 }));
    m.put({ prefixlen: 16, addr: '10.244.0.0' }, 16);
    m.put({ prefixlen: 24, addr: '10.244.251.0' }, 24);
    assert.equal(m.get({ prefixlen: 32, addr: '10.244.251.7' }), 24);
    assert.equal(m.get({ prefixlen: 32, addr: '10.244.7.7' }), 16);
    assert.equal(m.get({ prefixlen: 32, addr: '10.245.0.1' }), undefined);
    for (const batch of [true, false]) {
      assert.deepEqual(new Map([...m.entries({ batch })].map(([k, v]) => [`${k.addr}/${k.prefixlen}`, v])),
        new Map([['10.244.0.0/16', 16], ['10.244.251.0/24', 24]]));
    }
    assert.equal(m.delete({ prefixlen: 24, addr: '10.244.251.0' }), true);
    assert.equal(m.clear(), 1);
  });

  test('array: every index exists, clear zeroes, delete is refused', { timeout: 15_000 }, () => {
    const m = track(BpfMap.create({ type: MapType.Array, name: 'cb_arr', key: u32Codec, value: counters, maxEntries: 8 }));
    m.put(3, { packets: 5n, bytes: 500n });
    const entries = [...m.entries()];
    assert.equal(entries.length, 8);
    assert.deepEqual(entries[3], [3, { packets: 5n, bytes: 500n }]);
    assert.deepEqual(m.get(0), { packets: 0n, bytes: 0n });
    assert.throws(() => m.put(8, { packets: 0n, bytes: 0n }), /bpf_map_update_elem\(cb_arr\): E2BIG|EINVAL/);
    assert.throws(() => m.delete(3), /bpf_map_delete_elem\(cb_arr\): EINVAL/);
    assert.equal(m.clear(), 8);
    assert.deepEqual(m.get(3), { packets: 0n, bytes: 0n });
  });

  test('per-CPU hash and array: one value per possible CPU, batch iteration', { timeout: 15_000 }, () => {
    const cpus = numPossibleCpus();
    const h = track(BpfMap.create({ type: MapType.PercpuHash, name: 'cb_pcpu', key: u32Codec, value: u32Codec, maxEntries: 16 }));
    assert.equal(h.perCpu, true);
    assert.equal(h.valueBufferSize, 8 * cpus); // 4-byte values padded to 8 per CPU
    const vals = Array.from({ length: cpus }, (_, c) => 100 + c);
    h.putPerCpu(1, vals);
    h.put(2, 7);
    assert.deepEqual(h.getPerCpu(1), vals);
    assert.deepEqual(h.getPerCpu(2), Array(cpus).fill(7));
    assert.equal(h.getPerCpu(3), undefined);
    assert.deepEqual(new Map(h.entriesPerCpu()), new Map([[1, vals], [2, Array(cpus).fill(7)]]));
    assert.throws(() => h.get(1), /per-CPU map .* use getPerCpu\(\)/);
    assert.throws(() => h.putPerCpu(1, [1]), /putPerCpu needs \d+ values/);

    const a = track(BpfMap.create({ type: MapType.PercpuArray, name: 'cb_parr', key: u32Codec, value: counters, maxEntries: 4 }));
    a.putPerCpu(2, Array.from({ length: cpus }, (_, c) => ({ packets: BigInt(c), bytes: 10n })));
    const all = [...a.entriesPerCpu()];
    assert.equal(all.length, 4);
    assert.deepEqual(all[2][1].map((v) => v.packets), Array.from({ length: cpus }, (_, c) => BigInt(c)));
  });

  test('pinned maps: open, codec size mismatch names the map, openOrCreatePinned', { timeout: 15_000 }, () => {
    const pinPath = `${pins.path}/cb_pinned`;
    const spec = { type: MapType.Hash, name: 'cb_pinned', key: u32Codec, value: u64Codec, maxEntries: 32, pinPath };
    const created = track(BpfMap.create(spec));
    created.put(1, 11n);
    assert.ok(isPinned(pinPath));

    const reopened = track(BpfMap.openPinned(pinPath, u32Codec, u64Codec));
    assert.equal(reopened.get(1), 11n);
    assert.equal(reopened.info.id, created.info.id);

    assert.throws(() => BpfMap.openPinned(pinPath, u32Codec, struct('v', { a: u32 })),
      /map cb_pinned \(Hash, id \d+\): value codec struct v is 4 bytes, the map's value_size is 8/);
    assert.throws(() => BpfMap.openPinned(pinPath, struct('k', { a: u64 }), u64Codec), /key codec struct k is 8 bytes, the map's key_size is 4/);
    assert.throws(() => BpfMap.openPinned(`${pins.path}/nothing`, u32Codec, u64Codec),
      (e: unknown) => e instanceof BpfError && e.message === `bpf_obj_get(${pins.path}/nothing): ENOENT (No such file or directory)`);

    const same = track(BpfMap.openOrCreatePinned(spec));
    assert.equal(same.get(1), 11n);
    assert.throws(() => BpfMap.openOrCreatePinned({ ...spec, maxEntries: 64 }),
      (e: unknown) => e instanceof PinnedMapMismatchError && /max_entries 32 pinned, 64 wanted/.test(e.message));
    const replaced = track(BpfMap.openOrCreatePinned({ ...spec, maxEntries: 64 }, true));
    assert.equal(replaced.info.maxEntries, 64);
    assert.equal(replaced.get(1), undefined);
    assert.notEqual(replaced.info.id, created.info.id);
  });

  test('a closed map refuses use', { timeout: 5_000 }, () => {
    const m = BpfMap.create({ type: MapType.Hash, name: 'cb_closed', key: u32Codec, value: asCodec(bytes(2)), maxEntries: 1 });
    m.close();
    m.close();
    assert.throws(() => m.get(1), /map cb_closed: get\(\) after close\(\)/);
  });
});
