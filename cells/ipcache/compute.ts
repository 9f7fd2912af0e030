// The pure part of the ipcache: merging sources per prefix and finding each prefix's CIDR identity.

import { ipToNum, parseCidr4 } from '../../pkg/ipam/index.js';

/** A prefix as (first address, length). */
interface P {
  readonly base: number;
  readonly bits: number;
}

function parse(prefix: string): P {
  const c = parseCidr4(prefix);
  return { base: c.base, bits: c.bits };
}

/** Longest-prefix lookup over a set of CIDR prefixes with identities (few, so a per-length map is enough). */
export class CidrIndex {
  private readonly byLen = new Map<number, Map<number, number>>();
  private readonly lengths: number[] = [];

  constructor(prefixes: ReadonlyMap<string, number>) {
    for (const [p, id] of prefixes) {
      const { base, bits } = parse(p);
      let m = this.byLen.get(bits);
      if (!m) this.byLen.set(bits, (m = new Map<number, number>()));
      m.set(base, id);
    }
    this.lengths = [...this.byLen.keys()].sort((a, b) => b - a);
  }

  /** Identity of the longest prefix containing `prefix` (itself included), or 0. */
  longestContaining(prefix: string): number {
    const { base, bits } = parse(prefix);
    for (const len of this.lengths) {
      if (len > bits) continue;
      const mask = len === 0 ? 0 : (~0 << (32 - len)) >>> 0;
      const id = this.byLen.get(len)!.get((base & mask) >>> 0);
      if (id !== undefined) return id;
    }
    return 0;
  }

  /** The same for an address. */
  forAddress(ip: string): number {
    return this.longestContaining(`${ip}/32`);
  }
}

/** Canonical `a.b.c.d/32` of an address. */
export function hostPrefix(ip: string): string {
  ipToNum(ip);
  return `${ip}/32`;
}
