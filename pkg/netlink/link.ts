// Network devices (links): their description, and the RTM_*LINK requests that create, change, list and delete them.
import {
  AF_UNSPEC, IFF_UP, IFINFOMSG_LEN, IFLA_ADDRESS, IFLA_EXT_MASK, IFLA_IFNAME, IFLA_INFO_KIND, IFLA_INFO_DATA,
  IFLA_LINK, IFLA_LINK_NETNSID, IFLA_LINKINFO, IFLA_MASTER, IFLA_MTU, IFLA_NET_NS_FD, IFLA_OPERSTATE,
  NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_ECHO, NLM_F_EXCL, RTEXT_FILTER_SKIP_STATS,
  RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK, RTM_SETLINK, VETH_INFO_PEER,
} from './constants.js';
import { Errno, NetlinkError } from './errors.js';
import { formatMac, parseMac } from './ip.js';
import { attrString, MessageBuilder, parseAttributes, readS32, readU32, writeS32, writeU16, writeU32, type NetlinkMessage } from './message.js';
import type { NetlinkRequest } from './request.js';
import type { NetnsRef } from '../netns/paths.js';

/** A network device by name (`"eth0"`) or by ifindex (`3`), in the netns of the handle used. */
export type LinkRef = string | number;

/** RFC 2863 operational state, as /sys/class/net/<dev>/operstate spells it. */
export type OperState = 'unknown' | 'notpresent' | 'down' | 'lowerlayerdown' | 'testing' | 'dormant' | 'up';
const OPER_STATES: readonly OperState[] = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];

/** A network device as the kernel reports it (RTM_NEWLINK). */
export interface Link {
  /** ifindex, unique within its netns. */
  readonly index: number;
  readonly name: string;
  /** Link-layer address (`"aa:bb:cc:dd:ee:ff"`); absent for devices without one. */
  readonly mac?: string;
  readonly mtu: number;
  /** Administratively up (IFF_UP). */
  readonly up: boolean;
  /** IFF_* flags. */
  readonly flags: number;
  readonly operState: OperState;
  /** Device kind from IFLA_INFO_KIND (`"veth"`, `"bridge"`, `"vxlan"`…); absent for plain devices such as `lo`. */
  readonly kind?: string;
  /** IFLA_LINK: the ifindex of the device this one is tied to; for a veth, its peer (in the peer's netns). */
  readonly linkIndex?: number;
  /** IFLA_LINK_NETNSID: id (in this netns) of the netns holding `linkIndex`, when that is another netns. */
  readonly linkNetnsId?: number;
  /** ifindex of the master device (bridge, bond), if any. */
  readonly masterIndex?: number;
}

/** Options of `Netlink.addVeth`. Names are at most 15 bytes. */
export interface VethOptions {
  /** This side's name, created in the handle's netns. */
  readonly name: string;
  /** The peer's name. */
  readonly peerName: string;
  /** Create the peer directly inside this netns (fd, name or path) instead of the handle's (IFLA_NET_NS_FD). */
  readonly peerNetns?: NetnsRef;
  /** MTU of both sides; kernel default 1500. */
  readonly mtu?: number;
  /** This side's MAC; default: random, locally administered (chosen by the kernel). */
  readonly mac?: string;
  /** The peer's MAC; default: random. */
  readonly peerMac?: string;
  /**
   * Bring this side up in the same request (like `ip link add … up`). Default false. The peer stays down:
   * the kernel configures it before the pair is linked, and a veth without a peer refuses to open
   * (ENOTCONN); bring it up with `setUp` from a handle in its netns.
   */
  readonly up?: boolean;
}

/** The longest interface name Linux accepts (IFNAMSIZ - 1). */
export const MAX_IFNAME_BYTES = 15;

/**
 * Checks an interface name before it goes to the kernel (which would only say "Invalid argument").
 * @throws NetlinkError EINVAL when it is empty or longer than 15 bytes.
 */
export function validateIfname(name: string, op: string): void {
  const len = Buffer.byteLength(name);
  if (len === 0 || len > MAX_IFNAME_BYTES) {
    throw new NetlinkError(op, Errno.EINVAL, `interface name ${JSON.stringify(name)} must be 1 to ${MAX_IFNAME_BYTES} bytes`);
  }
}

/** A struct ifinfomsg. */
export function ifinfomsg(index = 0, flags = 0, change = 0, family = AF_UNSPEC): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN);
  b.writeUInt8(family, 0);
  writeU16(b, 0, 2);
  writeS32(b, index, 4);
  writeU32(b, flags, 8);
  writeU32(b, change, 12);
  return b;
}

/** How a request names its device: ifindex in the header, or IFLA_IFNAME. */
function selectLink(ref: LinkRef, type: number, flags: number, op: string, ifiFlags = 0, ifiChange = 0): MessageBuilder {
  if (typeof ref === 'number') return new MessageBuilder(type, flags, ifinfomsg(ref, ifiFlags, ifiChange));
  validateIfname(ref, op);
  return new MessageBuilder(type, flags, ifinfomsg(0, ifiFlags, ifiChange)).string(IFLA_IFNAME, ref);
}

/** RTM_GETLINK for one device; the reply is one RTM_NEWLINK message. */
export function getLinkRequest(ref: LinkRef): NetlinkRequest {
  const op = `RTM_GETLINK ${ref}`;
  const message = selectLink(ref, RTM_GETLINK, NLM_F_ACK, op).u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  return { message, op };
}

/** RTM_GETLINK dump of every device of the netns. */
export function dumpLinksRequest(): NetlinkRequest {
  const message = new MessageBuilder(RTM_GETLINK, NLM_F_DUMP, ifinfomsg()).u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  return { message, op: 'RTM_GETLINK dump', dump: true };
}

/**
 * RTM_NEWLINK creating a veth pair, echoed back (NLM_F_ECHO) so the reply describes the new device.
 * `peerNetnsFd` is an open netns fd for IFLA_NET_NS_FD (the kernel resolves it during the request).
 * @throws NetlinkError EINVAL for a bad name; TypeError for a bad MAC.
 */
export function newVethRequest(opts: Omit<VethOptions, 'peerNetns'> & { readonly peerNetnsFd?: number }): NetlinkRequest {
  const op = `RTM_NEWLINK veth ${opts.name}`;
  validateIfname(opts.name, op);
  validateIfname(opts.peerName, op);
  const up = opts.up ? IFF_UP : 0;
  const message = new MessageBuilder(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, ifinfomsg(0, up, up))
    .string(IFLA_IFNAME, opts.name);
  if (opts.mtu !== undefined) message.u32(IFLA_MTU, opts.mtu);
  if (opts.mac !== undefined) message.bytes(IFLA_ADDRESS, parseMac(opts.mac));
  message.nested(IFLA_LINKINFO, (b) => {
    b.string(IFLA_INFO_KIND, 'veth');
    b.nested(IFLA_INFO_DATA, (d) => {
      // The peer is described by a full ifinfomsg + attributes, like a link of its own.
      d.nestedWithHeader(VETH_INFO_PEER, ifinfomsg(), (p) => {
        p.string(IFLA_IFNAME, opts.peerName);
        if (opts.mtu !== undefined) p.u32(IFLA_MTU, opts.mtu);
        if (opts.peerMac !== undefined) p.bytes(IFLA_ADDRESS, parseMac(opts.peerMac));
        if (opts.peerNetnsFd !== undefined) p.s32(IFLA_NET_NS_FD, opts.peerNetnsFd);
      });
    });
  });
  return { message, op };
}

/** What `setLinkRequest` changes; unset fields stay as they are. */
export interface LinkChange {
  readonly up?: boolean;
  readonly mtu?: number;
  readonly mac?: string;
  /** New name; needs `ref` to be an ifindex. */
  readonly name?: string;
  /** Move the device into this netns (an open fd). */
  readonly netnsFd?: number;
}

/**
 * RTM_SETLINK changing an existing device.
 * @throws NetlinkError EINVAL for a bad name, or for a rename of a device given by name.
 */
export function setLinkRequest(ref: LinkRef, change: LinkChange): NetlinkRequest {
  const what = [
    change.up === undefined ? '' : change.up ? 'up' : 'down',
    change.mtu === undefined ? '' : `mtu ${change.mtu}`,
    change.mac === undefined ? '' : `address ${change.mac}`,
    change.name === undefined ? '' : `name ${change.name}`,
    change.netnsFd === undefined ? '' : 'netns',
  ].filter((s) => s !== '').join(' ');
  const op = `RTM_SETLINK ${ref} ${what}`;
  if (change.name !== undefined) {
    if (typeof ref !== 'number') throw new NetlinkError(op, Errno.EINVAL, 'renaming needs the device by ifindex');
    validateIfname(change.name, op);
  }
  const upFlag = change.up === undefined ? 0 : IFF_UP;
  const message = selectLink(ref, RTM_SETLINK, NLM_F_ACK, op, change.up ? IFF_UP : 0, upFlag);
  if (change.mtu !== undefined) message.u32(IFLA_MTU, change.mtu);
  if (change.mac !== undefined) message.bytes(IFLA_ADDRESS, parseMac(change.mac));
  if (change.name !== undefined) message.string(IFLA_IFNAME, change.name);
  if (change.netnsFd !== undefined) message.s32(IFLA_NET_NS_FD, change.netnsFd);
  return { message, op };
}

/** RTM_DELLINK for one device (for a veth, the peer goes too). */
export function deleteLinkRequest(ref: LinkRef): NetlinkRequest {
  const op = `RTM_DELLINK ${ref}`;
  return { message: selectLink(ref, RTM_DELLINK, NLM_F_ACK, op), op };
}

/**
 * Decodes an RTM_NEWLINK message.
 * @throws Error when the message is too short to be one.
 */
export function decodeLink(msg: NetlinkMessage): Link {
  if (msg.type !== RTM_NEWLINK || msg.payload.length < IFINFOMSG_LEN) throw new Error(`netlink: not a link message (type ${msg.type})`);
  const p = msg.payload;
  const flags = readU32(p, 8);
  const attrs = parseAttributes(p, IFINFOMSG_LEN);
  const u32 = (type: number): number | undefined => {
    const v = attrs.get(type);
    return v && v.length >= 4 ? readU32(v, 0) : undefined;
  };
  const mac = attrs.get(IFLA_ADDRESS);
  const linkInfo = attrs.get(IFLA_LINKINFO);
  const kindAttr = linkInfo ? parseAttributes(linkInfo).get(IFLA_INFO_KIND) : undefined;
  const linkIndex = u32(IFLA_LINK);
  const netnsId = attrs.get(IFLA_LINK_NETNSID);
  const masterIndex = u32(IFLA_MASTER);
  const index = readS32(p, 4);
  return {
    index,
    name: attrString(attrs.get(IFLA_IFNAME) ?? Buffer.alloc(0)),
    ...(mac && mac.length > 0 ? { mac: formatMac(mac) } : {}),
    mtu: u32(IFLA_MTU) ?? 0,
    up: (flags & IFF_UP) !== 0,
    flags,
    operState: OPER_STATES[attrs.get(IFLA_OPERSTATE)?.readUInt8(0) ?? 0] ?? 'unknown',
    ...(kindAttr ? { kind: attrString(kindAttr) } : {}),
    // The kernel leaves IFLA_LINK out for devices tied to nothing. It can equal `index` when the
    // peer sits in another netns (ifindexes are per netns), so keep it whenever it is sent.
    ...(linkIndex ? { linkIndex } : {}),
    ...(netnsId && netnsId.length >= 4 ? { linkNetnsId: readS32(netnsId, 0) } : {}),
    ...(masterIndex ? { masterIndex } : {}),
  };
}
