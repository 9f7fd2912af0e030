// Real-kernel tests of address operations, checked against `ip -j addr`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Netlink } from './netlink.js';
import { NetlinkError } from './errors.js';
import { ScratchNetns, ipJson } from './testutil.js';

interface IpAddr { addr_info: { family: string; local: string; prefixlen: number; scope: string; label?: string }[] }

const scratch = new ScratchNetns('ad');
let node = '';
let nl: Netlink;
before(() => {
  node = scratch.create('node');
  nl = Netlink.open({ netns: node });
  nl.addVeth({ name: 'cna0', peerName: 'cna1', up: true });
});
after(() => {
  nl.close();
  scratch.cleanup();
});

function ipAddrs(dev: string): { local: string; prefixlen: number; scope: string }[] {
  return ipJson<IpAddr[]>('-n', node, '-4', 'addr', 'show', 'dev', dev)[0].addr_info
    .map(({ local, prefixlen, scope }) => ({ local, prefixlen, scope })).sort((a, b) => a.local.localeCompare(b.local));
}

test('add, list, replace and delete IPv4 addresses', { timeout: 30_000 }, () => {
  nl.addAddress({ address: '10.244.250.1/24', dev: 'cna0' });
  nl.addAddress({ address: '10.244.250.2', dev: nl.ifindex('cna0'), scope: 'link' });
  assert.deepEqual(ipAddrs('cna0'), [
    { local: '10.244.250.1', prefixlen: 24, scope: 'global' },
    { local: '10.244.250.2', prefixlen: 32, scope: 'link' },
  ]);
  const listed = nl.listAddresses({ dev: 'cna0' });
  assert.deepEqual(listed.map(({ address, prefixLen, scope }) => ({ local: address, prefixlen: prefixLen, scope }))
    .sort((a, b) => a.local.localeCompare(b.local)), ipAddrs('cna0'));
  assert.ok(listed.every((a) => a.family === 'inet' && a.ifindex === nl.ifindex('cna0') && a.label === 'cna0'));
  assert.ok(nl.listAddresses().some((a) => a.address === '10.244.250.1'), 'unfiltered list');
  assert.deepEqual(nl.listAddresses({ dev: 'cna1' }), [], 'filtered by device in the kernel');

  assert.throws(() => nl.addAddress({ address: '10.244.250.1/24', dev: 'cna0' }), (err: unknown) =>
    err instanceof NetlinkError && err.code === 'EEXIST' && err.message.startsWith('RTM_NEWADDR 10.244.250.1/24 dev '));
  nl.replaceAddress({ address: '10.244.250.1/24', dev: 'cna0' });
  nl.replaceAddress({ address: '10.244.250.3/32', dev: 'cna0', scope: 'host' });
  assert.ok(ipAddrs('cna0').some((a) => a.local === '10.244.250.3' && a.scope === 'host'));

  assert.equal(nl.deleteAddress({ address: '10.244.250.2/32', dev: 'cna0' }), true);
  assert.equal(nl.deleteAddress({ address: '10.244.250.2/32', dev: 'cna0' }), false);
  assert.equal(nl.deleteAddress({ address: '10.244.250.3/32', dev: 'cna0' }), true);
  assert.deepEqual(ipAddrs('cna0'), [{ local: '10.244.250.1', prefixlen: 24, scope: 'global' }]);
});

test('address errors', { timeout: 30_000 }, () => {
  assert.throws(() => nl.addAddress({ address: '10.244.250.9/32', dev: 'cnmissing' }), (err: unknown) =>
    err instanceof NetlinkError && err.code === 'ENODEV');
  assert.throws(() => nl.addAddress({ address: '10.244.250.9/32', dev: 99999 }), (err: unknown) =>
    err instanceof NetlinkError && err.code === 'ENODEV' && err.op === 'RTM_NEWADDR 10.244.250.9/32 dev 99999');
  assert.throws(() => nl.addAddress({ address: '10.244.250.900', dev: 'cna0' }), TypeError);
});
