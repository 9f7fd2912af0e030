// Owns the TypeScript twin of the datapath's flow hash: Linux's jhash_3words (include/linux/jhash.h,
// bpf/lib/jhash.h) and the Maglev hash of a flow built from it. pkg/lb has its own copy for table
// building; this one lets the datapath tests check the program's choice without depending on pkg/lb.
import net from 'node:net';

const JHASH_INITVAL = 0xdeadbeef;

function rol32(w: number, s: number): number {
  return ((w << s) | (w >>> (32 - s))) >>> 0;
}

/** jhash_3words(a, b, c, initval) of the Linux kernel; arguments are taken modulo 2^32, the result is a u32. */
export function jhash3words(a: number, b: number, c: number, initval: number): number {
  const iv = (initval + JHASH_INITVAL + (3 << 2)) >>> 0;
  a = (a + iv) >>> 0;
  b = (b + iv) >>> 0;
  c = (c + iv) >>> 0;
  // __jhash_final(a, b, c)
  c = ((c ^ b) - rol32(b, 14)) >>> 0;
  a = ((a ^ c) - rol32(c, 11)) >>> 0;
  b = ((b ^ a) - rol32(a, 25)) >>> 0;
  c = ((c ^ b) - rol32(b, 16)) >>> 0;
  a = ((a ^ c) - rol32(c, 4)) >>> 0;
  b = ((b ^ a) - rol32(a, 14)) >>> 0;
  c = ((c ^ b) - rol32(b, 24)) >>> 0;
  return c;
}

function ipToU32(ip: string): number {
  if (!net.isIPv4(ip)) throw new TypeError(`${JSON.stringify(ip)} is not an IPv4 address`);
  return ip.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

/**
 * The hash cil_from_container uses to index a Maglev table (docs/datapath.md step 3):
 * `jhash_3words(saddr, daddr, sport << 16 | dport, proto)` with addresses and ports in host order.
 * The slot is `maglevFlowHash(...) % M`. Throws TypeError for a malformed address.
 */
export function maglevFlowHash(saddr: string, daddr: string, sport: number, dport: number, proto: number): number {
  return jhash3words(ipToU32(saddr), ipToU32(daddr), ((sport << 16) | dport) >>> 0, proto);
}
