import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bytes, i32, struct, u16, u32, u32Codec, u64, u64Codec, u8 } from './codec.js';
import { BpfError, errnoName } from './errors.js';
import { defaultLibbpfLogger, setLibbpfLogger, type LibbpfLogLevel } from './log.js';
import { BpfMap, MapType, PinnedMapMismatchError } from './map.js';
import { BpfLoadError, BpfObject } from './object.js';
import { isPinned } from './pin.js';
import { testRun } from './testrun.js';
import { scratchPinRoot, testObject } from './testenv.js';

const constsOut = struct('consts_out', { u32, u16, mac: bytes(6), u64, s32: i32, flag: u8 });
const packet = Buffer.alloc(64);

describe('BpfError', () => {
  test('message names the call, the errno and its description', { timeout: 5_000 }, () => {
    const e = new BpfError('bpf_map_update_elem(cilia_lxc)', 17);
    assert.equal(e.message, 'bpf_map_update_elem(cilia_lxc): EEXIST (File exists)');
    assert.equal(e.code, 'EEXIST');
    assert.equal(e.errno, 17);
    assert.equal(e.op, 'bpf_map_update_elem(cilia_lxc)');
    assert.equal(new BpfError('x', 4007, 'more').message, 'x: LIBBPF_ERRNO__VERIFY (Kernel verifier blocks program loading): more');
    assert.equal(errnoName(524), 'ENOTSUPP');
  });
});

describe('BpfObject', () => {
  let pins: ReturnType<typeof scratchPinRoot>;
  const objects: BpfObject[] = [];
  before(() => { pins = scratchPinRoot(); });
  after(() => {
    for (const o of objects) o.close();
    pins.remove();
  });
  const load = (name: string, opts: Parameters<typeof BpfObject.load>[1] = {}): BpfObject => {
    const o = BpfObject.load(testObject(name), { pinRoot: pins.path, ...opts });
    objects.push(o);
    return o;
  };

  test('const volatile globals are set by name before load and seen by the program', { timeout: 15_000 }, () => {
    const o = load('bpftest_consts', {
      constants: {
        cfg_u32: 4242, cfg_u16: 65535, cfg_u64: 1n << 40n, cfg_s32: -5, cfg_mac: Buffer.from('02aabbccddee', 'hex'),
        cfg_flag: true,
      },
    });
    const prog = o.program('read_consts');
    assert.equal(testRun(prog.fd, { data: packet }).retval, 4242);
    const out = o.map('consts_out', u32Codec, constsOut).get(0);
    assert.deepEqual(out, { u32: 4242, u16: 65535, mac: Buffer.from('02aabbccddee', 'hex'), u64: 1n << 40n, s32: -5, flag: 1 });
    assert.equal(prog.name, 'read_consts');
    assert.match(prog.tag, /^[0-9a-f]{16}$/);
    assert.ok(prog.id > 0);
    assert.deepEqual(o.programNames(), ['read_consts']);
    assert.deepEqual(o.mapNames(), ['consts_out', 'bpftest_pinned']);
  });

  test('constant errors list the known names or say why the value does not fit', { timeout: 15_000 }, () => {
    assert.throws(() => BpfObject.open(testObject('bpftest_consts'), { pinRoot: pins.path, constants: { cfg_nope: 1 } }),
      /bpftest_consts.o: unknown constant cfg_nope; known: cfg_u32, cfg_u16, cfg_u64, cfg_s32, cfg_mac, cfg_flag/);
    assert.throws(() => BpfObject.open(testObject('bpftest_consts'), { pinRoot: pins.path, constants: { cfg_u16: 70000 } }),
      /constant cfg_u16 \(2 bytes\): 70000 does not fit in 2 bytes/);
    assert.throws(() => BpfObject.open(testObject('bpftest_consts'), { pinRoot: pins.path, constants: { cfg_mac: Buffer.alloc(4) } }),
      /constant cfg_mac \(6 bytes\): expected 6 bytes, got a Buffer of 4/);
    assert.throws(() => BpfObject.open(testObject('bpftest_consts'), { pinRoot: pins.path, maxEntries: { nope: 4 } }),
      /no map named nope; maps: consts_out, bpftest_pinned/);
    assert.throws(() => BpfObject.open('/nonexistent/x.o'),
      (e: unknown) => e instanceof BpfError && e.code === 'ENOENT' && /^bpf_object__open_file\(\/nonexistent\/x.o\): ENOENT/.test(e.message));
  });

  test('max_entries overrides apply before load', { timeout: 15_000 }, () => {
    const o = load('bpftest_tc', { maxEntries: { tc_counts: 7 } });
    assert.equal(o.map('tc_counts', u32Codec, u64Codec).info.maxEntries, 7);
    assert.throws(() => o.program('nope'), /no program named nope; programs: count_v1, count_v2/);
  });

  test('PIN_BY_NAME maps are reused across loads and processes', { timeout: 30_000 }, () => {
    const first = load('bpftest_consts');
    const pinPath = first.mapPinPath('bpftest_pinned')!;
    assert.equal(pinPath, `${pins.path}/bpftest_pinned`);
    assert.ok(isPinned(pinPath));
    const runs = first.map('bpftest_pinned', u32Codec, u64Codec);
    const before = runs.get(1) ?? 0n;
    testRun(first.program('read_consts').fd, { data: packet });
    first.close();

    const second = load('bpftest_consts');
    testRun(second.program('read_consts').fd, { data: packet });
    second.close();

    // A separate process loads the same object over the same pin root and runs it once more.
    const objectJs = fileURLToPath(new URL('./object.js', import.meta.url));
    const testrunJs = fileURLToPath(new URL('./testrun.js', import.meta.url));
    const script = `
      import { BpfObject } from ${JSON.stringify(objectJs)};
      import { testRun } from ${JSON.stringify(testrunJs)};
      const o = BpfObject.load(${JSON.stringify(testObject('bpftest_consts'))}, { pinRoot: ${JSON.stringify(pins.path)} });
      testRun(o.program('read_consts').fd, { data: Buffer.alloc(64) });
      o.close();`;
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { stdio: 'pipe' });

    const pinned = BpfMap.openPinned(pinPath, u32Codec, u64Codec);
    try {
      assert.equal(pinned.get(1), before + 3n);
    } finally {
      pinned.close();
    }
  });

  test('a pinned map that differs from the definition gives an error naming the map', { timeout: 15_000 }, () => {
    load('bpftest_consts').close(); // make sure the pin exists
    assert.throws(() => BpfObject.load(testObject('bpftest_pin_mismatch'), { pinRoot: pins.path }),
      (e: unknown) => e instanceof PinnedMapMismatchError && e.mapName === 'bpftest_pinned' &&
        e.message === `map bpftest_pinned: the map pinned at ${pins.path}/bpftest_pinned does not match the definition: ` +
        'value_size 8 pinned, 4 wanted');
    assert.throws(() => BpfObject.load(testObject('bpftest_consts'), { pinRoot: pins.path, maxEntries: { bpftest_pinned: 128 } }),
      /map bpftest_pinned: .* max_entries 64 pinned, 128 wanted/);
    // Opting in replaces the pin with a fresh map of the new shape.
    const o = load('bpftest_pin_mismatch', { replaceIncompatiblePins: true });
    const replaced = BpfMap.openPinned(o.mapPinPath('bpftest_pinned')!, u32Codec, u32Codec);
    assert.equal(replaced.info.valueSize, 4);
    replaced.close();
  });

  test('explicit map pin paths', { timeout: 15_000 }, () => {
    const where = `${pins.path}/explicit/counts`;
    const o = load('bpftest_tc', { mapPinPaths: { tc_counts: where } });
    assert.ok(isPinned(where));
    const again = load('bpftest_tc', { mapPinPaths: { tc_counts: where } });
    assert.equal(again.map('tc_counts', u32Codec, u64Codec).info.id, o.map('tc_counts', u32Codec, u64Codec).info.id);
  });

  test('an existing map can stand in for one of the object\'s maps', { timeout: 15_000 }, () => {
    const shared = BpfMap.create({ type: MapType.Array, name: 'cb_shared', key: u32Codec, value: u64Codec, maxEntries: 2 });
    try {
      const o = load('bpftest_tc', { reuseMapFds: { tc_counts: shared.fd } });
      testRun(o.program('count_v2').fd, { data: packet, repeat: 3 });
      assert.equal(shared.get(1), 3n);
    } finally {
      shared.close();
    }
  });

  test('a verifier rejection names the program and carries the verifier log', { timeout: 15_000 }, () => {
    const logged: string[] = [];
    setLibbpfLogger((_level, m) => logged.push(m));
    try {
      assert.throws(() => BpfObject.load(testObject('bpftest_bad')), (e: unknown) => {
        assert.ok(e instanceof BpfLoadError);
        assert.equal(e.program, 'bad_access');
        assert.equal(e.code, 'EACCES');
        assert.match(e.verifierLog ?? '', /invalid access to packet/);
        assert.match(e.message, /^bpf_object__load\(bpftest_bad.o\): EACCES \(Permission denied\): program bad_access rejected by the verifier:\n/);
        assert.match(e.message, /R1 offset is outside of the packet/);
        return true;
      });
      assert.deepEqual(logged, [], 'the failure is reported in the error, not logged as well');
    } finally {
      setLibbpfLogger(defaultLibbpfLogger);
    }
  });

  test('libbpf messages reach the configured logger at the configured level', { timeout: 15_000 }, () => {
    const logged: Array<[LibbpfLogLevel, string]> = [];
    setLibbpfLogger((level, m) => logged.push([level, m]), 'debug');
    try {
      load('bpftest_tc').close();
    } finally {
      setLibbpfLogger(defaultLibbpfLogger);
    }
    assert.ok(logged.some(([level, m]) => level === 'debug' && /count_v1/.test(m)), 'debug messages about the object arrive');
    const before = logged.length;
    load('bpftest_tc').close();
    assert.equal(logged.length, before, 'after resetting the logger nothing more arrives');
  });

  test('a closed or unloaded object refuses use', { timeout: 15_000 }, () => {
    const o = BpfObject.open(testObject('bpftest_tc'));
    assert.throws(() => o.program('count_v1'), /not loaded yet/);
    o.close();
    o.close();
    assert.throws(() => o.load(), /used after close/);
  });
});
