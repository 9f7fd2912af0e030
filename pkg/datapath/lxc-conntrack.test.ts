// Conntrack of bpf_lxc.o on the real kernel: entry creation, reply matching and counters, TCP closing and
// reopening with the configured lifetimes, UDP and ICMP echo tracking, related ICMP errors, the two entries
// of a local connection, and monitor aggregation of trace events.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { formatEvent, type TraceEvent } from './events.js';
import { CT_EGRESS, CT_F_RX_CLOSING, CT_F_SEEN_NON_SYN, CT_F_TX_CLOSING, CT_INGRESS, MetricDir, type CtEntry } from './maps.js';
import { icmpEcho, IcmpType, ipv4Datagram, ipv4Packet, tcpPacket, TcpFlag, udpPacket } from './packet.js';
import { DropReason } from './reasons.js';
import { LxcTestbed, TC_ACT_OK, TC_ACT_REDIRECT, TC_ACT_SHOT, testEndpoint } from './testbed.js';

const A = testEndpoint(1);
const B = testEndpoint(2);
const REMOTE = '10.244.252.200';
const TIMEOUTS = { ctTimeoutTcp: 21600, ctTimeoutSyn: 60, ctTimeoutFin: 10, ctTimeoutAny: 33 };
const TCP = 6;
const UDP = 17;
const ICMP = 1;

/** Seconds of CLOCK_MONOTONIC, the datapath's clock (libuv's hrtime reads the same clock). */
const nowSec = (): number => Number(process.hrtime.bigint() / 1_000_000_000n);

/** Asserts the entry expires `timeout` seconds from now (±1 s for a second boundary crossed meanwhile). */
function assertLifetime(e: CtEntry | undefined, timeout: number, what: string): void {
  assert.ok(e, `${what}: entry missing`);
  const left = e.lifetime - nowSec();
  assert.ok(left >= timeout - 1 && left <= timeout + 1, `${what}: expires in ${left} s, expected ${timeout}`);
}

describe('bpf_lxc conntrack', { timeout: 60_000 }, () => {
  let tb: LxcTestbed;
  before(async () => { tb = await LxcTestbed.open(TIMEOUTS); });
  after(async () => { await tb?.close(); });
  beforeEach(() => {
    tb.reset();
    tb.addEndpoint(A);
    tb.addEndpoint(B);
    tb.as(A);
  });

  const egress = (sport: number, dport = 80) => ({ saddr: A.ip, daddr: REMOTE, sport, dport, nexthdr: TCP, flags: CT_EGRESS });

  test('a SYN creates an egress entry; the SYN-ACK is its reply; the handshake makes it established', { timeout: 10_000 }, () => {
    const syn = tcpPacket(A.ip, 40000, REMOTE, 80, TcpFlag.SYN);
    assert.equal(tb.fromContainer(syn).retval, TC_ACT_OK);
    let e = tb.ct(egress(40000));
    assert.ok(e);
    assert.equal(e.tx_packets, 1n);
    assert.equal(e.tx_bytes, BigInt(syn.length));
    assert.equal(e.tx_flags_seen, TcpFlag.SYN);
    assert.equal(e.src_sec_id, 2, 'the remote address has no ipcache entry: world');
    assert.equal(e.flags, 0);
    assertLifetime(e, TIMEOUTS.ctTimeoutSyn, 'after SYN');

    const synAck = tcpPacket(REMOTE, 80, A.ip, 40000, TcpFlag.SYN | TcpFlag.ACK);
    assert.equal(tb.toContainer(synAck).retval, TC_ACT_OK);
    e = tb.ct(egress(40000))!;
    assert.equal(e.rx_packets, 1n);
    assert.equal(e.rx_bytes, BigInt(synAck.length));
    assert.equal(e.rx_flags_seen, TcpFlag.SYN | TcpFlag.ACK);
    assert.equal(tb.ct({ saddr: REMOTE, daddr: A.ip, sport: 80, dport: 40000, nexthdr: TCP, flags: CT_INGRESS }), undefined,
      'a reply creates no entry of its own');
    assertLifetime(e, TIMEOUTS.ctTimeoutSyn, 'after SYN-ACK');

    assert.equal(tb.fromContainer(tcpPacket(A.ip, 40000, REMOTE, 80, TcpFlag.ACK)).retval, TC_ACT_OK);
    e = tb.ct(egress(40000))!;
    assert.equal(e.tx_packets, 2n);
    assert.equal(e.tx_flags_seen, TcpFlag.SYN | TcpFlag.ACK);
    assert.equal(e.flags & CT_F_SEEN_NON_SYN, CT_F_SEEN_NON_SYN);
    assertLifetime(e, TIMEOUTS.ctTimeoutTcp, 'established');
  });

  test('FIN in both directions closes with the FIN lifetime; a SYN then reopens the entry', { timeout: 10_000 }, () => {
    tb.fromContainer(tcpPacket(A.ip, 40001, REMOTE, 80, TcpFlag.SYN));
    tb.toContainer(tcpPacket(REMOTE, 80, A.ip, 40001, TcpFlag.SYN | TcpFlag.ACK));
    tb.fromContainer(tcpPacket(A.ip, 40001, REMOTE, 80, TcpFlag.ACK));

    assert.equal(tb.fromContainer(tcpPacket(A.ip, 40001, REMOTE, 80, TcpFlag.FIN | TcpFlag.ACK)).retval, TC_ACT_OK);
    let e = tb.ct(egress(40001))!;
    assert.equal(e.flags & (CT_F_TX_CLOSING | CT_F_RX_CLOSING), CT_F_TX_CLOSING);
    assertLifetime(e, TIMEOUTS.ctTimeoutTcp, 'half closed');

    assert.equal(tb.toContainer(tcpPacket(REMOTE, 80, A.ip, 40001, TcpFlag.FIN | TcpFlag.ACK)).retval, TC_ACT_OK);
    e = tb.ct(egress(40001))!;
    assert.equal(e.flags & (CT_F_TX_CLOSING | CT_F_RX_CLOSING), CT_F_TX_CLOSING | CT_F_RX_CLOSING);
    assertLifetime(e, TIMEOUTS.ctTimeoutFin, 'closed');
    assert.equal(e.tx_packets, 3n);
    assert.equal(e.rx_packets, 2n);

    const from = tb.mark();
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 40001, REMOTE, 80, TcpFlag.SYN)).retval, TC_ACT_OK);
    e = tb.ct(egress(40001))!;
    assert.equal(e.flags, 0, 'reopened: closing and handshake state reset');
    assert.equal(e.tx_packets, 1n, 'reopened: a new connection, new counters');
    assert.equal(e.rx_packets, 0n);
    assertLifetime(e, TIMEOUTS.ctTimeoutSyn, 'reopened');
    return tb.waitForEvent((ev) => ev.type === 'trace' && ev.ctState === 4, from).then((ev) => {
      assert.match(formatEvent(ev), /state reopened/);
    });
  });

  test('an RST closes both directions at once', { timeout: 10_000 }, () => {
    tb.fromContainer(tcpPacket(A.ip, 40002, REMOTE, 80, TcpFlag.SYN));
    assert.equal(tb.toContainer(tcpPacket(REMOTE, 80, A.ip, 40002, TcpFlag.RST | TcpFlag.ACK)).retval, TC_ACT_OK);
    const e = tb.ct(egress(40002))!;
    assert.equal(e.flags & (CT_F_TX_CLOSING | CT_F_RX_CLOSING), CT_F_TX_CLOSING | CT_F_RX_CLOSING);
    assertLifetime(e, TIMEOUTS.ctTimeoutFin, 'reset');
  });

  test('UDP: an entry with the "any" lifetime, replies counted', { timeout: 10_000 }, () => {
    const q = udpPacket(A.ip, 5353, REMOTE, 53, { payload: Buffer.alloc(30) });
    assert.equal(tb.fromContainer(q).retval, TC_ACT_OK);
    assert.equal(tb.toContainer(udpPacket(REMOTE, 53, A.ip, 5353, { payload: Buffer.alloc(90) })).retval, TC_ACT_OK);
    const e = tb.ct({ saddr: A.ip, daddr: REMOTE, sport: 5353, dport: 53, nexthdr: UDP });
    assert.ok(e);
    assert.equal(e.tx_packets, 1n);
    assert.equal(e.rx_packets, 1n);
    assert.equal(e.rx_bytes, BigInt(14 + 20 + 8 + 90));
    assertLifetime(e, TIMEOUTS.ctTimeoutAny, 'udp');
  });

  test('ICMP echo: the request keys the entry by echo id, the reply matches it reversed', { timeout: 10_000 }, () => {
    assert.equal(tb.fromContainer(icmpEcho(A.ip, REMOTE, 0x4242)).retval, TC_ACT_OK);
    assert.equal(tb.toContainer(icmpEcho(REMOTE, A.ip, 0x4242, true)).retval, TC_ACT_OK);
    const e = tb.ct({ saddr: A.ip, daddr: REMOTE, sport: 0x4242, dport: 0, nexthdr: ICMP });
    assert.ok(e);
    assert.equal(e.tx_packets, 1n);
    assert.equal(e.rx_packets, 1n);
    assertLifetime(e, TIMEOUTS.ctTimeoutAny, 'icmp');
    // A reply with another id belongs to no connection: it is a new flow of its own.
    tb.toContainer(icmpEcho(REMOTE, A.ip, 0x4343, true));
    assert.equal(tb.ct({ saddr: A.ip, daddr: REMOTE, sport: 0x4242, dport: 0, nexthdr: ICMP })!.rx_packets, 1n);
  });

  test('ICMP errors about a tracked flow pass; about an unknown flow they are dropped with 144', { timeout: 10_000 }, () => {
    tb.fromContainer(udpPacket(A.ip, 6000, REMOTE, 9999));
    const quoted = ipv4Datagram({ src: A.ip, dst: REMOTE }, { proto: 'udp', sport: 6000, dport: 9999 });
    const unreach = ipv4Packet({ ip: { src: REMOTE, dst: A.ip }, l4: { proto: 'icmp-error', type: IcmpType.DestUnreachable, code: 3, quote: quoted } });
    assert.equal(tb.toContainer(unreach).retval, TC_ACT_OK);

    const other = ipv4Datagram({ src: A.ip, dst: REMOTE }, { proto: 'udp', sport: 6001, dport: 9999 });
    const stray = ipv4Packet({ ip: { src: REMOTE, dst: A.ip }, l4: { proto: 'icmp-error', type: IcmpType.DestUnreachable, code: 3, quote: other } });
    assert.equal(tb.toContainer(stray).retval, TC_ACT_SHOT);
    assert.equal(tb.metric(DropReason.UnknownIcmp4Type, MetricDir.Ingress).count, 1n);

    // The pod's own error about a flow it accepted (the quoted packet came in).
    tb.toContainer(udpPacket(REMOTE, 7000, A.ip, 53));
    const inQuote = ipv4Datagram({ src: REMOTE, dst: A.ip }, { proto: 'udp', sport: 7000, dport: 53 });
    const podErr = ipv4Packet({ ip: { src: A.ip, dst: REMOTE }, l4: { proto: 'icmp-error', type: IcmpType.DestUnreachable, code: 3, quote: inQuote } });
    assert.equal(tb.fromContainer(podErr).retval, TC_ACT_OK);
    const timeExceeded = ipv4Packet({ ip: { src: '10.244.252.250', dst: A.ip }, l4: { proto: 'icmp-error', type: IcmpType.TimeExceeded, quote: quoted } });
    assert.equal(tb.toContainer(timeExceeded).retval, TC_ACT_OK);
  });

  test('a local connection has one entry per endpoint; the reply goes back by redirect and hits both', { timeout: 10_000 }, () => {
    const tuple = { saddr: A.ip, daddr: B.ip, sport: 41000, dport: 8080, nexthdr: TCP };
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 41000, B.ip, 8080, TcpFlag.SYN)).retval, TC_ACT_REDIRECT);
    const out = tb.ct({ ...tuple, flags: CT_EGRESS });
    const inn = tb.ct({ ...tuple, flags: CT_INGRESS });
    assert.ok(out && inn);
    assert.equal(out.src_sec_id, B.identity);
    assert.equal(inn.src_sec_id, A.identity);

    tb.as(B);
    const r = tb.fromContainer(tcpPacket(B.ip, 8080, A.ip, 41000, TcpFlag.SYN | TcpFlag.ACK));
    assert.equal(r.retval, TC_ACT_REDIRECT);
    assert.equal(r.parsed!.eth.dst, A.mac);
    assert.equal(tb.ct({ ...tuple, flags: CT_EGRESS })!.rx_packets, 1n);
    assert.equal(tb.ct({ ...tuple, flags: CT_INGRESS })!.rx_packets, 1n);
  });

  test('monitor aggregation: a trace for the new connection and for new TCP flags only', { timeout: 10_000 }, async () => {
    const from = tb.mark();
    tb.fromContainer(tcpPacket(A.ip, 42000, REMOTE, 80, TcpFlag.SYN));
    tb.toContainer(tcpPacket(REMOTE, 80, A.ip, 42000, TcpFlag.SYN | TcpFlag.ACK));
    tb.fromContainer(tcpPacket(A.ip, 42000, REMOTE, 80, TcpFlag.ACK));
    for (let i = 0; i < 5; i++) tb.fromContainer(tcpPacket(A.ip, 42000, REMOTE, 80, TcpFlag.ACK));
    tb.fromContainer(tcpPacket(A.ip, 42000, REMOTE, 80, TcpFlag.FIN | TcpFlag.ACK));
    // A marker drop: every event before it in ring order has been read once it arrives.
    tb.fromContainer(tcpPacket('10.244.252.99', 1, REMOTE, 1));
    await tb.waitForEvent((e) => e.type === 'drop' && e.reason === DropReason.InvalidSip, from);
    const traces = tb.eventsSince(from).filter((e): e is TraceEvent => e.type === 'trace');
    assert.deepEqual(traces.map((t) => [t.obsPoint, t.ctState, t.tcpFlags]), [
      [3, 0, TcpFlag.SYN], // -> stack, new
      [0, 2, TcpFlag.SYN | TcpFlag.ACK], // -> endpoint, reply
      [3, 1, TcpFlag.ACK], // ACK first seen in the original direction
      [3, 1, TcpFlag.FIN | TcpFlag.ACK],
    ]);
    assert.match(formatEvent(traces[0], { ifname: (i) => (i === 1 ? 'lo' : undefined) }),
      new RegExp(`^-> stack flow 0x[0-9a-f]+ identity ${A.identity}->2 state new ifindex lo: ${A.ip}:42000 -> ${REMOTE}:80 tcp SYN$`));
    assert.match(formatEvent(traces[1]), new RegExp(`^-> endpoint ${A.id} flow 0x[0-9a-f]+ identity 2->${A.identity} state reply ifindex 1: ${REMOTE}:80 -> ${A.ip}:42000 tcp SYN, ACK$`));
  });
});

describe('bpf_lxc conntrack without monitor aggregation', { timeout: 30_000 }, () => {
  let tb: LxcTestbed;
  before(async () => {
    tb = await LxcTestbed.open({ monitorAggregation: false });
    tb.addEndpoint(A);
    tb.as(A);
  });
  after(async () => { await tb?.close(); });

  test('every packet is traced', { timeout: 10_000 }, async () => {
    for (let i = 0; i < 4; i++) tb.fromContainer(tcpPacket(A.ip, 43000, REMOTE, 80, TcpFlag.ACK));
    tb.fromContainer(tcpPacket('10.244.252.99', 1, REMOTE, 1));
    await tb.waitForEvent((e) => e.type === 'drop');
    assert.equal(tb.events.filter((e) => e.type === 'trace').length, 4);
  });
});
