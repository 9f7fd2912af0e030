// Names and addresses the agent chooses for an endpoint's devices.

import crypto from 'node:crypto';

/** Host-side veth name: prefix + hash of (containerId, ifName), 15 bytes at most (as Cilium's lxc…). */
export function hostIfName(prefix: string, containerId: string, ifName: string): string {
  const hash = crypto.createHash('sha256').update(`${containerId}/${ifName}`).digest('hex');
  return prefix + hash.slice(0, 15 - prefix.length);
}

/** A random locally administered unicast MAC address. */
export function randomMac(): string {
  const b = crypto.randomBytes(6);
  b[0] = (b[0] & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** A container id for endpoints created without a runtime (`cilia endpoint create`). */
export function generatedContainerId(): string {
  return 'cilia-' + crypto.randomBytes(12).toString('hex');
}

/** The netns name `cilia endpoint create` gives a pod: `<namespace>-<name>`, made safe for /run/netns. */
export function netnsNameFor(namespace: string, name: string): string {
  return `${namespace}-${name}`.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 200);
}
