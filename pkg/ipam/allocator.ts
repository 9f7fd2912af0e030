// Host-scope IPv4 allocator: hands out addresses of one pod CIDR to owners (endpoints), remembers who
// holds what so a restart can restore it, and does not reuse a released address until the range wraps
// (a new endpoint should not inherit a dead one's conntrack entries or peers' caches).

import { type Cidr4, cidrContains, ipToNum, numToIp, parseCidr4 } from './ipv4.js';

/** No free address left. */
export class IpamExhaustedError extends Error {
  constructor(cidr: string) {
    super(`IPAM: no free address left in ${cidr}`);
    this.name = 'IpamExhaustedError';
  }
}

/** An address requested explicitly is taken, reserved, or outside the range. */
export class IpamConflictError extends Error {
  constructor(message: string) {
    super(`IPAM: ${message}`);
    this.name = 'IpamConflictError';
  }
}

/** A persisted allocator state. */
export interface AllocatorSnapshot {
  readonly cidr: string;
  readonly leases: Readonly<Record<string, string>>;
  readonly next: number;
}

/** Allocates addresses of `cidr`, minus the network and broadcast addresses and `reserved`. */
export class HostScopeAllocator {
  private readonly range: Cidr4;
  private readonly leases = new Map<number, string>();
  private readonly reserved = new Set<number>();
  private next = 0;

  constructor(
    readonly cidr: string,
    reserved: readonly string[] = [],
  ) {
    this.range = parseCidr4(cidr);
    if (this.range.bits > 30) throw new Error(`IPAM: ${cidr} is too small for pods (need at least a /30)`);
    this.reserved.add(this.range.base);
    this.reserved.add(this.range.base + this.range.size - 1);
    for (const r of reserved) {
      if (!cidrContains(this.range, r)) throw new Error(`IPAM: reserved address ${r} is outside ${cidr}`);
      this.reserved.add(ipToNum(r));
    }
  }

  /** Addresses that can ever be handed out. */
  capacity(): number {
    return this.range.size - this.reserved.size;
  }

  /** Addresses currently leased. */
  used(): number {
    return this.leases.size;
  }

  /** The owner of `ip`, if leased. */
  ownerOf(ip: string): string | undefined {
    return this.leases.get(ipToNum(ip));
  }

  /** The address leased to `owner`, if any. */
  addressOf(owner: string): string | undefined {
    for (const [n, o] of this.leases) if (o === owner) return numToIp(n);
    return undefined;
  }

  /** Leases a free address to `owner`. Idempotent: an owner that already holds one gets it again. */
  allocate(owner: string): string {
    const held = this.addressOf(owner);
    if (held) return held;
    for (let i = 0; i < this.range.size; i++) {
      const off = (this.next + i) % this.range.size;
      const n = this.range.base + off;
      if (this.reserved.has(n) || this.leases.has(n)) continue;
      this.leases.set(n, owner);
      this.next = (off + 1) % this.range.size;
      return numToIp(n);
    }
    throw new IpamExhaustedError(this.cidr);
  }

  /** Leases a specific address to `owner`. Throws IpamConflictError when it cannot. */
  allocateSpecific(ip: string, owner: string): string {
    if (!cidrContains(this.range, ip)) throw new IpamConflictError(`${ip} is outside ${this.cidr}`);
    const n = ipToNum(ip);
    if (this.reserved.has(n)) throw new IpamConflictError(`${ip} is reserved`);
    const cur = this.leases.get(n);
    if (cur !== undefined && cur !== owner) throw new IpamConflictError(`${ip} is already leased to ${cur}`);
    this.leases.set(n, owner);
    return ip;
  }

  /** Releases `ip`; false when it was not leased. */
  release(ip: string): boolean {
    return this.leases.delete(ipToNum(ip));
  }

  /** Every lease, for persistence and the API. */
  snapshot(): AllocatorSnapshot {
    const leases: Record<string, string> = {};
    for (const [n, o] of [...this.leases].sort((a, b) => a[0] - b[0])) leases[numToIp(n)] = o;
    return { cidr: this.cidr, leases, next: this.next };
  }

  /**
   * Restores leases from a snapshot of the same CIDR. Leases outside the range or on reserved
   * addresses are dropped and returned, so the caller can report them.
   */
  restore(s: AllocatorSnapshot): string[] {
    const dropped: string[] = [];
    if (s.cidr !== this.cidr) return Object.keys(s.leases);
    for (const [ip, owner] of Object.entries(s.leases)) {
      try {
        this.allocateSpecific(ip, owner);
      } catch {
        dropped.push(ip);
      }
    }
    this.next = Number.isInteger(s.next) && s.next >= 0 && s.next < this.range.size ? s.next : 0;
    return dropped;
  }
}
