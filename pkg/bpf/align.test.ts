import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AlignmentError, assertAligned, checkAlignment } from './align.js';
import { Btf, BtfKind } from './btf.js';
import { CgroupAttachType } from './cgroup.js';
import { array, be16, bytes, ipv4, mac, pad, struct, u16, u32, u32Codec, u64, u8 } from './codec.js';
import { bpfMapInfo, bpfProgInfo } from './info.js';
import { MapType } from './map.js';
import { skBuff } from './testrun.js';
import { testObject } from './testenv.js';

const alignInner = struct('align_inner', { a: u16, b: u32 });
const fields = {
  flags: u8, id: u32, big: u64, mac, port: be16, inner: alignInner, arr: array(u32, 3), ip6: bytes(16), tail: u16,
};

describe('checkAlignment against a compiled object', () => {
  test('a correct codec passes, by struct name and through a typedef', { timeout: 15_000 }, () => {
    const obj = testObject('bpftest_align');
    assert.deepEqual(checkAlignment(obj, [struct('align_test', fields), struct('align_test_t', fields), u32Codec]), []);
    assertAligned(obj, [struct('struct align_test', fields)]);
  });

  test('a field of an anonymous union is found by its name', { timeout: 15_000 }, () => {
    const { flags, id, big, port, inner, arr, tail } = fields;
    const viaIp4 = struct('align_test', { flags, id, big, mac, port, inner, arr, ip4: ipv4, rest: pad(12), tail });
    assert.deepEqual(checkAlignment(testObject('bpftest_align'), [viaIp4]), []);
  });

  test('each kind of mismatch is reported, naming struct and field', { timeout: 15_000 }, () => {
    const obj = testObject('bpftest_align');
    const messages = (codec: Parameters<typeof struct>[1]): string[] =>
      checkAlignment(obj, [struct('align_test', codec)]).map((m) => m.message);

    // Wrong offset: id declared as u16 sits at 2, the C member at 4 (and is 2 bytes too short).
    assert.deepEqual(messages({ ...fields, id: u16 }), [
      'struct align_test: field id: offset 2 in TS, 4 in C',
      'struct align_test: field id: size 2 in TS, 4 in C',
    ]);
    // Wrong size only: mac as 8 bytes; it also shifts port, and the struct grows.
    assert.deepEqual(messages({ ...fields, mac: bytes(8) }), [
      'struct align_test: size 72 in TS, 64 in C',
      'struct align_test: field mac: size 8 in TS, 6 in C',
      'struct align_test: field port: offset 24 in TS, 22 in C',
      'struct align_test: field inner: offset 28 in TS, 24 in C',
      'struct align_test: field arr: offset 36 in TS, 32 in C',
      'struct align_test: field ip6: offset 48 in TS, 44 in C',
      'struct align_test: field tail: offset 64 in TS, 60 in C',
    ]);
    // Unknown field.
    assert.deepEqual(messages({ ...fields, extra: u16 }), ['struct align_test: field extra: no member named extra in C']);
    // Wrong struct size only (trailing padding C does not have).
    assert.deepEqual(messages({ ...fields, more: pad(8) }), ['struct align_test: size 72 in TS, 64 in C']);
    // Nested struct with a wrong member.
    assert.deepEqual(messages({ ...fields, inner: struct('align_inner', { a: u16, c: u32 }) }),
      ['struct align_test: field inner.c: no member named c in C']);
    // Missing struct.
    assert.deepEqual(checkAlignment(obj, [struct('no_such_struct', { a: u8 })]).map((m) => m.message),
      [`struct no_such_struct: not found in the BTF of ${obj}`]);
  });

  test('assertAligned throws an AlignmentError listing every mismatch', { timeout: 15_000 }, () => {
    const obj = testObject('bpftest_align');
    assert.throws(() => assertAligned(obj, [struct('align_test', { ...fields, id: u16 }), struct('nope', { a: u8 })]),
      (e: unknown) => {
        assert.ok(e instanceof AlignmentError);
        assert.equal(e.mismatches.length, 3);
        assert.equal(e.mismatches[0].struct, 'struct align_test');
        assert.equal(e.mismatches[0].field, 'id');
        assert.match(e.message, /struct align_test: field id: offset 2 in TS, 4 in C\n/);
        assert.match(e.message, /struct nope: not found/);
        return true;
      });
  });
});

describe('checkAlignment against the kernel BTF', () => {
  let vmlinux: Btf;
  before(() => { vmlinux = Btf.parse('/sys/kernel/btf/vmlinux'); });
  after(() => vmlinux.close());

  test('pkg/bpf codecs of kernel structs match the running kernel', { timeout: 30_000 }, () => {
    assert.deepEqual(checkAlignment(vmlinux, [skBuff, bpfMapInfo, bpfProgInfo]), []);
  });

  test('map type and cgroup attach type numbers match the kernel enums', { timeout: 30_000 }, () => {
    const enumValues = (name: string): ReadonlyMap<string, number | bigint> =>
      vmlinux.type(vmlinux.findByName(name, BtfKind.Enum)!).enumValues!;
    const mapTypes = enumValues('bpf_map_type');
    const mapNames: Record<keyof typeof MapType, string> = {
      Hash: 'HASH', Array: 'ARRAY', ProgArray: 'PROG_ARRAY', PerfEventArray: 'PERF_EVENT_ARRAY', PercpuHash: 'PERCPU_HASH',
      PercpuArray: 'PERCPU_ARRAY', StackTrace: 'STACK_TRACE', CgroupArray: 'CGROUP_ARRAY', LruHash: 'LRU_HASH',
      LruPercpuHash: 'LRU_PERCPU_HASH', LpmTrie: 'LPM_TRIE', ArrayOfMaps: 'ARRAY_OF_MAPS', HashOfMaps: 'HASH_OF_MAPS',
      DevMap: 'DEVMAP', SockMap: 'SOCKMAP', CpuMap: 'CPUMAP', XskMap: 'XSKMAP', SockHash: 'SOCKHASH',
      SkStorage: 'SK_STORAGE', DevMapHash: 'DEVMAP_HASH', RingBuf: 'RINGBUF', BloomFilter: 'BLOOM_FILTER',
    };
    for (const [k, c] of Object.entries(mapNames)) assert.equal(MapType[k as keyof typeof MapType], mapTypes.get(`BPF_MAP_TYPE_${c}`), k);

    const attachTypes = enumValues('bpf_attach_type');
    const hookNames: Record<keyof typeof CgroupAttachType, string> = {
      sock_create: 'INET_SOCK_CREATE', sock_ops: 'SOCK_OPS', bind4: 'INET4_BIND', bind6: 'INET6_BIND',
      connect4: 'INET4_CONNECT', connect6: 'INET6_CONNECT', post_bind4: 'INET4_POST_BIND', post_bind6: 'INET6_POST_BIND',
      sendmsg4: 'UDP4_SENDMSG', sendmsg6: 'UDP6_SENDMSG', recvmsg4: 'UDP4_RECVMSG', recvmsg6: 'UDP6_RECVMSG',
      getpeername4: 'INET4_GETPEERNAME', getpeername6: 'INET6_GETPEERNAME', getsockname4: 'INET4_GETSOCKNAME',
      getsockname6: 'INET6_GETSOCKNAME', sock_release: 'INET_SOCK_RELEASE',
    };
    for (const [k, c] of Object.entries(hookNames)) {
      assert.equal(CgroupAttachType[k as keyof typeof CgroupAttachType], attachTypes.get(`BPF_CGROUP_${c}`), k);
    }
  });
});
