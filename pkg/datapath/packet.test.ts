// The test-packet builder and parser: layouts, checksums (verified independently of the builder's own
// checksum routine where it matters), ICMP errors quoting a packet, ARP, and parse errors.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  arpPacket, ethernetFrame, EtherType, icmpEcho, IcmpType, inetChecksum, ipv4Datagram, ipv4Packet, parsePacket, tcpPacket,
  TcpFlag, udpPacket,
} from './packet.js';

describe('packet builder and parser', () => {
  test('the Internet checksum of RFC 1071\'s example', () => {
    // RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2; the checksum is its complement.
    assert.equal(inetChecksum(Buffer.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])), 0xffff - 0xddf2);
    assert.equal(inetChecksum(Buffer.from([0xff])), 0x00ff);
  });

  test('a TCP SYN: layout and checksums', () => {
    const p = tcpPacket('10.244.252.1', 40000, '10.244.252.2', 80, TcpFlag.SYN, { eth: { src: '0a:00:00:00:00:01', dst: '0a:00:00:00:00:02' } });
    assert.equal(p.length, 14 + 20 + 20);
    assert.equal(p.readUInt16BE(12), EtherType.IPv4);
    const parsed = parsePacket(p);
    assert.deepEqual(parsed.eth, { src: '0a:00:00:00:00:01', dst: '0a:00:00:00:00:02', type: EtherType.IPv4 });
    const ip = parsed.ipv4!;
    assert.equal(ip.src, '10.244.252.1');
    assert.equal(ip.dst, '10.244.252.2');
    assert.equal(ip.ttl, 64);
    assert.equal(ip.flags, 2, 'DF');
    assert.ok(ip.checksumOk);
    assert.deepEqual({ ...ip.tcp!, payload: undefined }, { sport: 40000, dport: 80, flags: TcpFlag.SYN, seq: 1000, ack: 0, checksumOk: true, payload: undefined });
    // One flipped bit breaks both checksums it is covered by.
    const bad = Buffer.from(p);
    bad[14 + 12] ^= 1; // source address
    const b = parsePacket(bad).ipv4!;
    assert.equal(b.checksumOk, false);
    assert.equal(b.tcp!.checksumOk, false);
  });

  test('UDP with payload, and with no checksum', () => {
    const u = parsePacket(udpPacket('10.244.252.1', 5353, '10.244.252.2', 53, { payload: Buffer.from('abc') })).ipv4!.udp!;
    assert.deepEqual([u.sport, u.dport, u.checksumOk, u.payload.toString()], [5353, 53, true, 'abc']);
    assert.notEqual(u.checksum, 0);
    const none = ipv4Packet({ ip: { src: '10.244.252.1', dst: '10.244.252.2' }, l4: { proto: 'udp', sport: 1, dport: 2, noChecksum: true } });
    assert.equal(parsePacket(none).ipv4!.udp!.checksum, 0);
  });

  test('ICMP echo and an error quoting a UDP packet', () => {
    const echo = parsePacket(icmpEcho('10.244.252.1', '10.244.252.2', 0x1234, false, 9)).ipv4!.icmp!;
    assert.deepEqual([echo.type, echo.code, echo.id, echo.seq, echo.checksumOk], [IcmpType.Echo, 0, 0x1234, 9, true]);
    const quoted = ipv4Datagram({ src: '10.244.252.1', dst: '10.244.252.2' }, { proto: 'udp', sport: 6000, dport: 53, payload: Buffer.alloc(100) });
    const err = ipv4Packet({ ip: { src: '10.244.252.2', dst: '10.244.252.1' }, l4: { proto: 'icmp-error', type: IcmpType.DestUnreachable, code: 3, quote: quoted } });
    assert.equal(err.length, 14 + 20 + 8 + 20 + 8, 'the quote keeps the IP header and 8 bytes');
    const icmp = parsePacket(err).ipv4!.icmp!;
    assert.ok(icmp.checksumOk);
    assert.equal(icmp.quote?.src, '10.244.252.1');
    assert.equal(icmp.quote?.udp?.sport, 6000);
    assert.equal(icmp.quote?.udp?.dport, 53);
  });

  test('IP options move the L4 header', () => {
    const p = ipv4Packet({ ip: { src: '10.244.252.1', dst: '10.244.252.2', options: Buffer.from([1, 1, 1, 0]) }, l4: { proto: 'tcp', sport: 1, dport: 2 } });
    const ip = parsePacket(p).ipv4!;
    assert.equal(ip.headerLength, 24);
    assert.ok(ip.checksumOk && ip.tcp!.checksumOk);
    assert.throws(() => ipv4Packet({ ip: { src: '10.244.252.1', dst: '10.244.252.2', options: Buffer.alloc(3) }, l4: { proto: 'udp', sport: 1, dport: 2 } }), RangeError);
  });

  test('ARP request and reply', () => {
    const req = parsePacket(arpPacket({ op: 1, senderMac: '0a:00:00:00:00:01', senderIp: '10.244.252.1', targetIp: '10.244.252.254' }));
    assert.equal(req.eth.dst, 'ff:ff:ff:ff:ff:ff');
    assert.deepEqual(req.arp, { op: 1, senderMac: '0a:00:00:00:00:01', senderIp: '10.244.252.1', targetMac: '00:00:00:00:00:00', targetIp: '10.244.252.254' });
    const rep = parsePacket(arpPacket({ op: 2, senderMac: '0a:00:00:00:00:02', senderIp: '10.244.252.254', targetMac: '0a:00:00:00:00:01', targetIp: '10.244.252.1' }));
    assert.equal(rep.eth.dst, '0a:00:00:00:00:01');
  });

  test('other ethertypes parse to the Ethernet header only; bad input throws', () => {
    assert.deepEqual(parsePacket(ethernetFrame({}, EtherType.LLDP, Buffer.alloc(10))), { eth: { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02', type: EtherType.LLDP } });
    assert.throws(() => parsePacket(Buffer.alloc(10)), RangeError);
    assert.throws(() => tcpPacket('10.244.252.300', 1, '10.244.252.2', 2), TypeError);
    assert.throws(() => ethernetFrame({ src: 'nope' }, EtherType.IPv4, Buffer.alloc(0)), TypeError);
  });
});
