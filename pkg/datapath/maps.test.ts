// The map ABI against the compiled object: every codec aligned with its C struct in bpf_lxc.o's BTF, a wrong
// codec caught naming struct and field, the map table equal to what the kernel created, map sizes and
// constants applied by the loader, pinned maps reused across loads and opened by path, Maglev inner tables.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  AlignmentError, assertAligned, BpfMap, checkAlignment, MapType, pad, removePinDir, struct, u16, u32, u32Codec, u64, u8,
  type MapInfo,
} from '../bpf/index.js';
import { ciliaEvent } from './events.js';
import { DEFAULT_LXC_OBJECT, datapathConstants, loadLxcDatapath, type LoadedLxcDatapath } from './loader.js';
import {
  closeDatapathMaps, createMaglevTable, DATAPATH_MAPS, EVENTS_MAP, endpointKeyByIfindex, endpointKeyByIp, ipv4Raw, MAP_CODECS,
  openDatapathMaps, type DatapathMapName, type MapDescriptor,
} from './maps.js';

function scratchRoot(): string {
  const p = `/sys/fs/bpf/cilia-test-dp-${process.pid.toString(36)}${crypto.randomBytes(3).toString('hex')}`;
  fs.mkdirSync(p);
  return p;
}

describe('datapath map ABI', { timeout: 60_000 }, () => {
  test('every codec matches its C struct in bpf_lxc.o', { timeout: 10_000 }, () => {
    assert.deepEqual(checkAlignment(DEFAULT_LXC_OBJECT, [...MAP_CODECS, ciliaEvent]), []);
    assert.equal(ciliaEvent.size, 56);
  });

  test('a wrong codec fails naming the struct and the field', { timeout: 10_000 }, () => {
    // ct_entry with rev_nat_index and flags swapped in size: flags as a u8 shifts everything after it.
    const wrong = struct('ct_entry', {
      tx_packets: u64, tx_bytes: u64, rx_packets: u64, rx_bytes: u64, lifetime: u32, created: u32, rev_nat_index: u16,
      flags: u8, tx_flags_seen: u8, rx_flags_seen: u8, pad: pad(3), src_sec_id: u32,
    });
    assert.throws(() => assertAligned(DEFAULT_LXC_OBJECT, [wrong]), (e: unknown) => {
      assert.ok(e instanceof AlignmentError);
      const fields = e.mismatches.map((m) => m.field);
      assert.ok(e.mismatches.every((m) => m.struct === 'struct ct_entry'));
      assert.ok(fields.includes('flags') && fields.includes('tx_flags_seen'), `fields: ${fields.join(', ')}`);
      assert.match(e.message, /struct ct_entry: field tx_flags_seen: offset 43 in TS, 44 in C/);
      return true;
    });
  });

  test('keys encode the network-order address the datapath compares with', { timeout: 10_000 }, () => {
    assert.deepEqual(endpointKeyByIp('10.244.252.1'), { addr_or_ifindex: ipv4Raw('10.244.252.1'), kind: 1 });
    assert.deepEqual([...Buffer.from(new Uint32Array([ipv4Raw('10.244.252.1')]).buffer)], [10, 244, 252, 1]);
    assert.deepEqual(endpointKeyByIfindex(7), { addr_or_ifindex: 7, kind: 2 });
  });

  test('datapathConstants names every CFG_ global and merges over the defaults', { timeout: 10_000 }, () => {
    assert.deepEqual(datapathConstants({ ctTimeoutFin: 3, enablePacketLb: false }), {
      CFG_CT_TIMEOUT_TCP: 21600, CFG_CT_TIMEOUT_SYN: 60, CFG_CT_TIMEOUT_FIN: 3, CFG_CT_TIMEOUT_ANY: 60,
      CFG_ENABLE_PACKET_LB: false, CFG_MONITOR_AGGREGATION: true, CFG_MAGLEV_TABLE_SIZE: 16381,
    });
  });
});

describe('loadLxcDatapath', { timeout: 60_000 }, () => {
  let root: string;
  let dp: LoadedLxcDatapath | undefined;
  before(() => { root = scratchRoot(); });
  after(() => {
    dp?.close();
    removePinDir(root);
  });

  test('creates every map as the table says, pinned under the root, with size overrides', { timeout: 10_000 }, () => {
    dp = loadLxcDatapath({ pinRoot: root, mapSizes: { ct4: 4096, events: 1 << 16 } });
    for (const [short, d] of Object.entries(DATAPATH_MAPS) as [DatapathMapName, MapDescriptor<unknown, unknown>][]) {
      const info: MapInfo = (dp.maps[short] as BpfMap<unknown, unknown>).info;
      assert.equal(info.type, d.type, `${d.name} type`);
      assert.equal(info.keySize, d.key.size, `${d.name} key size`);
      assert.equal(info.valueSize, d.value.size, `${d.name} value size`);
      assert.equal(info.maxEntries, short === 'ct4' ? 4096 : d.defaultMaxEntries, `${d.name} max_entries`);
      assert.ok(fs.existsSync(`${root}/${d.name}`), `${d.name} pinned`);
    }
    assert.equal(dp.eventsPinPath, `${root}/${EVENTS_MAP.name}`);
    assert.ok(dp.fromContainer.fd > 0 && dp.toContainer.fd > 0);
    assert.throws(() => loadLxcDatapath({ pinRoot: root, mapSizes: { nope: 1 } as never }), /unknown map nope/);
  });

  test('a second load reuses the pinned maps (an agent restart keeps state); openDatapathMaps opens them by path', { timeout: 10_000 }, () => {
    assert.ok(dp);
    const info = { ifindex: 9, lxc_id: 3, flags: 0, sec_id: 1234, ipv4: '10.244.252.9', mac: '0a:00:00:00:00:09', node_mac: '0a:00:00:00:00:0a', policy_rev: 1 };
    dp.maps.lxc.put(endpointKeyByIfindex(9), info);
    const again = loadLxcDatapath({ pinRoot: root, mapSizes: { ct4: 4096, events: 1 << 16 } });
    try {
      assert.deepEqual(again.maps.lxc.get(endpointKeyByIfindex(9)), info);
    } finally {
      again.close();
    }
    const maps = openDatapathMaps(root);
    try {
      assert.deepEqual(maps.lxc.get(endpointKeyByIfindex(9)), info);
      assert.equal(maps.ct4.info.maxEntries, 4096);
    } finally {
      closeDatapathMaps(maps);
    }
    assert.throws(() => openDatapathMaps(`${root}/missing`), /ENOENT/);
  });

  test('Maglev inner tables need BPF_F_INNER_MAP; createMaglevTable sets it', { timeout: 10_000 }, () => {
    assert.ok(dp);
    const inner = createMaglevTable([1, 2, 3, 0, 5]);
    try {
      assert.equal(inner.get(4), 5);
      assert.equal(inner.get(3), 0);
      dp.maps.lb4Maglev.put(7, inner.fd);
      assert.ok(dp.maps.lb4Maglev.get(7)! > 0, 'reads back the inner map id');
    } finally {
      inner.close();
    }
    const plain = BpfMap.create({ type: MapType.Array, name: 'cilia_plain', key: u32Codec, value: u32Codec, maxEntries: 5 });
    try {
      assert.throws(() => dp!.maps.lb4Maglev.put(8, plain.fd), /EINVAL/);
    } finally {
      plain.close();
    }
  });
});
