// Public types of the ipam cell.

import { token } from '../../pkg/hive/index.js';

/** Host-scope IPv4 address management for this node's endpoints. */
export interface Ipam {
  /** The node's pod CIDR (--pod-cidr). */
  readonly podCidr: string;
  /** The router (gateway) address of the pod CIDR: its first address, held by the host device. */
  readonly routerIP: string;
  /** Leases a free address to `owner` (idempotent per owner). Persisted before it returns. */
  allocate(owner: string): string;
  /** Leases `ip` to `owner`. Throws IpamConflictError when taken, reserved or outside the CIDR. */
  allocateSpecific(ip: string, owner: string): string;
  /** Releases `ip`; false when it was not leased. Persisted before it returns. */
  release(ip: string): boolean;
  /** The address `owner` holds, if any. */
  addressOf(owner: string): string | undefined;
  /** Every lease (ip → owner). */
  leases(): Readonly<Record<string, string>>;
}
export const IIpam = token<Ipam>('Ipam');

export interface IpamConfig {
  readonly podCidr: string;
}
export const IIpamConfig = token<Readonly<IpamConfig>>('IpamConfig');
