// Text <-> wire forms of IP addresses, prefixes and MAC addresses, for both address families.
import net from 'node:net';
import { AF_INET, AF_INET6 } from './constants.js';

/** An address family on the wire: AF_INET (2) or AF_INET6 (10). */
export type Family = typeof AF_INET | typeof AF_INET6;

/** An IP address in network byte order, with its family. */
export interface WireIp {
  readonly family: Family;
  readonly bytes: Buffer;
}

/** A prefix (`"10.244.0.0/16"`), with its family and length; `"default"` is 0.0.0.0/0. */
export interface WirePrefix extends WireIp {
  readonly prefixLen: number;
}

function parseIpv6(text: string): Buffer {
  // Validated by net.isIPv6 before we get here. A trailing dotted quad (::ffff:1.2.3.4) becomes two groups.
  let s = text;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    const v4 = parseIpv4(s.slice(lastColon + 1));
    s = `${s.slice(0, lastColon + 1)}${((v4[0] << 8) | v4[1]).toString(16)}:${((v4[2] << 8) | v4[3]).toString(16)}`;
  }
  const [left, right] = s.includes('::') ? s.split('::') : [s, undefined];
  const leftGroups = left === '' ? [] : left.split(':');
  const rightGroups = right === undefined || right === '' ? [] : right.split(':');
  const zeros = right === undefined ? 0 : 8 - leftGroups.length - rightGroups.length;
  const groups = [...leftGroups, ...Array<string>(zeros).fill('0'), ...rightGroups];
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => bytes.writeUInt16BE(parseInt(g, 16), i * 2));
  return bytes;
}

function parseIpv4(text: string): Buffer {
  return Buffer.from(text.split('.').map((octet) => Number(octet)));
}

/**
 * Parses an IPv4 or IPv6 address.
 * @throws TypeError when `text` is neither.
 */
export function parseIp(text: string): WireIp {
  if (net.isIPv4(text)) return { family: AF_INET, bytes: parseIpv4(text) };
  if (net.isIPv6(text)) return { family: AF_INET6, bytes: parseIpv6(text) };
  throw new TypeError(`not an IP address: ${JSON.stringify(text)}`);
}

/** Formats 4 or 16 network-order bytes as text (IPv6 in RFC 5952 form, as inet_ntop prints it). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) throw new TypeError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses end in a dotted quad.
  if (groups.slice(0, 5).every((g) => g === 0) && (groups[5] === 0xffff || (groups[5] === 0 && groups[6] !== 0))) {
    return `::${groups[5] ? 'ffff:' : ''}${Array.from(bytes.subarray(12)).join('.')}`;
  }
  // Longest run of two or more zero groups becomes "::" (first one on ties).
  let bestStart = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** The full prefix length of a family: 32 or 128. */
export function maxPrefixLen(family: Family): number {
  return family === AF_INET ? 32 : 128;
}

/**
 * Parses `"addr/len"`, a bare address (full length), or `"default"` (0.0.0.0/0; use `"::/0"` for IPv6).
 * @throws TypeError for a bad address or a length outside 0..32 (IPv4) / 0..128 (IPv6).
 */
export function parsePrefix(text: string): WirePrefix {
  if (text === 'default') return { family: AF_INET, bytes: Buffer.alloc(4), prefixLen: 0 };
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  const lenText = slash < 0 ? undefined : text.slice(slash + 1);
  const prefixLen = lenText === undefined ? maxPrefixLen(ip.family) : Number(lenText);
  if (lenText !== undefined && !/^\d{1,3}$/.test(lenText) || prefixLen > maxPrefixLen(ip.family)) {
    throw new TypeError(`bad prefix length in ${JSON.stringify(text)}`);
  }
  return { ...ip, prefixLen };
}

/**
 * Parses a MAC address `"aa:bb:cc:dd:ee:ff"` (also with `-`).
 * @throws TypeError for anything else.
 */
export function parseMac(text: string): Buffer {
  if (!/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/.test(text)) throw new TypeError(`not a MAC address: ${JSON.stringify(text)}`);
  return Buffer.from(text.replace(/[:-]/g, ''), 'hex');
}

/** Formats link-layer address bytes as lower-case colon-separated hex, as `ip link` prints them. */
export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}
