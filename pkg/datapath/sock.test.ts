// Loading and attaching socket LB (bpf_sock.o) on the real kernel, without traffic (sock-lb.test.ts has the
// sockets): the codecs against its BTF, the clear failure without bpf_lxc.o's pins, reuse of resized pins, a
// mismatching pin refused, and cgroup attachments: query, in-place replacement that keeps the position among
// foreign programs, cleanup of stale duplicates, detach that leaves foreign programs alone.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  BpfMap, BpfObject, cgroupAttach, checkAlignment, createCgroup, findCgroup2Mount, mapInfo, MapType, PinnedMapMismatchError,
  removeCgroup, removePinDir, u64Codec, u8Codec,
} from '../bpf/index.js';
import { ciliaEvent } from './events.js';
import { loadLxcDatapath, type LoadedLxcDatapath } from './loader.js';
import { MAP_CODECS } from './maps.js';
import { attachSockLb, detachSockLb, isSockLbAttached, querySockLb } from './sock-attach.js';
import {
  DEFAULT_SOCK_OBJECT, loadSockDatapath, SOCK_HOOKS, SockMapsNotPinnedError, type LoadedSockDatapath,
} from './sock.js';

const id = (): string => `${process.pid.toString(36)}${crypto.randomBytes(3).toString('hex')}`;

function scratchRoot(): string {
  const p = `/sys/fs/bpf/cilia-test-sk-${id()}`;
  fs.mkdirSync(p);
  return p;
}

/** bpf/test/bpftest_sock.o: a foreign connect4 program (another tool's) to attach beside ours. */
const FOREIGN_OBJECT = fileURLToPath(new URL('../../../bpf/test/bpftest_sock.o', import.meta.url));

describe('socket LB loader', { timeout: 60_000 }, () => {
  test('every codec matches its C struct in bpf_sock.o', { timeout: 10_000 }, () => {
    assert.deepEqual(checkAlignment(DEFAULT_SOCK_OBJECT, [...MAP_CODECS, ciliaEvent]), []);
  });

  test('without bpf_lxc.o\'s pins the load fails naming the missing maps, and pins nothing', { timeout: 10_000 }, () => {
    const root = scratchRoot();
    try {
      assert.throws(() => loadSockDatapath({ pinRoot: root }), (e: unknown) => {
        assert.ok(e instanceof SockMapsNotPinnedError);
        assert.ok(e.missing.includes('cilia_lb4_services') && e.missing.includes('cilia_lb4_reverse_sk'), e.message);
        assert.match(e.message, /load bpf_lxc\.o there first/);
        return true;
      });
      assert.deepEqual(fs.readdirSync(root), []);
    } finally {
      removePinDir(root);
    }
  });

  test('reuses the maps bpf_lxc.o pinned, at the sizes the agent chose', { timeout: 20_000 }, () => {
    const root = scratchRoot();
    let lxc: LoadedLxcDatapath | undefined;
    let sock: LoadedSockDatapath | undefined;
    try {
      lxc = loadLxcDatapath({ pinRoot: root, mapSizes: { lb4Services: 2048, ct4: 4096, events: 1 << 20 } });
      sock = loadSockDatapath({ pinRoot: root });
      for (const name of ['cilia_lb4_services', 'cilia_lb4_reverse_sk', 'cilia_lb4_affinity', 'cilia_ct4', 'cilia_events']) {
        assert.equal(mapInfo(sock.object.mapFd(name)).id, mapInfo(lxc.object.mapFd(name)).id, `${name} is shared`);
      }
      assert.equal(mapInfo(sock.object.mapFd('cilia_lb4_services')).maxEntries, 2048);
      assert.deepEqual(Object.keys(sock.programs), [...SOCK_HOOKS]);
      assert.equal(new Set(Object.values(sock.programs).map((p) => p.id)).size, 8);
    } finally {
      sock?.close();
      lxc?.close();
      removePinDir(root);
    }
  });

  test('a pinned map of another layout is refused, not replaced', { timeout: 20_000 }, () => {
    const root = scratchRoot();
    try {
      loadLxcDatapath({ pinRoot: root }).close();
      const pin = path.join(root, 'cilia_lb4_reverse_sk');
      fs.unlinkSync(pin);
      BpfMap.create({ type: MapType.LruHash, name: 'cilia_lb4_rever', key: u64Codec, value: u8Codec, maxEntries: 262144, pinPath: pin }).close();
      const pinnedId = (): number => {
        const m = BpfMap.openPinned(pin, u64Codec, u8Codec);
        try {
          return m.info.id;
        } finally {
          m.close();
        }
      };
      const before = pinnedId();
      assert.throws(() => loadSockDatapath({ pinRoot: root }), (e: unknown) => {
        assert.ok(e instanceof PinnedMapMismatchError);
        assert.equal(e.mapName, 'cilia_lb4_reverse_sk');
        assert.match(e.message, /key_size 8 pinned, 16 wanted/);
        return true;
      });
      assert.equal(pinnedId(), before, 'the pin is untouched');
    } finally {
      removePinDir(root);
    }
  });
});

describe('socket LB cgroup attachments', { timeout: 60_000 }, () => {
  const cgroup = path.join(findCgroup2Mount() ?? '/sys/fs/cgroup/unified', `cilia-test-sk-${id()}`);
  let root: string;
  let lxc: LoadedLxcDatapath;
  let first: LoadedSockDatapath;
  let second: LoadedSockDatapath;
  let foreign: BpfObject;

  before(() => {
    root = scratchRoot();
    lxc = loadLxcDatapath({ pinRoot: root });
    first = loadSockDatapath({ pinRoot: root });
    second = loadSockDatapath({ pinRoot: root });
    foreign = BpfObject.load(FOREIGN_OBJECT);
    createCgroup(cgroup);
  });
  after(() => {
    try {
      removeCgroup(cgroup); // detaches everything attached there
    } finally {
      foreign?.close();
      second?.close();
      first?.close();
      lxc?.close();
      if (root) removePinDir(root);
    }
  });

  test('attach, replace in place next to a foreign program, clean up duplicates, detach only ours', { timeout: 30_000 }, () => {
    const foreignProg = foreign.program('sock_connect4');
    assert.ok(Object.values(querySockLb(cgroup)).every((h) => h.attached.length === 0));

    attachSockLb(cgroup, first.programs);
    attachSockLb(cgroup, first.programs); // idempotent
    assert.ok(isSockLbAttached(cgroup, first.programs));
    for (const hook of SOCK_HOOKS) assert.deepEqual(querySockLb(cgroup)[hook], { attached: [first.programs[hook].id], ours: [first.programs[hook].id] });

    // Another tool's program runs after ours at connect4; a reload must keep that order (BPF_F_REPLACE).
    cgroupAttach({ cgroup, hook: 'connect4', progFd: foreignProg.fd });
    attachSockLb(cgroup, second.programs);
    assert.ok(isSockLbAttached(cgroup, second.programs));
    assert.ok(!isSockLbAttached(cgroup, first.programs));
    assert.deepEqual(querySockLb(cgroup).connect4, { attached: [second.programs.connect4.id, foreignProg.id], ours: [second.programs.connect4.id] });

    // A stale second socket LB program at a hook (e.g. a crash mid-way) is removed by the next attach.
    cgroupAttach({ cgroup, hook: 'recvmsg4', progFd: first.programs.recvmsg4.fd });
    assert.equal(querySockLb(cgroup).recvmsg4.ours.length, 2);
    attachSockLb(cgroup, second.programs);
    assert.deepEqual(querySockLb(cgroup).recvmsg4.ours, [second.programs.recvmsg4.id]);

    assert.equal(detachSockLb(cgroup), 8);
    assert.equal(detachSockLb(cgroup), 0);
    assert.deepEqual(querySockLb(cgroup).connect4, { attached: [foreignProg.id], ours: [] }, 'the foreign program stays');
    assert.equal(detachSockLb(`${cgroup}-missing`), 0);
  });

  test('attaching to a missing cgroup names the hook and the path', { timeout: 10_000 }, () => {
    assert.throws(() => attachSockLb(`${cgroup}-missing`, first.programs), /open\(.*-missing\): ENOENT/);
  });
});
