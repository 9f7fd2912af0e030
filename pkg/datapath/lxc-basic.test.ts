// bpf_lxc.o on the real kernel through BPF_PROG_TEST_RUN: L2/L3 handling, source checks, parsing drops,
// metrics, local delivery (redirect_peer with MAC rewrite and TTL decrement) and drop events in the ring buffer.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { formatEvent, type DropEvent } from './events.js';
import { MetricDir } from './maps.js';
import { arpPacket, ethernetFrame, EtherType, icmpEcho, ipv4Packet, tcpPacket, TcpFlag, udpPacket } from './packet.js';
import { DropReason } from './reasons.js';
import { LxcTestbed, TC_ACT_OK, TC_ACT_REDIRECT, TC_ACT_SHOT, testEndpoint } from './testbed.js';

const A = testEndpoint(1);
const B = testEndpoint(2);
const REMOTE = '10.244.252.200';

describe('bpf_lxc basics', { timeout: 60_000 }, () => {
  let tb: LxcTestbed;
  before(async () => { tb = await LxcTestbed.open(); });
  after(async () => { await tb?.close(); });
  beforeEach(() => {
    tb.reset();
    tb.addEndpoint(A);
    tb.addEndpoint(B);
    tb.as(A);
  });

  const dropOf = async (reason: number, from: bigint): Promise<DropEvent> =>
    await tb.waitForEvent((e) => e.type === 'drop' && e.reason === reason, from) as DropEvent;

  test('ARP passes in both programs and counts as forwarded', { timeout: 10_000 }, () => {
    const arp = arpPacket({ op: 1, senderMac: A.mac, senderIp: A.ip, targetIp: '10.244.252.254' });
    assert.equal(tb.fromContainer(arp).retval, TC_ACT_OK);
    assert.equal(tb.toContainer(arp).retval, TC_ACT_OK);
    assert.equal(tb.metric(0, MetricDir.Egress).count, 1n);
    assert.equal(tb.metric(0, MetricDir.Ingress).count, 1n);
  });

  test('IPv6 and LLDP are dropped with 139 and reported with their reason', { timeout: 10_000 }, async () => {
    const from = tb.mark();
    const v6 = ethernetFrame({}, EtherType.IPv6, Buffer.alloc(40));
    const lldp = ethernetFrame({ dst: '01:80:c2:00:00:0e' }, EtherType.LLDP, Buffer.alloc(32));
    assert.equal(tb.fromContainer(v6).retval, TC_ACT_SHOT);
    assert.equal(tb.fromContainer(lldp).retval, TC_ACT_SHOT);
    assert.equal(tb.toContainer(v6).retval, TC_ACT_SHOT);
    const ev = await dropOf(DropReason.UnknownL3, from);
    assert.equal(ev.source, A.id);
    assert.equal(ev.file, 2);
    assert.ok(ev.line > 0);
    assert.match(formatEvent(ev), /^xx drop \(Unsupported L3 protocol\) flow 0x[0-9a-f]+ to endpoint 0, ifindex 1, file bpf_lxc\.c:\d+, identity 1001->0: 0\.0\.0\.0 -> 0\.0\.0\.0$/);
    assert.equal(tb.metric(DropReason.UnknownL3, MetricDir.Egress).count, 2n);
    assert.equal(tb.metric(DropReason.UnknownL3, MetricDir.Ingress).count, 1n);
    assert.equal(tb.metric(DropReason.UnknownL3, MetricDir.Egress).bytes, BigInt(v6.length + lldp.length));
  });

  test('a spoofed source address is dropped with 132', { timeout: 10_000 }, async () => {
    const from = tb.mark();
    const r = tb.fromContainer(tcpPacket('10.244.252.99', 1234, REMOTE, 80));
    assert.equal(r.retval, TC_ACT_SHOT);
    const ev = await dropOf(DropReason.InvalidSip, from);
    assert.equal(ev.saddr, '10.244.252.99');
    assert.equal(ev.daddr, REMOTE);
    assert.equal(tb.metric(DropReason.InvalidSip, MetricDir.Egress).count, 1n);
  });

  test('no endpoint for the device: 203', { timeout: 10_000 }, () => {
    tb.maps.lxc.clear();
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 1234, REMOTE, 80)).retval, TC_ACT_SHOT);
    assert.equal(tb.toContainer(tcpPacket(REMOTE, 80, A.ip, 1234)).retval, TC_ACT_SHOT);
    assert.equal(tb.metric(DropReason.EpNotReady, MetricDir.Egress).count, 1n);
    assert.equal(tb.metric(DropReason.EpNotReady, MetricDir.Ingress).count, 1n);
  });

  test('parsing drops: fragment 157, truncated TCP 135, GRE 137, ICMP timestamp 144', { timeout: 10_000 }, () => {
    const frag = ipv4Packet({ ip: { src: A.ip, dst: REMOTE, fragOffset: 185, flags: 0 }, l4: { proto: 'udp', sport: 1, dport: 2 } });
    assert.equal(tb.fromContainer(frag).retval, TC_ACT_SHOT);
    const truncated = tcpPacket(A.ip, 1234, REMOTE, 80).subarray(0, 14 + 20 + 12);
    assert.equal(tb.fromContainer(truncated).retval, TC_ACT_SHOT);
    const gre = ipv4Packet({ ip: { src: A.ip, dst: REMOTE }, l4: { proto: 47, payload: Buffer.alloc(8) } });
    assert.equal(tb.fromContainer(gre).retval, TC_ACT_SHOT);
    const ts = ipv4Packet({ ip: { src: A.ip, dst: REMOTE }, l4: { proto: 'icmp', type: 13, payload: Buffer.alloc(12) } });
    assert.equal(tb.fromContainer(ts).retval, TC_ACT_SHOT);
    for (const reason of [DropReason.FragNoSupport, DropReason.CtInvalidHdr, DropReason.CtUnknownProto, DropReason.UnknownIcmp4Type]) {
      assert.equal(tb.metric(reason, MetricDir.Egress).count, 1n, `reason ${reason}`);
    }
  });

  test('a first fragment (MF set, offset 0) carries its L4 header and is forwarded', { timeout: 10_000 }, () => {
    const first = ipv4Packet({ ip: { src: A.ip, dst: REMOTE, flags: 1 }, l4: { proto: 'udp', sport: 5000, dport: 53, payload: Buffer.alloc(64) } });
    assert.equal(tb.fromContainer(first).retval, TC_ACT_OK);
  });

  test('a packet to a remote address goes to the stack unchanged and counts as forwarded egress', { timeout: 10_000 }, () => {
    const pkt = tcpPacket(A.ip, 40000, REMOTE, 80);
    const r = tb.fromContainer(pkt);
    assert.equal(r.retval, TC_ACT_OK);
    assert.deepEqual(r.data, pkt);
    assert.deepEqual(tb.metric(0, MetricDir.Egress), { count: 1n, bytes: BigInt(pkt.length) });
  });

  test('local delivery: TC_ACT_REDIRECT, MACs rewritten to the receiver, TTL decremented with a valid checksum', { timeout: 10_000 }, () => {
    const pkt = tcpPacket(A.ip, 40000, B.ip, 80, TcpFlag.SYN, { eth: { src: A.mac, dst: A.nodeMac }, ttl: 64 });
    const r = tb.fromContainer(pkt);
    assert.equal(r.retval, TC_ACT_REDIRECT);
    const p = r.parsed!;
    assert.equal(p.eth.dst, B.mac);
    assert.equal(p.eth.src, B.nodeMac);
    assert.equal(p.ipv4!.ttl, 63);
    assert.ok(p.ipv4!.checksumOk);
    assert.ok(p.ipv4!.tcp!.checksumOk);
    assert.equal(tb.metric(0, MetricDir.Egress).count, 1n);
    assert.equal(tb.metric(0, MetricDir.Ingress).count, 1n);
  });

  test('local delivery with TTL 1 is dropped with 196', { timeout: 10_000 }, () => {
    const r = tb.fromContainer(tcpPacket(A.ip, 40001, B.ip, 80, TcpFlag.SYN, { ttl: 1 }));
    assert.equal(r.retval, TC_ACT_SHOT);
    assert.equal(tb.metric(DropReason.TtlExceeded, MetricDir.Egress).count, 1n);
  });

  test('cil_to_container drops a packet not addressed to its endpoint with 134', { timeout: 10_000 }, () => {
    assert.equal(tb.toContainer(udpPacket(REMOTE, 53, B.ip, 5000)).retval, TC_ACT_SHOT);
    assert.equal(tb.metric(DropReason.Invalid, MetricDir.Ingress).count, 1n);
    assert.equal(tb.toContainer(udpPacket(REMOTE, 53, A.ip, 5000)).retval, TC_ACT_OK);
  });

  test('IP options: the L4 header is found after them', { timeout: 10_000 }, () => {
    const pkt = ipv4Packet({ ip: { src: A.ip, dst: REMOTE, options: Buffer.from([1, 1, 1, 0, 1, 1, 1, 0]) }, l4: { proto: 'tcp', sport: 3333, dport: 4444 } });
    assert.equal(tb.fromContainer(pkt).retval, TC_ACT_OK);
    assert.ok(tb.ct({ saddr: A.ip, daddr: REMOTE, sport: 3333, dport: 4444, nexthdr: 6 }));
  });

  test('ICMP echo to a local endpoint is delivered', { timeout: 10_000 }, () => {
    assert.equal(tb.fromContainer(icmpEcho(A.ip, B.ip, 7)).retval, TC_ACT_REDIRECT);
  });
});
