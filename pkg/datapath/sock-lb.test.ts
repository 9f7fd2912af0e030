// Socket LB (bpf_sock.o) with real sockets on the real kernel: Python clients in a test cgroup and network
// namespaces connect to a service address that nothing routes, so only the socket LB rewrite reaches a
// backend. Covers TCP (spread, getpeername), UDP (unconnected and connected, recvfrom source), session
// affinity by netns cookie (and its expiry), terminating backends, Maglev against the TypeScript hash, a
// service without backends (ECONNREFUSED + drop event), IPv4-mapped IPv6, processes outside the cgroup,
// detach and reload.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { BackendState, SVC_F_AFFINITY, SVC_F_MAGLEV } from './maps.js';
import { DropReason, REASON_FORWARDED } from './reasons.js';
import { attachSockLb, detachSockLb, isSockLbAttached, querySockLb } from './sock-attach.js';
import {
  BACKEND_IPS, SockTestbed, TCP, TCP_PORT, UDP, UDP_PORT, VIP, type ClientOutput, type ClientSocketResult,
} from './sock-testbed.js';
import { sockLbHash } from './sock.js';

const MAGLEV_M = 251;
const ip = (id: number): string => BACKEND_IPS[id % 10];
const tcpServer = (id: number): string => `${ip(id)}:${TCP_PORT}`;
const udpServer = (id: number): string => `${ip(id)}:${UDP_PORT}`;

/** The servers that answered, in order; fails on the first socket that failed. */
function servers(out: ClientOutput): string[] {
  return out.results.map((r) => {
    assert.equal(r.error, undefined, `a socket failed: ${JSON.stringify(r)}`);
    return r.server ?? '';
  });
}

function udpReplies(r: ClientSocketResult): { from: string; server: string }[] {
  assert.equal(r.error, undefined, `a socket failed: ${JSON.stringify(r)}`);
  return [...(r.replies ?? [])];
}

describe('socket LB with real sockets', { timeout: 180_000 }, () => {
  let tb: SockTestbed;
  before(async () => { tb = await SockTestbed.open({ maglevTableSize: MAGLEV_M }); });
  after(async () => { await tb?.close(); });
  beforeEach(() => {
    tb.reset();
    attachSockLb(tb.cgroup, tb.sock.programs);
    for (const id of [1, 2, 3]) {
      tb.backend(id, TCP);
      tb.backend(10 + id, UDP);
    }
  });

  test('TCP: connect to the VIP reaches a backend, getpeername shows the VIP, many connects spread over 3 backends', { timeout: 60_000 }, async () => {
    tb.service({ port: 80, proto: TCP, revNat: 1, backends: [1, 2, 3] });
    const out = await tb.client('c1', { op: 'tcp', host: VIP, port: 80, count: 60 });
    const seen = servers(out);
    assert.deepEqual(new Set(seen), new Set([1, 2, 3].map(tcpServer)), 'every backend got connections');
    for (const r of out.results) assert.equal(r.peer, `${VIP}:80`, 'getpeername() reports the frontend');
    assert.equal(tb.serviceMetric(REASON_FORWARDED), 60n, 'one translation per connect');

    // The reverse mapping getpeername used: socket cookie + backend -> frontend and rev-NAT index.
    const first = out.results[0];
    const backend = first.server!.split(':')[0];
    assert.deepEqual(tb.maps.lb4ReverseSk.get({ cookie: BigInt(first.cookie!), address: backend, port: TCP_PORT }),
      { address: VIP, port: 80, rev_nat_index: 1 });
  });

  test('destinations that are no service, and processes outside the cgroup, are left alone', { timeout: 60_000 }, async () => {
    tb.service({ port: 80, proto: TCP, revNat: 1, backends: [1] });
    const direct = await tb.client('c1', { op: 'tcp', host: ip(2), port: TCP_PORT });
    assert.deepEqual(servers(direct), [tcpServer(2)]);
    assert.equal(direct.results[0].peer, tcpServer(2), 'getpeername of a direct connection is the real peer');
    const otherPort = await tb.client('c1', { op: 'tcp', host: VIP, port: 81 });
    assert.equal(otherPort.results[0].error, 'ENETUNREACH', 'VIP:81 is no service: untouched, and nothing routes it');
    const udpToTcpService = await tb.client('c1', { op: 'udp', host: VIP, port: 80 });
    assert.equal(udpToTcpService.results[0].error, 'ENETUNREACH', 'the service is TCP only');

    const outside = await tb.client('c1', { op: 'tcp', host: VIP, port: 80 }, { inCgroup: false });
    assert.equal(outside.results[0].error, 'ENETUNREACH', 'outside the cgroup the VIP is not translated');
    assert.equal(tb.serviceMetric(REASON_FORWARDED), 0n);
  });

  test('UDP: replies come from the VIP, each socket stays with its hashed slot; connected UDP too', { timeout: 60_000 }, async () => {
    tb.service({ port: 53, proto: UDP, revNat: 2, backends: [11, 12, 13] });
    const out = await tb.client('c1', { op: 'udp', host: VIP, port: 53, count: 6, datagrams: 4 });
    const used = new Set<string>();
    for (const r of out.results) {
      const replies = udpReplies(r);
      assert.equal(replies.length, 4);
      // Without Maglev a UDP socket takes slot 1 + hash % count: every datagram, the same backend.
      const slot = 1 + (sockLbHash(BigInt(r.cookie!), VIP, 53, UDP) % 3);
      for (const rep of replies) {
        assert.equal(rep.from, `${VIP}:53`, 'recvfrom() reports the frontend');
        assert.equal(rep.server, udpServer(10 + slot), `socket ${r.cookie} uses slot ${slot}`);
      }
      used.add(replies[0].server);
    }

    const connected = await tb.client('c2', { op: 'udp-connected', host: VIP, port: 53, count: 3, datagrams: 3 });
    for (const r of connected.results) {
      const replies = udpReplies(r);
      assert.equal(r.peer, `${VIP}:53`, 'getpeername() of a connected UDP socket');
      assert.deepEqual(replies.map((x) => x.from), [`${VIP}:53`, `${VIP}:53`, `${VIP}:53`]);
      assert.equal(new Set(replies.map((x) => x.server)).size, 1);
    }
  });

  test('session affinity pins each network namespace to one backend, keyed by its netns cookie', { timeout: 60_000 }, async () => {
    tb.service({ port: 80, proto: TCP, revNat: 1, backends: [1, 2, 3], flags: SVC_F_AFFINITY, affinityTimeout: 300 });
    for (const ns of ['c1', 'c2'] as const) {
      const out = await tb.client(ns, { op: 'tcp', host: VIP, port: 80, count: 20 });
      const seen = new Set(servers(out));
      assert.equal(seen.size, 1, `${ns}: one backend for every connection, got ${[...seen].join(', ')}`);
      const entry = tb.maps.lb4Affinity.get({ client_id: out.netnsCookie, rev_nat_id: 1, netns_cookie: 1 });
      assert.ok(entry, `${ns}: an affinity entry under its netns cookie ${out.netnsCookie}`);
      assert.equal(tcpServer(entry.backend_id), [...seen][0]);
      assert.ok(Math.abs(Number(entry.last_used) - tb.nowSeconds()) <= 2, 'last_used is CLOCK_MONOTONIC seconds');
    }
  });

  test('an affinity entry wins over Maglev until it expires', { timeout: 60_000 }, async () => {
    const timeout = 30;
    tb.service({ port: 80, proto: TCP, revNat: 1, backends: [1, 2, 3], flags: SVC_F_AFFINITY | SVC_F_MAGLEV, affinityTimeout: timeout });
    tb.maglev(1, new Array<number>(MAGLEV_M).fill(1)); // Maglev alone would always say backend 1
    const probe = await tb.client('c1', { op: 'tcp', host: VIP, port: 80 });
    assert.deepEqual(servers(probe), [tcpServer(1)]);
    const key = { client_id: probe.netnsCookie, rev_nat_id: 1, netns_cookie: 1 };

    tb.maps.lb4Affinity.put(key, { last_used: BigInt(tb.nowSeconds()), backend_id: 3 });
    assert.deepEqual(new Set(servers(await tb.client('c1', { op: 'tcp', host: VIP, port: 80, count: 10 }))), new Set([tcpServer(3)]));

    tb.maps.lb4Affinity.put(key, { last_used: BigInt(tb.nowSeconds() - timeout - 2), backend_id: 3 });
    assert.deepEqual(servers(await tb.client('c1', { op: 'tcp', host: VIP, port: 80 })), [tcpServer(1)], 'expired: Maglev decides');
    assert.equal(tb.maps.lb4Affinity.get(key)?.backend_id, 1, 'and the entry now names the new backend');
  });

  test('a terminating backend (no slot) gets no new connections, not even through affinity', { timeout: 60_000 }, async () => {
    tb.backend(3, TCP, BackendState.Terminating);
    tb.service({ port: 80, proto: TCP, revNat: 1, backends: [1, 2] });
    const spread = new Set(servers(await tb.client('c1', { op: 'tcp', host: VIP, port: 80, count: 30 })));
    assert.deepEqual(spread, new Set([tcpServer(1), tcpServer(2)]));

    tb.service({ port: 80, proto: TCP, revNat: 1, backends: [1, 2], flags: SVC_F_AFFINITY, affinityTimeout: 300 });
    const probe = await tb.client('c2', { op: 'tcp', host: VIP, port: 80 });
    tb.maps.lb4Affinity.put({ client_id: probe.netnsCookie, rev_nat_id: 1, netns_cookie: 1 }, { last_used: BigInt(tb.nowSeconds()), backend_id: 3 });
    const after = servers(await tb.client('c2', { op: 'tcp', host: VIP, port: 80, count: 10 }));
    assert.ok(!after.includes(tcpServer(3)), `the terminating backend was chosen: ${after.join(', ')}`);
  });

  test('Maglev: the backend is the table entry of the socket hash, stable for a socket', { timeout: 60_000 }, async () => {
    const table = Array.from({ length: MAGLEV_M }, (_, i) => 1 + (i % 3));
    tb.service({ port: 80, proto: TCP, revNat: 1, backends: [1, 2, 3], flags: SVC_F_MAGLEV });
    tb.maglev(1, table);
    const out = await tb.client('c1', { op: 'tcp', host: VIP, port: 80, count: 20 });
    for (const r of out.results) {
      const expected = table[sockLbHash(BigInt(r.cookie!), VIP, 80, TCP) % MAGLEV_M];
      assert.equal(r.server, tcpServer(expected), `socket ${r.cookie}`);
    }

    const udpTable = table.map((id) => 10 + id);
    tb.service({ port: 53, proto: UDP, revNat: 2, backends: [11, 12, 13], flags: SVC_F_MAGLEV });
    tb.maglev(2, udpTable);
    const udp = await tb.client('c1', { op: 'udp', host: VIP, port: 53, count: 4, datagrams: 5 });
    for (const r of udp.results) {
      const expected = udpTable[sockLbHash(BigInt(r.cookie!), VIP, 53, UDP) % MAGLEV_M];
      assert.deepEqual(udpReplies(r).map((x) => x.server), new Array<string>(5).fill(udpServer(expected)));
    }
  });

  test('a service without backends: ECONNREFUSED and a "Service backend not found" drop event', { timeout: 60_000 }, async () => {
    tb.service({ port: 80, proto: TCP, revNat: 1, backends: [] });
    const since = tb.mark();
    const out = await tb.client('c1', { op: 'tcp', host: VIP, port: 80 });
    assert.equal(out.results[0].error, 'ECONNREFUSED');
    const cookie = BigInt(out.results[0].cookie!);
    const ev = await tb.waitForEvent((e) => e.type === 'drop' && e.hash === Number(cookie & 0xffffffffn), since);
    assert.ok(ev.type === 'drop');
    assert.equal(ev.reason, DropReason.NoService);
    assert.equal(ev.file, 5, 'bpf_sock.c');
    assert.ok(ev.line > 0);
    assert.deepEqual([ev.daddr, ev.dport, ev.proto, ev.dir], [VIP, 80, TCP, 'egress']);
    assert.equal(tb.serviceMetric(DropReason.NoService), 1n);

    // UDP sendto fails the same way; so does a slot naming a backend that does not exist.
    tb.service({ port: 53, proto: UDP, revNat: 2, backends: [] });
    assert.equal((await tb.client('c1', { op: 'udp', host: VIP, port: 53 })).results[0].error, 'ECONNREFUSED');
    tb.service({ port: 8000, proto: TCP, revNat: 3, backends: [99] });
    assert.equal((await tb.client('c1', { op: 'tcp', host: VIP, port: 8000 })).results[0].error, 'ECONNREFUSED');
    // A dual-stack socket asking for the IPv4-mapped frontend (connect6).
    const mapped = await tb.client('c1', { op: 'tcp', family: 6, host: `::ffff:${VIP}`, port: 80 });
    assert.equal(mapped.results[0].error, 'ECONNREFUSED');
    const mappedCookie = BigInt(mapped.results[0].cookie!);
    const ev6 = await tb.waitForEvent((e) => e.type === 'drop' && e.hash === Number(mappedCookie & 0xffffffffn), since);
    assert.deepEqual([ev6.daddr, ev6.dport], [VIP, 80]);
    assert.equal(tb.serviceMetric(DropReason.NoService), 4n);
    assert.equal(tb.serviceMetric(REASON_FORWARDED), 0n);
  });

  test('dual-stack sockets: IPv4-mapped addresses are balanced and reverse-translated; real IPv6 is not', { timeout: 60_000 }, async () => {
    tb.service({ port: 80, proto: TCP, revNat: 1, backends: [1, 2, 3] });
    tb.service({ port: 53, proto: UDP, revNat: 2, backends: [11, 12, 13] });
    const mapped = `::ffff:${VIP}`;
    const tcp = await tb.client('c1', { op: 'tcp', family: 6, host: mapped, port: 80, count: 30 });
    assert.deepEqual(new Set(servers(tcp)), new Set([1, 2, 3].map(tcpServer)));
    for (const r of tcp.results) assert.equal(r.peer, `${mapped}:80`);

    const udp = await tb.client('c1', { op: 'udp', family: 6, host: mapped, port: 53, count: 2, datagrams: 2 });
    for (const r of udp.results) assert.deepEqual(udpReplies(r).map((x) => x.from), [`${mapped}:53`, `${mapped}:53`]);
    const connected = await tb.client('c1', { op: 'udp-connected', family: 6, host: mapped, port: 53 });
    assert.equal(connected.results[0].peer, `${mapped}:53`);
    assert.deepEqual(udpReplies(connected.results[0]).map((x) => x.from), [`${mapped}:53`]);
    const translated = tb.serviceMetric(REASON_FORWARDED);
    assert.equal(translated, 30n + 2n * 2n + 1n);

    // The VIP's 32 bits under a real IPv6 prefix are no service.
    const v6 = await tb.client('c1', { op: 'tcp', family: 6, host: 'fd00::a60:fd0a', port: 80 });
    assert.equal(v6.results[0].error, 'ENETUNREACH');
    assert.equal(tb.serviceMetric(REASON_FORWARDED), translated);
  });

  test('detach restores the original behaviour', { timeout: 60_000 }, async () => {
    tb.service({ port: 80, proto: TCP, revNat: 1, backends: [1] });
    assert.deepEqual(servers(await tb.client('c1', { op: 'tcp', host: VIP, port: 80 })), [tcpServer(1)]);
    assert.equal(detachSockLb(tb.cgroup), 8);
    assert.ok(Object.values(querySockLb(tb.cgroup)).every((h) => h.ours.length === 0));
    assert.equal((await tb.client('c1', { op: 'tcp', host: VIP, port: 80 })).results[0].error, 'ENETUNREACH');
  });

  test('reloading replaces the programs while clients keep connecting', { timeout: 90_000 }, async (t) => {
    tb.service({ port: 80, proto: TCP, revNat: 1, backends: [1, 2, 3] });
    const instances = [tb.loadAnotherSock(), tb.sock];
    let done = false;
    const running = tb.client('c1', { op: 'tcp', host: VIP, port: 80, count: 200 }).finally(() => { done = true; });
    let swaps = 0;
    while (!done) {
      const next = instances[swaps++ % 2];
      attachSockLb(tb.cgroup, next.programs);
      assert.ok(isSockLbAttached(tb.cgroup, next.programs));
      await new Promise((r) => setTimeout(r, 5));
    }
    const out = await running;
    t.diagnostic(`${swaps} reloads during 200 connects`);
    assert.equal(servers(out).length, 200, 'every connect succeeded');
    for (const r of out.results) assert.equal(r.peer, `${VIP}:80`);
  });
});
