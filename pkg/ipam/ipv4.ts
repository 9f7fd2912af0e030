// IPv4 address arithmetic on 32-bit unsigned numbers.

const DOTTED = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** True for a dotted-quad IPv4 address. */
export function isIPv4(s: string): boolean {
  return DOTTED.test(s);
}

/** Dotted quad → unsigned 32-bit number. Throws on a malformed address. */
export function ipToNum(ip: string): number {
  if (!isIPv4(ip)) throw new Error(`invalid IPv4 address ${JSON.stringify(ip)}`);
  return ip.split('.').reduce((n, p) => n * 256 + Number(p), 0);
}

/** Unsigned 32-bit number → dotted quad. */
export function numToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** A parsed IPv4 CIDR: first address and prefix length. */
export interface Cidr4 {
  readonly base: number;
  readonly bits: number;
  /** Number of addresses in the block. */
  readonly size: number;
}

/** Parses `a.b.c.d/n`; the address must be the network address. */
export function parseCidr4(cidr: string): Cidr4 {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(cidr);
  if (!m || Number(m[2]) > 32) throw new Error(`invalid IPv4 CIDR ${JSON.stringify(cidr)}`);
  const bits = Number(m[2]);
  const base = ipToNum(m[1]);
  const size = 2 ** (32 - bits);
  if (base % size !== 0) throw new Error(`invalid IPv4 CIDR ${cidr}: host bits set (did you mean ${numToIp(base - (base % size))}/${bits}?)`);
  return { base, bits, size };
}

/** True when `ip` lies inside `cidr`. */
export function cidrContains(cidr: Cidr4, ip: string): boolean {
  const n = ipToNum(ip);
  return n >= cidr.base && n < cidr.base + cidr.size;
}
