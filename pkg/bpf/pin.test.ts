import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { u32Codec } from './codec.js';
import { mapInfo } from './info.js';
import { BpfError } from './errors.js';
import { libc } from './libbpf.js';
import { BpfMap, MapType } from './map.js';
import { closeFd, dupFd, ensureBpffs, getPinned, isOnBpffs, isPinned, numPossibleCpus, pinFd, removePinDir, unpin } from './pin.js';

/** Counts the CPUs in a list like "0-1" or "0,2-5". */
function countCpuList(list: string): number {
  return list.trim().split(',').reduce((n, part) => {
    const [a, b] = part.split('-').map(Number);
    return n + (b === undefined ? 1 : b - a + 1);
  }, 0);
}

describe('bpffs and pins', () => {
  test('ensureBpffs mounts where needed; pin, get, unpin and remove pin directories', { timeout: 15_000 }, () => {
    ensureBpffs(); // /sys/fs/bpf is mounted: a no-op
    assert.ok(isOnBpffs('/sys/fs/bpf'));

    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-test-cb-'));
    const mnt = path.join(scratch, 'bpffs');
    const map = BpfMap.create({ type: MapType.Array, name: 'cb_pin', key: u32Codec, value: u32Codec, maxEntries: 1 });
    try {
      assert.equal(isOnBpffs(mnt), false);
      ensureBpffs(mnt);
      try {
        assert.ok(isOnBpffs(mnt));
        const pinPath = path.join(mnt, 'sub', 'dir', 'cb_pin');
        pinFd(map.fd, pinPath);
        assert.ok(isPinned(pinPath));
        assert.throws(() => pinFd(map.fd, pinPath), (e: unknown) => e instanceof BpfError && e.code === 'EEXIST' &&
          e.message === `bpf_obj_pin(${pinPath}): EEXIST (File exists)`);
        const fd = getPinned(pinPath);
        assert.equal(mapInfo(fd).id, map.info.id);
        closeFd(fd);
        assert.equal(unpin(pinPath), true);
        assert.equal(unpin(pinPath), false);

        pinFd(map.fd, pinPath);
        assert.throws(() => removePinDir(mnt), /bpffs mount root, refusing/);
        removePinDir(path.join(mnt, 'sub'));
        assert.equal(fs.existsSync(path.join(mnt, 'sub')), false);
        removePinDir(path.join(mnt, 'sub')); // missing is fine
      } finally {
        assert.equal(libc().umount2(mnt, 0), 0);
      }
      assert.throws(() => removePinDir(scratch), /not on a bpffs mount, refusing/);
    } finally {
      map.close();
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });

  test('dupFd gives an independent fd; closeFd tolerates a closed one', { timeout: 5_000 }, () => {
    const map = BpfMap.create({ type: MapType.Array, name: 'cb_dup', key: u32Codec, value: u32Codec, maxEntries: 1 });
    const fd = dupFd(map.fd);
    map.close();
    assert.equal(mapInfo(fd).name, 'cb_dup');
    closeFd(fd);
    closeFd(fd);
    // bpf(2) answers EBADFD (not EBADF) for an fd that is not open.
    assert.throws(() => mapInfo(fd), (e: unknown) => e instanceof BpfError && e.code === 'EBADFD');
  });

  test('numPossibleCpus counts possible, not online, CPUs', { timeout: 5_000 }, () => {
    assert.equal(numPossibleCpus(), countCpuList(fs.readFileSync('/sys/devices/system/cpu/possible', 'utf8')));
  });
});
