// End-to-end tests of the pod wiring hot path: two pods wired to a node-side gateway, traffic, teardown,
// rollback on failure; plus a latency measurement printed as diagnostics (not asserted).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { Netlink } from './netlink.js';
import { NetlinkError } from './errors.js';
import { unwirePod, wirePod, type PodWiringSpec } from './pod-wiring.js';
import { getSysctl, setSysctl } from './sysctl.js';
import { ScratchNetns, ipJson } from './testutil.js';
import { openNetns } from '../netns/with-netns.js';

interface IpLink { ifindex: number; address: string; mtu: number; flags: string[]; addr_info?: { family: string; local: string; prefixlen: number }[] }
interface IpRoute { dst: string; gateway?: string; dev: string; scope?: string; flags: string[] }

const GATEWAY = '10.244.250.1';
const scratch = new ScratchNetns('pw');
let node = '';
let podA = '';
let podB = '';
let nl: Netlink;

before(() => {
  node = scratch.create('node');
  podA = scratch.create('pa');
  podB = scratch.create('pb');
  nl = Netlink.open({ netns: node });
  // The node's gateway address lives on a veth pair, as Cilium's cilium_host/cilium_net (no dummy devices here).
  nl.addVeth({ name: 'cnhost', peerName: 'cnnet', up: true });
  nl.setUp('cnnet');
  nl.addAddress({ address: `${GATEWAY}/32`, dev: 'cnhost' });
});
after(() => {
  nl.close();
  scratch.cleanup();
});

function spec(pod: string | number, host: string, podIp: string): PodWiringSpec {
  return { podNetns: pod, hostIfname: host, podIfname: 'eth0', podIp, gatewayIp: GATEWAY, mtu: 1450, hostRoute: true };
}

function ping(fromNetns: string, to: string): void {
  // iputils ping is not installed on these machines; busybox (busybox-static, see scripts/setup.sh) has one.
  execFileSync('ip', ['netns', 'exec', fromNetns, 'busybox', 'ping', '-c1', '-W2', to], { stdio: 'pipe' });
}

test('wirePod wires two pods that reach the gateway and each other', { timeout: 60_000 }, () => {
  const a = wirePod(nl, spec(podA, 'cnlxca', '10.244.250.10'));
  const fd = openNetns(podB);
  let b;
  try {
    b = wirePod(nl, spec(fd, 'cnlxcb', '10.244.250.11'));
  } finally {
    fs.closeSync(fd);
  }
  try {
    // Host side, as iproute2 sees it.
    const hostA = ipJson<IpLink[]>('-n', node, 'link', 'show', 'dev', 'cnlxca')[0];
    assert.equal(hostA.ifindex, a.hostIfindex);
    assert.equal(hostA.address, a.hostMac);
    assert.equal(hostA.mtu, 1450);
    assert.ok(hostA.flags.includes('UP'));
    assert.ok(ipJson<IpRoute[]>('-n', node, 'route', 'show', 'dev', 'cnlxca').some((r) => r.dst === '10.244.250.10' && r.scope === 'link'));

    // Pod side.
    const podLink = ipJson<IpLink[]>('-n', podA, 'addr', 'show', 'dev', 'eth0')[0];
    assert.equal(podLink.ifindex, a.podIfindex);
    assert.equal(podLink.address, a.podMac);
    assert.equal(podLink.mtu, 1450);
    assert.ok(podLink.flags.includes('UP'));
    assert.deepEqual(podLink.addr_info?.map((x) => [x.family, x.local, x.prefixlen]), [['inet', '10.244.250.10', 32]],
      'exactly the pod address: no IPv6 link-local');
    const routes = ipJson<IpRoute[]>('-n', podA, 'route', 'show');
    assert.deepEqual(routes.map((r) => ({ dst: r.dst, gateway: r.gateway, dev: r.dev, scope: r.scope, onlink: r.flags.includes('onlink') })), [
      { dst: 'default', gateway: GATEWAY, dev: 'eth0', scope: undefined, onlink: true },
      { dst: GATEWAY, gateway: undefined, dev: 'eth0', scope: 'link', onlink: false },
    ]);
    assert.equal(getSysctl('net.ipv6.conf.all.disable_ipv6', { netns: podA }), '1');
    assert.equal(getSysctl('net.ipv6.conf.eth0.disable_ipv6', { netns: podA }), '1');
    assert.notEqual(a.hostIfindex, b.hostIfindex);

    ping(podA, GATEWAY);
    ping(podB, GATEWAY);
    // Pod to pod goes through the node's routing table.
    setSysctl('net.ipv4.ip_forward', '1', { netns: node });
    ping(podA, '10.244.250.11');
  } finally {
    unwirePod(nl, 'cnlxca');
    unwirePod(nl, 'cnlxcb');
  }
});

test('unwirePod removes both ends, the pod config and the host route; it is idempotent', { timeout: 30_000 }, () => {
  wirePod(nl, spec(podA, 'cnlxca', '10.244.250.10'));
  assert.equal(unwirePod(nl, 'cnlxca'), true);
  assert.equal(nl.getLink('cnlxca'), undefined);
  assert.deepEqual(ipJson<IpLink[]>('-n', podA, 'link', 'show').map((l) => l.ifindex), [1], 'only lo left in the pod');
  assert.deepEqual(ipJson<IpRoute[]>('-n', podA, 'route', 'show'), []);
  assert.equal(nl.listRoutes().some((r) => r.dst === '10.244.250.10/32'), false);
  assert.equal(unwirePod(nl, 'cnlxca'), false);
});

test('wirePod leaves nothing behind when it fails', { timeout: 30_000 }, () => {
  // A host name that is taken: the veth is never created, and the existing device is left alone.
  assert.throws(() => wirePod(nl, spec(podA, 'cnhost', '10.244.250.10')), (err: unknown) =>
    err instanceof NetlinkError && err.code === 'EEXIST' && err.op === 'RTM_NEWLINK veth cnhost');
  assert.ok(nl.getLink('cnhost'), 'cnhost is still there');
  assert.deepEqual(ipJson<IpLink[]>('-n', podA, 'link', 'show').map((l) => l.ifindex), [1]);

  // A failure after the veth exists (the pod already has a default route): the veth is rolled back.
  const podNl = Netlink.open({ netns: podA });
  try {
    podNl.addVeth({ name: 'cnx0', peerName: 'cnx1', up: true });
    podNl.addRoute({ dst: 'default', dev: 'cnx0' });
    assert.throws(() => wirePod(nl, spec(podA, 'cnlxca', '10.244.250.10')), (err: unknown) =>
      err instanceof NetlinkError && err.code === 'EEXIST' && err.op.startsWith('RTM_NEWROUTE 0.0.0.0/0 via 10.244.250.1'));
    assert.equal(nl.getLink('cnlxca'), undefined, 'host side rolled back');
    assert.equal(podNl.getLink('eth0'), undefined, 'pod side gone with it');
  } finally {
    podNl.deleteLink('cnx0');
    podNl.close();
  }

  assert.throws(() => wirePod(nl, { ...spec(podA, 'cnlxca', 'fd00::10'), gatewayIp: GATEWAY }), TypeError);
  assert.throws(() => wirePod(nl, spec(`${podA}-missing`, 'cnlxca', '10.244.250.10')), /ENOENT/);
  assert.equal(nl.getLink('cnlxca'), undefined);
});

test('beforePodUp runs with the host end\'s ifindex while the pod end is still down; its error undoes the wiring', { timeout: 30_000 }, () => {
  let seen: { ifindex: number; podUp: boolean; podAddrs: number } | undefined;
  const w = wirePod(nl, {
    ...spec(podA, 'cnlxca', '10.244.250.10'),
    beforePodUp: (ifindex) => {
      const eth0 = ipJson<IpLink[]>('-n', podA, 'addr', 'show', 'dev', 'eth0')[0];
      seen = { ifindex, podUp: eth0.flags.includes('UP'), podAddrs: eth0.addr_info?.length ?? 0 };
    },
  });
  try {
    assert.deepEqual(seen, { ifindex: w.hostIfindex, podUp: false, podAddrs: 0 });
  } finally {
    unwirePod(nl, 'cnlxca');
  }
  assert.throws(() => wirePod(nl, { ...spec(podA, 'cnlxca', '10.244.250.10'), beforePodUp: () => { throw new Error('attach failed'); } }), /attach failed/);
  assert.equal(nl.getLink('cnlxca'), undefined, 'host side rolled back');
  assert.deepEqual(ipJson<IpLink[]>('-n', podA, 'link', 'show').map((l) => l.ifindex), [1], 'pod side gone with it');
});

test('wirePod latency (measured, not asserted)', { timeout: 120_000 }, (t) => {
  const runs = 50;
  const wire: number[] = [];
  const unwire: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    wirePod(nl, { ...spec(podA, 'cnlxca', '10.244.250.10'), hostRoute: false });
    const t1 = process.hrtime.bigint();
    unwirePod(nl, 'cnlxca');
    const t2 = process.hrtime.bigint();
    wire.push(Number(t1 - t0) / 1e6);
    unwire.push(Number(t2 - t1) / 1e6);
  }
  const pct = (xs: number[], p: number): string => {
    const sorted = [...xs].sort((x, y) => x - y);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(3);
  };
  const line = `wirePod over ${runs} runs: p50 ${pct(wire, 50)} ms, p99 ${pct(wire, 99)} ms, max ${pct(wire, 100)} ms; ` +
    `unwirePod p50 ${pct(unwire, 50)} ms, p99 ${pct(unwire, 99)} ms`;
  t.diagnostic(line);
  console.log(line);
  assert.equal(nl.getLink('cnlxca'), undefined);
});
