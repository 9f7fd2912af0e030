// Real-kernel tests of link operations, checked against iproute2's view (`ip -j link`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Netlink } from './netlink.js';
import { NetlinkError } from './errors.js';
import { ScratchNetns, ipJson } from './testutil.js';
import { currentNetnsInode, openNetns } from '../netns/with-netns.js';

interface IpLink {
  ifindex: number; ifname: string; address: string; mtu: number; operstate: string; flags: string[];
  link_index?: number; link_netnsid?: number; linkinfo?: { info_kind: string };
}

const scratch = new ScratchNetns('lk');
let node = '';
let pod = '';
let nl: Netlink;
before(() => {
  node = scratch.create('node');
  pod = scratch.create('pod');
  nl = Netlink.open({ netns: node });
});
after(() => {
  nl.close();
  scratch.cleanup();
});

function ipLink(ns: string, dev: string): IpLink {
  return ipJson<IpLink[]>('-d', '-n', ns, 'link', 'show', 'dev', dev)[0];
}

test('a handle opened for another netns stays bound to it', { timeout: 30_000 }, () => {
  const before = currentNetnsInode();
  const podNl = Netlink.open({ netns: pod });
  try {
    assert.equal(currentNetnsInode(), before, 'the thread is back in its own netns');
    nl.addVeth({ name: 'cnb0', peerName: 'cnb1' });
    assert.deepEqual(podNl.listLinks().map((l) => l.name), ['lo'], 'the pod handle does not see the node devices');
    assert.deepEqual(nl.listLinks().map((l) => l.name).sort(), ['cnb0', 'cnb1', 'lo']);
  } finally {
    podNl.close();
    nl.deleteLink('cnb0');
  }
});

test('addVeth creates the peer inside another netns; attributes match ip -j', { timeout: 30_000 }, () => {
  const link = nl.addVeth({
    name: 'cnv0', peerName: 'eth0', peerNetns: pod, mtu: 1400, mac: '02:00:0a:f4:fa:01', peerMac: '02:00:0a:f4:fa:02',
  });
  try {
    assert.equal(link.name, 'cnv0');
    assert.equal(link.kind, 'veth');
    assert.equal(link.mtu, 1400);
    assert.equal(link.mac, '02:00:0a:f4:fa:01');
    assert.equal(link.up, false);

    const ipHost = ipLink(node, 'cnv0');
    const got = nl.getLink('cnv0');
    assert.ok(got);
    assert.equal(got.index, ipHost.ifindex);
    assert.equal(got.name, ipHost.ifname);
    assert.equal(got.mac, ipHost.address);
    assert.equal(got.mtu, ipHost.mtu);
    assert.equal(got.operState, ipHost.operstate.toLowerCase());
    assert.equal(got.up, ipHost.flags.includes('UP'));
    assert.equal(got.kind, ipHost.linkinfo?.info_kind);
    assert.equal(got.linkIndex, ipHost.link_index);
    assert.equal(got.linkNetnsId, ipHost.link_netnsid);
    assert.deepEqual(nl.getLink(got.index), got, 'get by index = get by name');
    assert.ok(nl.listLinks().some((l) => l.name === 'cnv0' && l.index === got.index));

    const ipPeer = ipLink(pod, 'eth0');
    assert.equal(ipPeer.ifindex, got.linkIndex, 'linkIndex is the peer ifindex in its netns');
    assert.equal(ipPeer.link_index, got.index);
    assert.equal(ipPeer.address, '02:00:0a:f4:fa:02');
    assert.equal(ipPeer.mtu, 1400);
  } finally {
    nl.deleteLink('cnv0');
  }
});

test('addVeth takes the peer netns as an fd too, and can bring this side up', { timeout: 30_000 }, () => {
  const fd = openNetns(pod);
  try {
    const link = nl.addVeth({ name: 'cnf0', peerName: 'cnf1', peerNetns: fd, up: true });
    assert.equal(link.up, true);
    assert.ok(ipLink(node, 'cnf0').flags.includes('UP'));
    assert.equal(ipLink(pod, 'cnf1').ifindex, link.linkIndex);
  } finally {
    fs.closeSync(fd);
    nl.deleteLink('cnf0');
  }
});

test('setUp, setDown, setMtu, setMac, setName and moveToNetns change the device', { timeout: 30_000 }, () => {
  nl.addVeth({ name: 'cnm0', peerName: 'cnm1' });
  try {
    nl.setUp('cnm0');
    nl.setUp('cnm1');
    assert.ok(ipLink(node, 'cnm0').flags.includes('UP'));
    assert.equal(nl.getLink('cnm0')?.up, true);
    nl.setMtu('cnm0', 1300);
    assert.equal(ipLink(node, 'cnm0').mtu, 1300);
    nl.setMac('cnm0', '02:00:00:00:00:aa');
    assert.equal(ipLink(node, 'cnm0').address, '02:00:00:00:00:aa');
    nl.setDown('cnm0');
    assert.ok(!ipLink(node, 'cnm0').flags.includes('UP'));

    const index = nl.ifindex('cnm1');
    nl.setDown('cnm1');
    nl.setName('cnm1', 'cnm2');
    assert.equal(nl.getLink('cnm1'), undefined);
    assert.equal(nl.getLink('cnm2')?.index, index);

    nl.moveToNetns('cnm2', pod);
    assert.equal(nl.getLink('cnm2'), undefined);
    assert.equal(ipLink(pod, 'cnm2').ifname, 'cnm2');
  } finally {
    nl.deleteLink('cnm0');
  }
});

test('deleteLink removes both ends and reports a missing device as false', { timeout: 30_000 }, () => {
  nl.addVeth({ name: 'cnd0', peerName: 'cnd1' });
  assert.equal(nl.deleteLink('cnd0'), true);
  assert.equal(nl.getLink('cnd0'), undefined);
  assert.equal(nl.getLink('cnd1'), undefined);
  assert.equal(nl.deleteLink('cnd0'), false);
  assert.equal(nl.deleteLink(99999), false);
});

test('errors are NetlinkErrors that say what failed', { timeout: 30_000 }, () => {
  nl.addVeth({ name: 'cne0', peerName: 'cne1' });
  try {
    assert.throws(() => nl.addVeth({ name: 'cne0', peerName: 'cnx1' }), (err: unknown) =>
      err instanceof NetlinkError && err.code === 'EEXIST' && err.errno === 17 && err.op === 'RTM_NEWLINK veth cne0' &&
      err.message === 'RTM_NEWLINK veth cne0: EEXIST (File exists)');
    assert.throws(() => nl.setUp('cnmissing'), (err: unknown) =>
      err instanceof NetlinkError && err.code === 'ENODEV' && err.message === 'RTM_SETLINK cnmissing up: ENODEV (No such device)');
    assert.throws(() => nl.setMtu(99999, 1400), /RTM_SETLINK 99999 mtu 1400: ENODEV/);
    assert.throws(() => nl.addVeth({ name: 'cn-name-too-long-for-linux', peerName: 'cnx1' }), (err: unknown) =>
      err instanceof NetlinkError && err.code === 'EINVAL' && /must be 1 to 15 bytes/.test(err.message));
    // Characters only the kernel refuses.
    assert.throws(() => nl.addVeth({ name: 'cn/bad', peerName: 'cnx1' }), (err: unknown) =>
      err instanceof NetlinkError && err.code === 'EINVAL' && err.message.startsWith('RTM_NEWLINK veth cn/bad: EINVAL (Invalid argument)'));
    assert.throws(() => nl.setMtu('cne0', 10), (err: unknown) =>
      err instanceof NetlinkError && err.code === 'EINVAL' && err.extack !== undefined, 'the kernel explains (extack)');
    assert.equal(nl.getLink('cnmissing'), undefined);
    assert.throws(() => nl.ifindex('cnmissing'), /RTM_GETLINK cnmissing: ENODEV/);
  } finally {
    nl.deleteLink('cne0');
  }
});

test('a closed handle refuses work', { timeout: 30_000 }, () => {
  const h = Netlink.open({ netns: node });
  h.close();
  h.close();
  assert.throws(() => h.listLinks(), (err: unknown) => err instanceof NetlinkError && err.code === 'EBADF');
});
