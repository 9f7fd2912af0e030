// Real-kernel tests of the request engine: batching several requests into one datagram.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Netlink } from './netlink.js';
import { NetlinkError } from './errors.js';
import { addressRequest, dumpAddressesRequest, decodeAddress } from './address.js';
import { dumpLinksRequest, getLinkRequest, decodeLink } from './link.js';
import { AF_INET } from './constants.js';
import { ScratchNetns } from './testutil.js';

const scratch = new ScratchNetns('tx');
let nl: Netlink;
let ifindex = 0;
before(() => {
  nl = Netlink.open({ netns: scratch.create('node') });
  ifindex = nl.addVeth({ name: 'cnt0', peerName: 'cnt1' }).index;
});
after(() => {
  nl.close();
  scratch.cleanup();
});

test('transact sends a batch and returns each request\'s replies in order', { timeout: 30_000 }, () => {
  const replies = nl.transact([
    addressRequest('add', { address: '10.244.250.1/32', ifindex }),
    getLinkRequest('cnt0'),
    addressRequest('add', { address: '10.244.250.2/32', ifindex }),
    dumpAddressesRequest(AF_INET, ifindex),
  ]);
  assert.deepEqual(replies[0], [], 'an ack carries no data');
  assert.equal(decodeLink(replies[1][0]).name, 'cnt0');
  assert.deepEqual(replies[3].map(decodeAddress).map((a) => a.address).sort(), ['10.244.250.1', '10.244.250.2']);
});

test('in a failed batch every request is attempted and the first error is thrown', { timeout: 30_000 }, () => {
  assert.throws(() => nl.transact([
    addressRequest('add', { address: '10.244.250.3/32', ifindex }),
    addressRequest('add', { address: '10.244.250.4/32', ifindex: 99999 }),
    addressRequest('add', { address: '10.244.250.3/32', ifindex }),
    addressRequest('add', { address: '10.244.250.5/32', ifindex }),
  ]), (err: unknown) => err instanceof NetlinkError && err.code === 'ENODEV' && err.op === 'RTM_NEWADDR 10.244.250.4/32 dev 99999');
  const addresses = nl.listAddresses({ dev: ifindex }).map((a) => a.address);
  assert.ok(addresses.includes('10.244.250.3') && addresses.includes('10.244.250.5'), 'requests after the failure ran');
  // The socket is in step afterwards: the next request gets its own answer.
  assert.equal(nl.getLink(ifindex)?.name, 'cnt0');
});

test('only one dump per batch', { timeout: 30_000 }, () => {
  assert.throws(() => nl.transact([dumpLinksRequest(), dumpLinksRequest()]), TypeError);
  assert.deepEqual(nl.transact([]), []);
});
