import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, invoke } from '../../pkg/hive/index.js';
import { testHive } from '../../pkg/hive/hivetest/hivetest.js';
import { DaemonConfigCell } from '../daemon-config/cell.js';
import { IpamCell } from './cell.js';
import { IIpam, type Ipam } from './types.js';

function hiveWith(stateDir: string, argv: string[] = []) {
  let ipam!: Ipam;
  const h = testHive([DaemonConfigCell, IpamCell, invoke('grab', [IIpam], (i) => (ipam = i))], {
    argv: ['--log-level=debug', `--state-dir=${stateDir}`, `--bpf-root=/sys/fs/bpf/cilia-test-ipam`, ...argv],
  });
  return { h, ipam: () => ipam };
}

describe('ipam cell', () => {
  test('leases survive a restart; the router IP is reserved', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-ipam-'));
    t.after(() => {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync('/sys/fs/bpf/cilia-test-ipam', { recursive: true, force: true });
    });
    const one = hiveWith(dir, ['--pod-cidr=10.244.77.0/29']);
    await one.h.start();
    assert.equal(one.ipam().routerIP, '10.244.77.1');
    const a = one.ipam().allocate('ep-a');
    const b = one.ipam().allocate('ep-b');
    assert.deepEqual([a, b], ['10.244.77.2', '10.244.77.3']);
    await one.h.hive.stop();

    const two = hiveWith(dir, ['--pod-cidr=10.244.77.0/29']);
    await two.h.start();
    assert.equal(two.ipam().addressOf('ep-a'), a);
    assert.equal(two.ipam().release(b), true);
    assert.equal(two.ipam().allocate('ep-c'), '10.244.77.4', 'a released address is not reused at once');
    await two.h.hive.stop();
  });

  test('a --pod-cidr with host bits set is a config error naming the flag', () => {
    const { h } = hiveWith('/tmp/cilia-ipam-unused', ['--pod-cidr=10.244.77.5/24']);
    assert.throws(() => h.hive.populate(), (e: unknown) => e instanceof ConfigError && /--pod-cidr: "10\.244\.77\.5\/24" — .*host bits set/.test(e.message));
  });
});
