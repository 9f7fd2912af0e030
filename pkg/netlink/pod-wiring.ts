// The endpoint hot path: wiring a pod's network namespace to the node with a veth pair, in as few
// kernel round trips as possible, and removing it again.
import fs from 'node:fs';
import { openNetns, withNetns } from '../netns/with-netns.js';
import type { NetnsRef } from '../netns/paths.js';
import { addressRequest } from './address.js';
import { AF_INET } from './constants.js';
import { Errno, NetlinkError } from './errors.js';
import { parseIp } from './ip.js';
import { decodeLink, getLinkRequest, newVethRequest, setLinkRequest } from './link.js';
import { Netlink } from './netlink.js';
import { routeRequest } from './route.js';
import { setSysctl } from './sysctl.js';

/** What `wirePod` builds. */
export interface PodWiringSpec {
  /** The pod's network namespace: name under /run/netns, nsfs path, or open fd (left open). */
  readonly podNetns: NetnsRef;
  /** Name of the veth end that stays on the node (e.g. `lxc12ab…`), at most 15 bytes. */
  readonly hostIfname: string;
  /** Name of the veth end inside the pod (e.g. `eth0`). */
  readonly podIfname: string;
  /** The pod's IPv4 address; it is configured as a /32. */
  readonly podIp: string;
  /** The node-side gateway IPv4 address the pod routes everything through. */
  readonly gatewayIp: string;
  /** MTU of both ends; default 1500. */
  readonly mtu?: number;
  /**
   * Also route `podIp/32` to the host end in the node's netns (per-endpoint routes, when the kernel
   * rather than BPF forwards to the pod). Default false. Costs one more round trip.
   */
  readonly hostRoute?: boolean;
  /** MAC address of the host end (default: the kernel's random one). */
  readonly hostMac?: string;
  /** MAC address of the pod end (default: the kernel's random one). */
  readonly podMac?: string;
  /**
   * Called once the veth exists and before the pod end comes up, with the host end's ifindex: the place
   * to attach programs to the host end, so that no packet of the pod passes it unfiltered (and the
   * clsact qdisc is not created under live traffic). An exception from it undoes the wiring.
   */
  readonly beforePodUp?: (hostIfindex: number) => void;
}

/** The devices `wirePod` created. Indexes are each in their own netns. */
export interface PodWiring {
  readonly hostIfindex: number;
  readonly hostMac: string;
  readonly podIfindex: number;
  readonly podMac: string;
}

/** Turns IPv6 off in the pod's netns: the datapath is IPv4-only, and this stops link-local/DAD/RS traffic. */
function disableIpv6(): void {
  try {
    setSysctl('net.ipv6.conf.all.disable_ipv6', '1');
  } catch (err) {
    // No /proc/sys/net/ipv6 at all: the kernel runs without IPv6, which is what we want anyway.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Wires a pod to the node. `host` is a handle on the node's netns (where the host end stays).
 * Afterwards the pod has: IPv6 disabled (net.ipv6.conf.all.disable_ipv6=1, set before the device appears),
 * `podIfname` up with `podIp/32`, `gatewayIp dev podIfname scope link`, and
 * `default via gatewayIp dev podIfname onlink`; the host end is up (and routed, with `hostRoute`).
 *
 * `beforePodUp` runs after the veth is created and before the pod end is configured and brought up.
 *
 * Kernel round trips: one setns pair (sysctl + a netlink socket inside the pod netns), one on the node
 * (veth created with the host end up and its peer born in the pod netns, echoed back with the peer's
 * ifindex), one in the pod (up, address, two routes and a read-back, batched), plus one for `hostRoute`.
 *
 * All or nothing: when a step after the veth creation fails, the veth is deleted before the error is thrown.
 * Not idempotent on its own: an existing `hostIfname` is EEXIST (call `unwirePod` first to start over).
 *
 * @throws NetlinkError (EEXIST when `hostIfname` exists on the node or `podIfname` in the pod, EINVAL for
 *   a bad name); TypeError for addresses that are not IPv4; errors of entering the pod netns.
 */
export function wirePod(host: Netlink, spec: PodWiringSpec): PodWiring {
  for (const ip of [spec.podIp, spec.gatewayIp]) {
    if (parseIp(ip).family !== AF_INET) throw new TypeError(`wirePod: ${ip} is not an IPv4 address`);
  }
  const podFd = typeof spec.podNetns === 'number' ? spec.podNetns : openNetns(spec.podNetns);
  let pod: Netlink | undefined;
  let created = false;
  try {
    pod = withNetns(podFd, () => {
      disableIpv6();
      return Netlink.open();
    });
    const [[echo]] = host.transact([newVethRequest({
      name: spec.hostIfname, peerName: spec.podIfname, peerNetnsFd: podFd, mtu: spec.mtu, up: true,
      mac: spec.hostMac, peerMac: spec.podMac,
    })]);
    created = true;
    const hostLink = echo ? decodeLink(echo) : decodeLink(host.transact([getLinkRequest(spec.hostIfname)])[0][0]);
    const podIfindex = hostLink.linkIndex;
    if (podIfindex === undefined || hostLink.mac === undefined) {
      throw new NetlinkError(`RTM_NEWLINK veth ${spec.hostIfname}`, Errno.EINVAL, 'the kernel did not report the peer ifindex');
    }
    spec.beforePodUp?.(hostLink.index);
    // Order matters: an onlink route needs its device up.
    const replies = pod.transact([
      setLinkRequest(podIfindex, { up: true }),
      addressRequest('add', { address: `${spec.podIp}/32`, ifindex: podIfindex }),
      routeRequest('add', { dst: `${spec.gatewayIp}/32`, ifindex: podIfindex, scope: 'link' }),
      routeRequest('add', { dst: 'default', gateway: spec.gatewayIp, ifindex: podIfindex, onlink: true }),
      getLinkRequest(podIfindex),
    ]);
    const podLink = decodeLink(replies[4][0]);
    if (spec.hostRoute) {
      host.transact([routeRequest('replace', { dst: `${spec.podIp}/32`, ifindex: hostLink.index, scope: 'link' })]);
    }
    return { hostIfindex: hostLink.index, hostMac: hostLink.mac, podIfindex, podMac: podLink.mac ?? '' };
  } catch (err) {
    if (created) {
      try {
        host.deleteLink(spec.hostIfname);
      } catch {
        // Keep the original error; the next unwirePod or a prune pass removes the leftover.
      }
    }
    throw err;
  } finally {
    pod?.close();
    if (typeof spec.podNetns !== 'number') fs.closeSync(podFd);
  }
}

/**
 * Undoes `wirePod`: deletes the host end, which removes the pod end, its address and routes, and the
 * host route with it. Idempotent.
 * @returns false when there was nothing to delete.
 * @throws NetlinkError for failures other than a missing device.
 */
export function unwirePod(host: Netlink, hostIfname: string): boolean {
  return host.deleteLink(hostIfname);
}
