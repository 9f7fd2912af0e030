// Owns building and parsing test packets: Ethernet frames carrying IPv4 with TCP, UDP or ICMP (echo and
// errors quoting another packet), ARP, or any other ethertype, with correct checksums; and parsing them
// back with every checksum verified. Tests and benchmarks feed these to BPF_PROG_TEST_RUN.
import net from 'node:net';

/** EtherType numbers. */
export const EtherType = { IPv4: 0x0800, ARP: 0x0806, IPv6: 0x86dd, LLDP: 0x88cc, VLAN: 0x8100 } as const;
/** IP protocol numbers. */
export const IpProto = { ICMP: 1, TCP: 6, UDP: 17 } as const;
/** TCP flag bits. */
export const TcpFlag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20 } as const;
/** ICMPv4 types. */
export const IcmpType = { EchoReply: 0, DestUnreachable: 3, SourceQuench: 4, Redirect: 5, Echo: 8, TimeExceeded: 11, ParameterProblem: 12, Timestamp: 13 } as const;

const ETH_HLEN = 14;
const IPV4_HLEN = 20;
const TCP_HLEN = 20;
const UDP_HLEN = 8;
const ICMP_HLEN = 8;

/** Ethernet header fields; MACs default to 02:00:00:00:00:01 (src) and 02:00:00:00:00:02 (dst). */
export interface EthSpec {
  readonly src?: string;
  readonly dst?: string;
}

/** IPv4 header fields. */
export interface Ipv4Spec {
  readonly src: string;
  readonly dst: string;
  /** Default 64. */
  readonly ttl?: number;
  /** Default 1. */
  readonly id?: number;
  readonly tos?: number;
  /** 3 bits: DF = 2, MF = 1. Default DF for TCP, 0 otherwise. */
  readonly flags?: number;
  /** In 8-byte units. Default 0. */
  readonly fragOffset?: number;
  /** IP options, a multiple of 4 bytes (at most 40). */
  readonly options?: Buffer;
}

/** The L4 part of an IPv4 packet. */
export type L4Spec =
  | { readonly proto: 'tcp'; readonly sport: number; readonly dport: number; readonly flags?: number; readonly seq?: number; readonly ack?: number; readonly window?: number; readonly payload?: Buffer }
  | { readonly proto: 'udp'; readonly sport: number; readonly dport: number; readonly payload?: Buffer; /** Send checksum 0 ("none"). */ readonly noChecksum?: boolean }
  | { readonly proto: 'icmp'; readonly type: number; readonly code?: number; /** Echo id / seq (bytes 4-7). */ readonly id?: number; readonly seq?: number; readonly payload?: Buffer }
  | { readonly proto: 'icmp-error'; readonly type: number; readonly code?: number; /** The quoted packet from its IP header (only the IP header + 8 bytes are kept). */ readonly quote: Buffer }
  | { readonly proto: number; readonly payload?: Buffer };

/** An Ethernet + IPv4 packet. */
export interface Ipv4PacketSpec {
  readonly eth?: EthSpec;
  readonly ip: Ipv4Spec;
  readonly l4: L4Spec;
}

/** The Internet checksum (RFC 1071) of `buf`, optionally continuing from a partial 32-bit sum. */
export function inetChecksum(buf: Buffer, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function addrBytes(ip: string): Buffer {
  if (!net.isIPv4(ip)) throw new TypeError(`${JSON.stringify(ip)} is not an IPv4 address`);
  return Buffer.from(ip.split('.').map(Number));
}

function macBytes(m: string): Buffer {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(m)) throw new TypeError(`${JSON.stringify(m)} is not a MAC address`);
  return Buffer.from(m.split(':').map((h) => parseInt(h, 16)));
}

function pseudoHeaderSum(src: string, dst: string, proto: number, length: number): number {
  const p = Buffer.alloc(12);
  addrBytes(src).copy(p, 0);
  addrBytes(dst).copy(p, 4);
  p[9] = proto;
  p.writeUInt16BE(length, 10);
  let sum = 0;
  for (let i = 0; i < 12; i += 2) sum += p.readUInt16BE(i);
  return sum;
}

/** An Ethernet frame with `ethertype` around `payload`. */
export function ethernetFrame(eth: EthSpec, ethertype: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(ETH_HLEN);
  macBytes(eth.dst ?? '02:00:00:00:00:02').copy(h, 0);
  macBytes(eth.src ?? '02:00:00:00:00:01').copy(h, 6);
  h.writeUInt16BE(ethertype, 12);
  return Buffer.concat([h, payload]);
}

function l4Bytes(ip: Ipv4Spec, l4: L4Spec): { proto: number; bytes: Buffer } {
  switch (l4.proto) {
    case 'tcp': {
      const payload = l4.payload ?? Buffer.alloc(0);
      const b = Buffer.alloc(TCP_HLEN + payload.length);
      b.writeUInt16BE(l4.sport, 0);
      b.writeUInt16BE(l4.dport, 2);
      b.writeUInt32BE((l4.seq ?? 1000) >>> 0, 4);
      b.writeUInt32BE((l4.ack ?? 0) >>> 0, 8);
      b[12] = (TCP_HLEN / 4) << 4;
      b[13] = l4.flags ?? TcpFlag.SYN;
      b.writeUInt16BE(l4.window ?? 64240, 14);
      payload.copy(b, TCP_HLEN);
      b.writeUInt16BE(inetChecksum(b, pseudoHeaderSum(ip.src, ip.dst, IpProto.TCP, b.length)), 16);
      return { proto: IpProto.TCP, bytes: b };
    }
    case 'udp': {
      const payload = l4.payload ?? Buffer.alloc(0);
      const b = Buffer.alloc(UDP_HLEN + payload.length);
      b.writeUInt16BE(l4.sport, 0);
      b.writeUInt16BE(l4.dport, 2);
      b.writeUInt16BE(b.length, 4);
      payload.copy(b, UDP_HLEN);
      if (!l4.noChecksum) {
        const c = inetChecksum(b, pseudoHeaderSum(ip.src, ip.dst, IpProto.UDP, b.length));
        b.writeUInt16BE(c === 0 ? 0xffff : c, 6); // 0 means "no checksum" in UDP
      }
      return { proto: IpProto.UDP, bytes: b };
    }
    case 'icmp': {
      const payload = l4.payload ?? Buffer.alloc(0);
      const b = Buffer.alloc(ICMP_HLEN + payload.length);
      b[0] = l4.type;
      b[1] = l4.code ?? 0;
      b.writeUInt16BE(l4.id ?? 0, 4);
      b.writeUInt16BE(l4.seq ?? 0, 6);
      payload.copy(b, ICMP_HLEN);
      b.writeUInt16BE(inetChecksum(b), 2);
      return { proto: IpProto.ICMP, bytes: b };
    }
    case 'icmp-error': {
      const quotedLen = Math.min(l4.quote.length, ((l4.quote[0] & 0x0f) * 4) + 8);
      const b = Buffer.alloc(ICMP_HLEN + quotedLen);
      b[0] = l4.type;
      b[1] = l4.code ?? 0;
      l4.quote.copy(b, ICMP_HLEN, 0, quotedLen);
      b.writeUInt16BE(inetChecksum(b), 2);
      return { proto: IpProto.ICMP, bytes: b };
    }
    default:
      return { proto: l4.proto, bytes: l4.payload ?? Buffer.alloc(0) };
  }
}

/** The IPv4 packet (IP header onwards, no Ethernet) of `spec`; what ICMP errors quote. */
export function ipv4Datagram(ip: Ipv4Spec, l4: L4Spec): Buffer {
  const { proto, bytes } = l4Bytes(ip, l4);
  const options = ip.options ?? Buffer.alloc(0);
  if (options.length % 4 || options.length > 40) throw new RangeError(`IP options must be a multiple of 4 bytes up to 40, got ${options.length}`);
  const hlen = IPV4_HLEN + options.length;
  const h = Buffer.alloc(hlen);
  h[0] = 0x40 | (hlen / 4);
  h[1] = ip.tos ?? 0;
  h.writeUInt16BE(hlen + bytes.length, 2);
  h.writeUInt16BE(ip.id ?? 1, 4);
  const flags = ip.flags ?? (proto === IpProto.TCP ? 2 : 0);
  h.writeUInt16BE(((flags & 7) << 13) | ((ip.fragOffset ?? 0) & 0x1fff), 6);
  h[8] = ip.ttl ?? 64;
  h[9] = proto;
  addrBytes(ip.src).copy(h, 12);
  addrBytes(ip.dst).copy(h, 16);
  options.copy(h, IPV4_HLEN);
  h.writeUInt16BE(inetChecksum(h), 10);
  return Buffer.concat([h, bytes]);
}

/** An Ethernet + IPv4 packet with all checksums correct. Throws TypeError/RangeError for invalid fields. */
export function ipv4Packet(spec: Ipv4PacketSpec): Buffer {
  return ethernetFrame(spec.eth ?? {}, EtherType.IPv4, ipv4Datagram(spec.ip, spec.l4));
}

/** Shorthand: a TCP packet `src:sport -> dst:dport` with `flags` (default SYN). */
export function tcpPacket(src: string, sport: number, dst: string, dport: number, flags: number = TcpFlag.SYN,
  extra: { eth?: EthSpec; ttl?: number; payload?: Buffer } = {}): Buffer {
  return ipv4Packet({ eth: extra.eth, ip: { src, dst, ttl: extra.ttl }, l4: { proto: 'tcp', sport, dport, flags, payload: extra.payload } });
}

/** Shorthand: a UDP packet. */
export function udpPacket(src: string, sport: number, dst: string, dport: number, extra: { eth?: EthSpec; payload?: Buffer } = {}): Buffer {
  return ipv4Packet({ eth: extra.eth, ip: { src, dst }, l4: { proto: 'udp', sport, dport, payload: extra.payload } });
}

/** Shorthand: an ICMP echo request (`reply` false) or echo reply. */
export function icmpEcho(src: string, dst: string, id: number, reply = false, seq = 1): Buffer {
  return ipv4Packet({ ip: { src, dst }, l4: { proto: 'icmp', type: reply ? IcmpType.EchoReply : IcmpType.Echo, id, seq, payload: Buffer.alloc(16, 0xab) } });
}

/** ARP fields (Ethernet/IPv4). */
export interface ArpSpec {
  /** 1 request, 2 reply. */
  readonly op: 1 | 2;
  readonly senderMac: string;
  readonly senderIp: string;
  readonly targetMac?: string;
  readonly targetIp: string;
}

/** An ARP frame; a request goes to broadcast. */
export function arpPacket(arp: ArpSpec): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16BE(1, 0); // Ethernet
  b.writeUInt16BE(EtherType.IPv4, 2);
  b[4] = 6;
  b[5] = 4;
  b.writeUInt16BE(arp.op, 6);
  macBytes(arp.senderMac).copy(b, 8);
  addrBytes(arp.senderIp).copy(b, 14);
  macBytes(arp.targetMac ?? '00:00:00:00:00:00').copy(b, 18);
  addrBytes(arp.targetIp).copy(b, 24);
  const dst = arp.op === 1 ? 'ff:ff:ff:ff:ff:ff' : (arp.targetMac ?? 'ff:ff:ff:ff:ff:ff');
  return ethernetFrame({ src: arp.senderMac, dst }, EtherType.ARP, b);
}

// ---- parsing ---------------------------------------------------------------------------------

/** A parsed IPv4 header and what follows. */
export interface ParsedIpv4 {
  readonly src: string;
  readonly dst: string;
  readonly ttl: number;
  readonly proto: number;
  readonly id: number;
  readonly headerLength: number;
  readonly totalLength: number;
  readonly flags: number;
  readonly fragOffset: number;
  readonly checksum: number;
  readonly checksumOk: boolean;
  readonly tcp?: { readonly sport: number; readonly dport: number; readonly flags: number; readonly seq: number; readonly ack: number; readonly checksumOk: boolean; readonly payload: Buffer };
  readonly udp?: { readonly sport: number; readonly dport: number; readonly checksum: number; readonly checksumOk: boolean; readonly payload: Buffer };
  readonly icmp?: { readonly type: number; readonly code: number; readonly id: number; readonly seq: number; readonly checksumOk: boolean; readonly quote?: ParsedIpv4 };
}

/** A parsed frame. */
export interface ParsedPacket {
  readonly eth: { readonly src: string; readonly dst: string; readonly type: number };
  readonly ipv4?: ParsedIpv4;
  readonly arp?: { readonly op: number; readonly senderMac: string; readonly senderIp: string; readonly targetMac: string; readonly targetIp: string };
}

function macString(b: Buffer, off: number): string {
  return [...b.subarray(off, off + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function ipString(b: Buffer, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/**
 * Parses an IPv4 datagram (from its IP header). `quoted` relaxes length and checksum checks for the truncated
 * packet an ICMP error carries. Throws RangeError for a truncated or non-IPv4 header.
 */
export function parseIpv4(b: Buffer, quoted = false): ParsedIpv4 {
  if (b.length < IPV4_HLEN || b[0] >> 4 !== 4) throw new RangeError('not an IPv4 header');
  const hlen = (b[0] & 0x0f) * 4;
  if (hlen < IPV4_HLEN || b.length < hlen) throw new RangeError(`truncated IPv4 header (${b.length} bytes, ihl ${hlen})`);
  const totalLength = b.readUInt16BE(2);
  const end = quoted ? b.length : Math.min(totalLength, b.length);
  const src = ipString(b, 12);
  const dst = ipString(b, 16);
  const proto = b[9];
  const fo = b.readUInt16BE(6);
  const l4 = b.subarray(hlen, end);
  const base = {
    src, dst, ttl: b[8], proto, id: b.readUInt16BE(4), headerLength: hlen, totalLength, flags: fo >> 13,
    fragOffset: fo & 0x1fff, checksum: b.readUInt16BE(10), checksumOk: inetChecksum(b.subarray(0, hlen)) === 0,
  };
  const l4Ok = (p: number) => !quoted && inetChecksum(l4, pseudoHeaderSum(src, dst, p, l4.length)) === 0;
  if (base.fragOffset !== 0) return base;
  if (proto === IpProto.TCP && l4.length >= (quoted ? 8 : TCP_HLEN)) {
    const doff = l4.length >= 13 ? (l4[12] >> 4) * 4 : TCP_HLEN;
    return {
      ...base, tcp: {
        sport: l4.readUInt16BE(0), dport: l4.readUInt16BE(2), seq: l4.readUInt32BE(4),
        ack: l4.length >= 12 ? l4.readUInt32BE(8) : 0, flags: l4.length >= 14 ? l4[13] : 0, checksumOk: l4Ok(IpProto.TCP),
        payload: Buffer.from(l4.subarray(Math.min(doff, l4.length))),
      },
    };
  }
  if (proto === IpProto.UDP && l4.length >= UDP_HLEN) {
    const checksum = l4.readUInt16BE(6);
    return {
      ...base, udp: {
        sport: l4.readUInt16BE(0), dport: l4.readUInt16BE(2), checksum, checksumOk: checksum === 0 || l4Ok(IpProto.UDP),
        payload: Buffer.from(l4.subarray(UDP_HLEN)),
      },
    };
  }
  if (proto === IpProto.ICMP && l4.length >= ICMP_HLEN) {
    const type = l4[0];
    const isError = type === IcmpType.DestUnreachable || type === IcmpType.SourceQuench || type === IcmpType.TimeExceeded || type === IcmpType.ParameterProblem;
    let quote: ParsedIpv4 | undefined;
    if (isError && l4.length >= ICMP_HLEN + IPV4_HLEN) quote = parseIpv4(l4.subarray(ICMP_HLEN), true);
    return {
      ...base, icmp: {
        type, code: l4[1], id: l4.readUInt16BE(4), seq: l4.readUInt16BE(6), checksumOk: quoted || inetChecksum(l4) === 0,
        ...(quote ? { quote } : {}),
      },
    };
  }
  return base;
}

/** Parses an Ethernet frame. Throws RangeError for a frame shorter than 14 bytes or a truncated IPv4/ARP body. */
export function parsePacket(b: Buffer): ParsedPacket {
  if (b.length < ETH_HLEN) throw new RangeError(`frame of ${b.length} bytes is shorter than an Ethernet header`);
  const eth = { dst: macString(b, 0), src: macString(b, 6), type: b.readUInt16BE(12) };
  const body = b.subarray(ETH_HLEN);
  if (eth.type === EtherType.IPv4) return { eth, ipv4: parseIpv4(body) };
  if (eth.type === EtherType.ARP) {
    if (body.length < 28) throw new RangeError('truncated ARP packet');
    return {
      eth, arp: {
        op: body.readUInt16BE(6), senderMac: macString(body, 8), senderIp: ipString(body, 14), targetMac: macString(body, 18),
        targetIp: ipString(body, 24),
      },
    };
  }
  return { eth };
}
