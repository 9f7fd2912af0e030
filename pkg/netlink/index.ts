// pkg/netlink: rtnetlink (links, addresses, routes, neighbours), sysctls and pod wiring, over a raw
// AF_NETLINK socket driven synchronously through koffi. No dependencies, no forks of ip(8).
//
//   const host = Netlink.open();                        // the agent's netns; keep it open
//   const w = wirePod(host, { podNetns: 'cni-1234', hostIfname: 'lxc1234', podIfname: 'eth0',
//                             podIp: '10.244.1.10', gatewayIp: '10.244.1.1', mtu: 1450 });
//   host.replaceNeighbour({ ip: '10.244.1.10', mac: w.podMac, dev: w.hostIfindex });
//   unwirePod(host, 'lxc1234');                         // idempotent
//
// Every call blocks for its kernel round trip(s); there is no async API on purpose (see withNetns).
export { Netlink, type NetlinkOptions, type AddressOptions, type RouteOptions, type NeighbourOptions, type ListFilter } from './netlink.js';
export { NetlinkError, Errno } from './errors.js';
export { type Link, type LinkRef, type LinkChange, type OperState, type VethOptions, MAX_IFNAME_BYTES } from './link.js';
export { type Address, type FamilyName } from './address.js';
export { type Route, RouteProtocol, RouteTable } from './route.js';
export { type Neighbour, type NeighbourState } from './neighbour.js';
export { type Scope } from './scope.js';
export { getSysctl, setSysctl, sysctlPath, type SysctlOptions } from './sysctl.js';
export { wirePod, unwirePod, type PodWiring, type PodWiringSpec } from './pod-wiring.js';
export { parseIp, formatIp, parsePrefix, parseMac, formatMac } from './ip.js';
export type { NetlinkRequest, NetlinkReply } from './request.js';
export { addressRequest, dumpAddressesRequest, decodeAddress } from './address.js';
export { routeRequest, dumpRoutesRequest, decodeRoute } from './route.js';
export { neighbourRequest, dumpNeighboursRequest, decodeNeighbour } from './neighbour.js';
export { newVethRequest, setLinkRequest, deleteLinkRequest, getLinkRequest, dumpLinksRequest, decodeLink } from './link.js';
