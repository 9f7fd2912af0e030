// The per-packet flow hash that indexes a Maglev table, shared with the BPF datapath.
import { parseIPv4, PROTOCOL_NUMBER, type Protocol } from '../model/index.js';
import { jhash3words } from './jhash.js';

/** A connection's 4-tuple and protocol, in natural units (dotted quads, host-order port numbers). */
export interface FlowTuple {
  readonly saddr: string;
  readonly daddr: string;
  readonly sport: number;
  readonly dport: number;
  /** A model protocol or an IANA protocol number. */
  readonly protocol: Protocol | number;
}

/**
 * How the datapath loads the tuple before hashing.
 * - `raw` (default): the C code passes the packet's network-order fields unconverted, i.e. the
 *   __be32 addresses and __be16 ports as a little-endian CPU (x86-64, arm64) loads them:
 *   `jhash_3words(ip4->saddr, ip4->daddr, ((__u32)l4->source << 16) | l4->dest, ip4->protocol)`.
 *   This is what Cilium's hash_from_tuple_v4 does (no byte swapping).
 * - `host`: the C code converts first, `bpf_ntohl(saddr)`, `bpf_ntohs(sport)`: the words are the
 *   numeric values (10.0.0.1 → 0x0a000001, port 80 → 80).
 */
export type FlowHashByteOrder = 'raw' | 'host';

function bswap32(value: number): number {
  return (((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | (value >>> 24)) >>> 0;
}

function bswap16(value: number): number {
  return ((value & 0xff) << 8) | ((value >>> 8) & 0xff);
}

function requireU16(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new RangeError(`${what} ${value} is not a port 0..65535`);
  return value;
}

/**
 * The three words and initval handed to jhash_3words for `tuple`:
 * a = saddr, b = daddr, c = (sport << 16) | dport, initval = IP protocol number, each in the
 * byte order `order` describes.
 * @throws RangeError for malformed addresses or ports
 */
export function flowHashWords(tuple: FlowTuple, order: FlowHashByteOrder = 'raw'): [number, number, number, number] {
  const saddr = parseIPv4(tuple.saddr);
  const daddr = parseIPv4(tuple.daddr);
  if (saddr === undefined || daddr === undefined) throw new RangeError(`flow tuple has a bad address: ${tuple.saddr} -> ${tuple.daddr}`);
  const sport = requireU16(tuple.sport, 'sport');
  const dport = requireU16(tuple.dport, 'dport');
  const protocol = typeof tuple.protocol === 'number' ? tuple.protocol : PROTOCOL_NUMBER[tuple.protocol];
  if (order === 'host') return [saddr, daddr, ((sport << 16) | dport) >>> 0, protocol];
  return [bswap32(saddr), bswap32(daddr), ((bswap16(sport) << 16) | bswap16(dport)) >>> 0, protocol];
}

/**
 * The datapath's flow hash: jhash_3words(saddr, daddr, (sport << 16) | dport, protocol) with the
 * words in byte order `order` (default `raw`, see FlowHashByteOrder).
 * @throws RangeError for malformed addresses or ports
 */
export function maglevFlowHash(tuple: FlowTuple, order: FlowHashByteOrder = 'raw'): number {
  const [a, b, c, initval] = flowHashWords(tuple, order);
  return jhash3words(a, b, c, initval);
}

/** The Maglev table slot a flow hash selects: `hash % tableSize`, as the datapath computes it. */
export function maglevIndex(hash: number, tableSize: number): number {
  return (hash >>> 0) % tableSize;
}
