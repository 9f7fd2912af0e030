// The endpoint datapath reconciler's operations: the only code that touches the kernel for endpoints.
// update = make sure the veth exists (wiring the pod on first sight), its host route, the programs on
// it, and its cilia_lxc entries (only once its policy is resolved: until then the datapath drops its
// traffic with "Endpoint policy program not available"); delete = the reverse; prune = remove map
// entries and devices of ours that no endpoint wants.

import type { Logger } from '../../pkg/hive/index.js';
import { type Netlink, setSysctl, unwirePod, wirePod } from '../../pkg/netlink/index.js';
import { deleteNetns, netnsExists } from '../../pkg/netns/index.js';
import { EP_F_EGRESS_ENFORCED, EP_F_INGRESS_ENFORCED, endpointKeyByIfindex, endpointKeyByIp, ENDPOINT_KEY_IPV4, ENDPOINT_KEY_IFINDEX, type EndpointInfo } from '../../pkg/datapath/index.js';
import type { ReadTxn, Revision } from '../../pkg/statedb/index.js';
import type { OpContext, Operations } from '../../pkg/statedb/reconciler/index.js';
import type { MapsAccess } from '../maps/types.js';
import type { Orchestrator } from '../orchestrator/types.js';
import { type Endpoint, datapathRevisionOf } from './types.js';

/** The lxc map value of an endpoint on device `ifindex`. */
export function endpointInfo(ep: Endpoint, ifindex: number): EndpointInfo {
  const policy = ep.policy!;
  return {
    ifindex,
    lxc_id: ep.id,
    flags: (policy.ingressEnforced ? EP_F_INGRESS_ENFORCED : 0) | (policy.egressEnforced ? EP_F_EGRESS_ENFORCED : 0),
    sec_id: ep.identity,
    ipv4: ep.ipv4,
    mac: ep.mac,
    node_mac: ep.hostMac,
    policy_rev: datapathRevisionOf(policy) >>> 0,
  };
}

/** Kernel-side state of endpoints, owned by the reconciler. */
export class EndpointDatapathOps implements Operations<Endpoint> {
  /** Endpoint id → ifindex of its host-side veth, as last seen. */
  readonly ifindexes = new Map<number, number>();

  constructor(
    private readonly nl: () => Netlink,
    private readonly maps: MapsAccess,
    private readonly orchestrator: Orchestrator,
    private readonly routerIP: string,
    private readonly ifnamePrefix: string,
    private readonly log: Logger,
  ) {}

  async update(_ctx: OpContext, _txn: ReadTxn, _rev: Revision, ep: Endpoint): Promise<void> {
    const nl = this.nl();
    let link = nl.getLink(ep.hostIfName);
    if (!link) {
      if (!netnsExists(ep.netnsPath)) throw new Error(`network namespace ${ep.netnsPath} of endpoint ${ep.id} does not exist`);
      wirePod(nl, {
        podNetns: ep.netnsPath,
        hostIfname: ep.hostIfName,
        podIfname: ep.ifName,
        podIp: ep.ipv4,
        gatewayIp: this.routerIP,
        mtu: ep.mtu,
        hostRoute: true,
        hostMac: ep.hostMac,
        podMac: ep.mac,
        // Programs and map entries go in before the pod's interface comes up: its first packet is
        // already the datapath's, never the host stack's.
        beforePodUp: (ifindex) => this.program(ep, ifindex),
      });
      link = nl.getLink(ep.hostIfName);
      if (!link) throw new Error(`veth ${ep.hostIfName} vanished right after it was created`);
      // The datapath is IPv4-only: keep the host side from sending IPv6 (router solicitations, MLD)
      // into the pod, which the datapath would only drop.
      disableIpv6(ep.hostIfName);
      this.log.debug('wired endpoint', { endpoint: ep.id, hostIf: ep.hostIfName, ifindex: link.index });
    } else {
      // Restart or refresh: keep the device (and the pod's connections) and make sure it is routed.
      nl.replaceRoute({ dst: `${ep.ipv4}/32`, dev: link.index, scope: 'link' });
      if (!link.up) nl.setUp(link.index);
      this.program(ep, link.index);
    }
  }

  /** Attaches the programs to the endpoint's host-side veth and writes its `cilia_lxc` entries
   * (removes them while the endpoint has no resolved policy yet). */
  private program(ep: Endpoint, ifindex: number): void {
    const prev = this.ifindexes.get(ep.id);
    if (prev !== undefined && prev !== ifindex) this.maps.maps.lxc.delete(endpointKeyByIfindex(prev));
    this.ifindexes.set(ep.id, ifindex);
    this.orchestrator.attachEndpoint(ifindex, ep.hostIfName);
    const lxc = this.maps.maps.lxc;
    if (ep.policy) {
      const info = endpointInfo(ep, ifindex);
      lxc.put(endpointKeyByIp(ep.ipv4), info);
      lxc.put(endpointKeyByIfindex(ifindex), info);
    } else {
      lxc.delete(endpointKeyByIp(ep.ipv4));
      lxc.delete(endpointKeyByIfindex(ifindex));
    }
  }

  async delete(_ctx: OpContext, _txn: ReadTxn, _rev: Revision, ep: Endpoint): Promise<void> {
    const nl = this.nl();
    const ifindex = this.ifindexes.get(ep.id) ?? nl.getLink(ep.hostIfName)?.index;
    const lxc = this.maps.maps.lxc;
    lxc.delete(endpointKeyByIp(ep.ipv4));
    if (ifindex !== undefined) {
      lxc.delete(endpointKeyByIfindex(ifindex));
      this.orchestrator.forgetEndpoint(ifindex);
    }
    unwirePod(nl, ep.hostIfName);
    if (ep.ownsNetns && netnsExists(ep.netnsPath)) deleteNetns(ep.netnsPath);
    this.ifindexes.delete(ep.id);
  }

  async prune(_ctx: OpContext, _txn: ReadTxn, desired: Iterable<[Endpoint, Revision]>): Promise<void> {
    const want = [...desired].map(([e]) => e);
    const ips = new Set(want.map((e) => e.ipv4));
    const names = new Set(want.map((e) => e.hostIfName));
    const ifindexes = new Set([...this.ifindexes.values()]);
    const lxc = this.maps.maps.lxc;
    for (const k of [...lxc.keys()]) {
      const stale = k.kind === ENDPOINT_KEY_IPV4 ? !ips.has(ipFromRaw(k.addr_or_ifindex)) : k.kind === ENDPOINT_KEY_IFINDEX ? !ifindexes.has(k.addr_or_ifindex) : true;
      if (stale) lxc.delete(k);
    }
    const nl = this.nl();
    for (const link of nl.listLinks()) {
      if (link.kind === 'veth' && link.name.startsWith(this.ifnamePrefix) && !names.has(link.name)) {
        this.log.info('pruning a veth no endpoint owns', { device: link.name });
        this.orchestrator.forgetEndpoint(link.index);
        nl.deleteLink(link.name);
      }
    }
  }
}

/** Turns IPv6 off on a host device (best effort: a kernel without IPv6 has nothing to turn off). */
export function disableIpv6(ifName: string): void {
  try {
    setSysctl(`net/ipv6/conf/${ifName}/disable_ipv6`, '1');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** The dotted form of an IPv4 address stored as the raw u32 of its network-order bytes. */
function ipFromRaw(raw: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(raw >>> 0);
  return [...b].join('.');
}
