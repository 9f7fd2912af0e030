// Real-kernel tests of neighbour operations, checked against `ip -j neigh`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Netlink } from './netlink.js';
import { NetlinkError } from './errors.js';
import { ScratchNetns, ipJson } from './testutil.js';

interface IpNeigh { dst: string; dev: string; lladdr?: string; state: string[] }

const scratch = new ScratchNetns('nb');
let node = '';
let nl: Netlink;
before(() => {
  node = scratch.create('node');
  nl = Netlink.open({ netns: node });
  nl.addVeth({ name: 'cnn0', peerName: 'cnn1', up: true });
  nl.setUp('cnn1');
});
after(() => {
  nl.close();
  scratch.cleanup();
});

function ipNeigh(): IpNeigh[] {
  return ipJson<IpNeigh[]>('-n', node, '-4', 'neigh', 'show', 'dev', 'cnn0');
}

test('add, replace, list and delete a permanent neighbour', { timeout: 30_000 }, () => {
  nl.addNeighbour({ ip: '10.244.250.20', mac: '02:00:00:00:00:20', dev: 'cnn0' });
  assert.deepEqual(ipNeigh().map((n) => [n.dst, n.lladdr, n.state]), [['10.244.250.20', '02:00:00:00:00:20', ['PERMANENT']]]);
  assert.throws(() => nl.addNeighbour({ ip: '10.244.250.20', mac: '02:00:00:00:00:21', dev: 'cnn0' }), (err: unknown) =>
    err instanceof NetlinkError && err.code === 'EEXIST' && err.op.startsWith('RTM_NEWNEIGH 10.244.250.20 lladdr 02:00:00:00:00:21 dev '));
  nl.replaceNeighbour({ ip: '10.244.250.20', mac: '02:00:00:00:00:21', dev: 'cnn0' });
  assert.deepEqual(ipNeigh().map((n) => n.lladdr), ['02:00:00:00:00:21']);
  assert.deepEqual(nl.listNeighbours({ dev: 'cnn0' }), [
    { family: 'inet', ip: '10.244.250.20', mac: '02:00:00:00:00:21', ifindex: nl.ifindex('cnn0'), state: 'permanent' },
  ]);
  assert.deepEqual(nl.listNeighbours({ dev: 'cnn1' }), []);
  assert.equal(nl.deleteNeighbour({ ip: '10.244.250.20', dev: 'cnn0' }), true);
  assert.equal(nl.deleteNeighbour({ ip: '10.244.250.20', dev: 'cnn0' }), false);
  assert.deepEqual(ipNeigh(), []);
});

test('neighbour errors', { timeout: 30_000 }, () => {
  assert.throws(() => nl.addNeighbour({ ip: '10.244.250.21', mac: '02:00:00:00:00:22', dev: 'cnmissing' }), (err: unknown) =>
    err instanceof NetlinkError && err.code === 'ENODEV');
  assert.throws(() => nl.addNeighbour({ ip: '10.244.250.21', dev: 'cnn0' }), TypeError);
  assert.throws(() => nl.addNeighbour({ ip: '10.244.250.21', mac: 'zz', dev: 'cnn0' }), TypeError);
});
