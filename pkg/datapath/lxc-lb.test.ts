// Per-packet service load balancing of bpf_lxc.o on the real kernel: DNAT with correct checksums, reverse
// NAT of replies (through the stack and by local delivery), CT_SERVICE pinning that outlives the backend,
// "Service backend not found", session affinity, Maglev (checked against the TypeScript jhash) and source
// ranges.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { maglevFlowHash, maglevIndex } from '../lb/maglev/index.js';
import {
  affinityClientId, BackendState, createMaglevTable, CT_EGRESS, CT_SERVICE, MetricDir, SVC_F_AFFINITY, SVC_F_MAGLEV,
  SVC_F_SOURCE_RANGE,
} from './maps.js';
import { ipv4Packet, tcpPacket, TcpFlag, udpPacket, type ParsedIpv4 } from './packet.js';
import { DropReason } from './reasons.js';
import { LxcTestbed, TC_ACT_OK, TC_ACT_REDIRECT, TC_ACT_SHOT, testEndpoint } from './testbed.js';

const A = testEndpoint(1);
const B = testEndpoint(2);
const C = testEndpoint(3);
const VIP = '10.96.252.10';
const TCP = 6;
const UDP = 17;
const MAGLEV_M = 251;
const REMOTE_BACKENDS = ['10.244.252.201', '10.244.252.202', '10.244.252.203', '10.244.252.204'];

interface ServiceSpec {
  port?: number;
  proto?: number;
  revNat?: number;
  backends: number[];
  flags?: number;
  affinityTimeout?: number;
}

describe('bpf_lxc per-packet load balancing', { timeout: 60_000 }, () => {
  let tb: LxcTestbed;
  before(async () => { tb = await LxcTestbed.open({ maglevTableSize: MAGLEV_M }); });
  after(async () => { await tb?.close(); });
  beforeEach(() => {
    tb.reset();
    for (const ep of [A, B, C]) tb.addEndpoint(ep);
    tb.as(A);
    // Backends 1..4 remote (port 8080), 10 = endpoint B (port 8080).
    REMOTE_BACKENDS.forEach((ip, i) => tb.maps.lb4Backends.put(i + 1, { address: ip, port: 8080, proto: TCP, flags: BackendState.Active }));
    tb.maps.lb4Backends.put(10, { address: B.ip, port: 8080, proto: TCP, flags: BackendState.Active });
  });

  /** Writes the master entry, the slots and the reverse-NAT entry of VIP:port. */
  function service(s: ServiceSpec): void {
    const port = s.port ?? 80;
    const proto = s.proto ?? TCP;
    const revNat = s.revNat ?? 1;
    const key = { address: VIP, dport: port, proto, scope: 0 };
    tb.maps.lb4Services.put({ ...key, backend_slot: 0 }, {
      backend_id: s.affinityTimeout ?? 0, count: s.backends.length, rev_nat_index: revNat, flags: s.flags ?? 0, flags2: 0,
    });
    s.backends.forEach((id, i) => tb.maps.lb4Services.put({ ...key, backend_slot: i + 1 }, { backend_id: id, count: 0, rev_nat_index: revNat, flags: 0, flags2: 0 }));
    tb.maps.lb4ReverseNat.put(revNat, { address: VIP, port });
  }

  function ip(r: { parsed?: { ipv4?: ParsedIpv4 } }): ParsedIpv4 {
    assert.ok(r.parsed?.ipv4, 'the output is an IPv4 packet');
    return r.parsed.ipv4;
  }

  test('DNAT to the backend with correct IP and TCP checksums; the reply is reverse-NATed', { timeout: 10_000 }, () => {
    service({ backends: [1] });
    const r = tb.fromContainer(tcpPacket(A.ip, 40000, VIP, 80, TcpFlag.SYN, { payload: Buffer.from('hello') }));
    assert.equal(r.retval, TC_ACT_OK);
    const out = ip(r);
    assert.equal(out.dst, REMOTE_BACKENDS[0]);
    assert.equal(out.tcp!.dport, 8080);
    assert.equal(out.src, A.ip);
    assert.equal(out.tcp!.sport, 40000);
    assert.ok(out.checksumOk, 'IP checksum');
    assert.ok(out.tcp!.checksumOk, 'TCP checksum');
    assert.equal(out.tcp!.payload.toString(), 'hello');

    const svcEntry = tb.ct({ saddr: A.ip, daddr: VIP, sport: 40000, dport: 80, nexthdr: TCP, flags: CT_SERVICE });
    assert.ok(svcEntry);
    assert.equal(svcEntry.backend_id, 1);
    assert.equal(svcEntry.nat_addr, REMOTE_BACKENDS[0]);
    assert.equal(svcEntry.nat_port, 8080);
    assert.equal(tb.ct({ saddr: A.ip, daddr: REMOTE_BACKENDS[0], sport: 40000, dport: 8080, nexthdr: TCP, flags: CT_EGRESS })?.rev_nat_index, 1);

    const reply = tb.toContainer(tcpPacket(REMOTE_BACKENDS[0], 8080, A.ip, 40000, TcpFlag.SYN | TcpFlag.ACK));
    assert.equal(reply.retval, TC_ACT_OK);
    const back = ip(reply);
    assert.equal(back.src, VIP);
    assert.equal(back.tcp!.sport, 80);
    assert.ok(back.checksumOk && back.tcp!.checksumOk);
  });

  test('UDP: DNAT fixes the checksum; a zero ("none") checksum stays zero', { timeout: 10_000 }, () => {
    tb.maps.lb4Backends.put(20, { address: REMOTE_BACKENDS[1], port: 5353, proto: UDP, flags: 0 });
    service({ port: 53, proto: UDP, revNat: 2, backends: [20] });
    const out = ip(tb.fromContainer(udpPacket(A.ip, 6000, VIP, 53, { payload: Buffer.from('query') })));
    assert.equal(out.dst, REMOTE_BACKENDS[1]);
    assert.equal(out.udp!.dport, 5353);
    assert.ok(out.checksumOk && out.udp!.checksumOk && out.udp!.checksum !== 0);
    const none = ipv4Packet({ ip: { src: A.ip, dst: VIP }, l4: { proto: 'udp', sport: 6001, dport: 53, noChecksum: true } });
    const out2 = ip(tb.fromContainer(none));
    assert.equal(out2.dst, REMOTE_BACKENDS[1]);
    assert.equal(out2.udp!.checksum, 0);
    assert.ok(out2.checksumOk);
  });

  test('a local backend: DNAT then delivery by redirect; its reply comes back reverse-NATed by redirect', { timeout: 10_000 }, () => {
    service({ backends: [10] });
    const r = tb.fromContainer(tcpPacket(A.ip, 40100, VIP, 80));
    assert.equal(r.retval, TC_ACT_REDIRECT);
    assert.equal(ip(r).dst, B.ip);
    assert.equal(r.parsed!.eth.dst, B.mac);
    tb.as(B);
    const reply = tb.fromContainer(tcpPacket(B.ip, 8080, A.ip, 40100, TcpFlag.SYN | TcpFlag.ACK));
    assert.equal(reply.retval, TC_ACT_REDIRECT);
    const back = ip(reply);
    assert.equal(back.src, VIP);
    assert.equal(back.tcp!.sport, 80);
    assert.ok(back.checksumOk && back.tcp!.checksumOk);
    assert.equal(reply.parsed!.eth.dst, A.mac);
  });

  test('CT_SERVICE pins a flow to its backend, even after the backend is removed', { timeout: 10_000 }, () => {
    service({ backends: [1, 2, 3, 4] });
    const first = ip(tb.fromContainer(tcpPacket(A.ip, 40200, VIP, 80))).dst;
    for (let i = 0; i < 20; i++) {
      assert.equal(ip(tb.fromContainer(tcpPacket(A.ip, 40200, VIP, 80, TcpFlag.ACK))).dst, first);
    }
    // Remove the chosen backend: from the slots and from the backend table.
    const chosen = REMOTE_BACKENDS.indexOf(first) + 1;
    service({ backends: [1, 2, 3, 4].filter((id) => id !== chosen) });
    tb.maps.lb4Services.delete({ address: VIP, dport: 80, backend_slot: 4, proto: TCP, scope: 0 });
    tb.maps.lb4Backends.delete(chosen);
    assert.equal(ip(tb.fromContainer(tcpPacket(A.ip, 40200, VIP, 80, TcpFlag.ACK))).dst, first);
    // New connections spread over the rest (random): many connections see more than one backend, never the removed one.
    const seen = new Set<string>();
    for (let p = 0; p < 40; p++) seen.add(ip(tb.fromContainer(tcpPacket(A.ip, 41000 + p, VIP, 80))).dst);
    assert.ok(!seen.has(first));
    assert.ok(seen.size > 1, `random selection used ${seen.size} backend(s)`);
  });

  test('a service without backends drops with 158 "Service backend not found"; so does a slot without backend', { timeout: 10_000 }, async () => {
    service({ backends: [] });
    const since = tb.mark();
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 40300, VIP, 80)).retval, TC_ACT_SHOT);
    assert.equal(tb.metric(DropReason.NoService, MetricDir.Service).count, 1n);
    const ev = await tb.waitForEvent((e) => e.type === 'drop', since);
    assert.equal(ev.type === 'drop' && ev.reason, DropReason.NoService);
    service({ backends: [77] });
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 40301, VIP, 80)).retval, TC_ACT_SHOT);
    assert.equal(tb.metric(DropReason.NoService, MetricDir.Service).count, 2n);
  });

  test('other ports of the VIP are not a service: passed unchanged', { timeout: 10_000 }, () => {
    service({ backends: [1] });
    const pkt = tcpPacket(A.ip, 40400, VIP, 81);
    const r = tb.fromContainer(pkt);
    assert.equal(r.retval, TC_ACT_OK);
    assert.deepEqual(r.data, pkt);
  });

  test('session affinity pins a client to one backend across connections while it stays in the service', { timeout: 10_000 }, () => {
    service({ backends: [1, 2, 3, 4], flags: SVC_F_AFFINITY, affinityTimeout: 300 });
    const first = ip(tb.fromContainer(tcpPacket(A.ip, 42000, VIP, 80))).dst;
    for (let p = 1; p < 30; p++) assert.equal(ip(tb.fromContainer(tcpPacket(A.ip, 42000 + p, VIP, 80))).dst, first);
    const aff = tb.maps.lb4Affinity.get({ client_id: affinityClientId(A.ip), rev_nat_id: 1, netns_cookie: 0 });
    assert.equal(aff?.backend_id, REMOTE_BACKENDS.indexOf(first) + 1);

    // The backend leaves the service (still exists elsewhere): affinity moves on and is rewritten.
    const chosen = REMOTE_BACKENDS.indexOf(first) + 1;
    tb.maps.lb4Services.delete({ address: VIP, dport: 80, backend_slot: 4, proto: TCP, scope: 0 });
    service({ backends: [1, 2, 3, 4].filter((id) => id !== chosen), flags: SVC_F_AFFINITY, affinityTimeout: 300 });
    const next = ip(tb.fromContainer(tcpPacket(A.ip, 43000, VIP, 80))).dst;
    assert.notEqual(next, first);
    for (let p = 1; p < 10; p++) assert.equal(ip(tb.fromContainer(tcpPacket(A.ip, 43000 + p, VIP, 80))).dst, next);
  });

  test('Maglev picks table[jhash_3words(saddr, daddr, sport << 16 | dport, proto) % M]', { timeout: 20_000 }, () => {
    service({ backends: [1, 2, 3, 4], flags: SVC_F_MAGLEV });
    // A deliberately uneven table so that a wrong index shows.
    const table = Array.from({ length: MAGLEV_M }, (_, i) => [1, 2, 3, 4, 4, 3][(i * 7 + (i >> 3)) % 6]);
    const inner = createMaglevTable(table);
    try {
      tb.maps.lb4Maglev.put(1, inner.fd);
    } finally {
      inner.close();
    }
    for (const [client, sport] of [[A, 1000], [A, 1001], [A, 55555], [C, 1000], [C, 65535], [A, 1]] as const) {
      tb.as(client);
      // docs/datapath.md: the words are converted to host order (bpf_ntohl/bpf_ntohs) before hashing.
      const expected = table[maglevIndex(maglevFlowHash({ saddr: client.ip, daddr: VIP, sport, dport: 80, protocol: TCP }, 'host'), MAGLEV_M)];
      const got = ip(tb.fromContainer(tcpPacket(client.ip, sport, VIP, 80))).dst;
      assert.equal(got, REMOTE_BACKENDS[expected - 1], `${client.ip}:${sport}`);
    }
  });

  test('source ranges: a client outside every range is dropped with 177', { timeout: 10_000 }, () => {
    service({ backends: [1], flags: SVC_F_SOURCE_RANGE });
    tb.maps.lb4SourceRange.put({ prefixlen: 32 + 30, rev_nat_id: 1, addr: '10.244.252.0' }, 1); // .0 - .3: A, B, C
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 44000, VIP, 80)).retval, TC_ACT_OK);
    tb.maps.lb4SourceRange.clear();
    tb.maps.lb4SourceRange.put({ prefixlen: 32 + 32, rev_nat_id: 1, addr: C.ip }, 1);
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 44001, VIP, 80)).retval, TC_ACT_SHOT);
    assert.equal(tb.metric(DropReason.NotInSrcRange, MetricDir.Service).count, 1n);
    tb.as(C);
    assert.equal(tb.fromContainer(tcpPacket(C.ip, 44002, VIP, 80)).retval, TC_ACT_OK);
  });
});

describe('bpf_lxc with per-packet LB off', { timeout: 30_000 }, () => {
  let tb: LxcTestbed;
  before(async () => { tb = await LxcTestbed.open({ enablePacketLb: false }); });
  after(async () => { await tb?.close(); });

  test('service entries are ignored', { timeout: 10_000 }, () => {
    tb.addEndpoint(A);
    tb.as(A);
    tb.maps.lb4Services.put({ address: VIP, dport: 80, backend_slot: 0, proto: TCP, scope: 0 }, { backend_id: 0, count: 0, rev_nat_index: 1, flags: 0, flags2: 0 });
    const pkt = tcpPacket(A.ip, 1, VIP, 80);
    const r = tb.fromContainer(pkt);
    assert.equal(r.retval, TC_ACT_OK);
    assert.deepEqual(r.data, pkt);
  });
});
