// Real-kernel tests of per-netns sysctls.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { getSysctl, setSysctl, sysctlPath } from './sysctl.js';
import { Netlink } from './netlink.js';
import { ScratchNetns, ip } from './testutil.js';

const scratch = new ScratchNetns('sc');
let node = '';
before(() => {
  node = scratch.create('node');
});
after(() => {
  scratch.cleanup();
});

test('sysctl keys map to /proc/sys paths', { timeout: 5_000 }, () => {
  assert.equal(sysctlPath('net.ipv4.ip_forward'), '/proc/sys/net/ipv4/ip_forward');
  assert.equal(sysctlPath('net/ipv4/conf/cn.d0/forwarding'), '/proc/sys/net/ipv4/conf/cn.d0/forwarding');
  assert.throws(() => sysctlPath('net.ipv4..x'), TypeError);
  assert.throws(() => sysctlPath('net/../../etc/passwd'), TypeError);
});

test('setSysctl writes inside the given netns only', { timeout: 30_000 }, () => {
  const hostValue = getSysctl('net.ipv4.ip_forward');
  const target = hostValue === '1' ? '0' : '1';
  setSysctl('net.ipv4.ip_forward', target, { netns: node });
  assert.equal(getSysctl('net.ipv4.ip_forward', { netns: node }), target);
  assert.equal(ip('netns', 'exec', node, 'cat', '/proc/sys/net/ipv4/ip_forward').trim(), target);
  assert.equal(getSysctl('net.ipv4.ip_forward'), hostValue, 'the host value is untouched');
});

test('per-device keys, including a device name with a dot', { timeout: 30_000 }, () => {
  const nl = Netlink.open({ netns: node });
  try {
    nl.addVeth({ name: 'cn.d0', peerName: 'cnd1' });
    setSysctl('net/ipv4/conf/cn.d0/forwarding', '1', { netns: node });
    setSysctl('net.ipv6.conf.cnd1.disable_ipv6', '1', { netns: node });
    assert.equal(ip('netns', 'exec', node, 'cat', '/proc/sys/net/ipv4/conf/cn.d0/forwarding').trim(), '1');
    assert.equal(getSysctl('net.ipv6.conf.cnd1.disable_ipv6', { netns: node }), '1');
    assert.throws(() => getSysctl('net.ipv4.conf.cnmissing.forwarding', { netns: node }), /ENOENT/);
  } finally {
    nl.close();
  }
});
