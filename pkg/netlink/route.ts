// Routes: their description and the RTM_*ROUTE requests that add, replace, list and delete them.
import {
  NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, RT_SCOPE_LINK, RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN, RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_PREFSRC, RTA_PRIORITY, RTA_TABLE, RTM_DELROUTE, RTM_F_CLONED,
  RTM_GETROUTE, RTM_NEWROUTE, RTMSG_LEN, RTN_UNICAST, RTN_UNSPEC, RTNH_F_ONLINK,
} from './constants.js';
import { familyName, type FamilyName } from './address.js';
import { formatIp, parseIp, parsePrefix, type Family } from './ip.js';
import { MessageBuilder, parseAttributes, readU32, writeU32, type NetlinkMessage } from './message.js';
import type { NetlinkRequest } from './request.js';
import { scopeName, scopeNumber, type Scope } from './scope.js';

/** Routing protocol ids (who installed a route), from <linux/rtnetlink.h>. */
export const RouteProtocol = { unspec: 0, redirect: 1, kernel: 2, boot: 3, static: 4 } as const;
/** Routing table ids. */
export const RouteTable = { unspec: 0, default: 253, main: RT_TABLE_MAIN, local: 255 } as const;

/** A route as the kernel reports it (RTM_NEWROUTE). */
export interface Route {
  readonly family: FamilyName;
  /** Destination prefix in CIDR form, always with a length: `"10.244.0.0/16"`, `"10.244.250.1/32"`, `"0.0.0.0/0"`. */
  readonly dst: string;
  readonly gateway?: string;
  /** ifindex of the output device. */
  readonly ifindex?: number;
  readonly scope: Scope | number;
  /** RTNH_F_ONLINK: the gateway is taken to be on the link even without a route to it. */
  readonly onlink: boolean;
  /** Preferred source address (RTA_PREFSRC). */
  readonly src?: string;
  readonly table: number;
  readonly protocol: number;
  /** Priority (RTA_PRIORITY, `metric` in iproute2). */
  readonly metric?: number;
  /** RTN_* type: 1 unicast, 2 local, 3 broadcast, 6 blackhole, 7 unreachable… */
  readonly type: number;
}

/** A route to add, replace or delete. The family comes from `dst`. */
export interface RouteSpec {
  /** `"10.244.0.0/16"`, a bare address (a host route), or `"default"` (0.0.0.0/0; `"::/0"` for IPv6). */
  readonly dst: string;
  readonly gateway?: string;
  /** ifindex of the output device. */
  readonly ifindex?: number;
  /** Default, as iproute2: `link` when there is no gateway, else `global`. Ignored by delete unless set. */
  readonly scope?: Scope;
  /** Gateway is on the link even without a route to it. */
  readonly onlink?: boolean;
  /** Preferred source address. */
  readonly src?: string;
  /** Default main (254). */
  readonly table?: number;
  /** Default `boot` (3), as iproute2. Ignored by delete unless set. */
  readonly protocol?: number;
  readonly metric?: number;
}

function rtmsg(family: number, dstLen: number, table: number, protocol: number, scope: number, type: number, flags: number): Buffer {
  const b = Buffer.alloc(RTMSG_LEN);
  b.writeUInt8(family, 0);
  b.writeUInt8(dstLen, 1);
  b.writeUInt8(0, 2); // src_len
  b.writeUInt8(0, 3); // tos
  b.writeUInt8(table < 256 ? table : 0, 4); // larger ids go in RTA_TABLE only
  b.writeUInt8(protocol, 5);
  b.writeUInt8(scope, 6);
  b.writeUInt8(type, 7);
  writeU32(b, flags, 8);
  return b;
}

/** How a route is written in error messages, like `ip route`. */
function describe(spec: RouteSpec, dst: string): string {
  return [dst, spec.gateway && `via ${spec.gateway}`, spec.ifindex && `dev ${spec.ifindex}`, spec.scope && `scope ${spec.scope}`,
    spec.onlink && 'onlink', spec.table && spec.table !== RT_TABLE_MAIN && `table ${spec.table}`,
    spec.metric !== undefined && `metric ${spec.metric}`].filter(Boolean).join(' ');
}

/**
 * RTM_NEWROUTE (`add` fails with EEXIST if a route with the same key exists, `replace` creates or
 * replaces it) or RTM_DELROUTE (matches on what `spec` sets; a missing route is ESRCH).
 * @throws TypeError for a bad prefix, or a gateway or source of another family.
 */
export function routeRequest(action: 'add' | 'replace' | 'delete', spec: RouteSpec): NetlinkRequest {
  const dst = parsePrefix(spec.dst);
  const gateway = spec.gateway === undefined ? undefined : parseIp(spec.gateway);
  const src = spec.src === undefined ? undefined : parseIp(spec.src);
  for (const other of [gateway, src]) {
    if (other && other.family !== dst.family) throw new TypeError(`route ${spec.dst}: mixed address families`);
  }
  const table = spec.table ?? RT_TABLE_MAIN;
  const del = action === 'delete';
  // Delete matches as loosely as iproute2: scope NOWHERE, protocol and type 0 are wildcards.
  const scope = spec.scope !== undefined ? scopeNumber(spec.scope) : del ? RT_SCOPE_NOWHERE : gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  const protocol = spec.protocol ?? (del ? RouteProtocol.unspec : RouteProtocol.boot);
  const type = del ? RTN_UNSPEC : RTN_UNICAST;
  const flags = NLM_F_ACK | (action === 'add' ? NLM_F_CREATE | NLM_F_EXCL : action === 'replace' ? NLM_F_CREATE | NLM_F_REPLACE : 0);
  const message = new MessageBuilder(del ? RTM_DELROUTE : RTM_NEWROUTE, flags,
    rtmsg(dst.family, dst.prefixLen, table, protocol, scope, type, spec.onlink ? RTNH_F_ONLINK : 0));
  message.u32(RTA_TABLE, table);
  if (dst.prefixLen > 0) message.bytes(RTA_DST, dst.bytes);
  if (gateway) message.bytes(RTA_GATEWAY, gateway.bytes);
  if (spec.ifindex !== undefined) message.u32(RTA_OIF, spec.ifindex);
  if (src) message.bytes(RTA_PREFSRC, src.bytes);
  if (spec.metric !== undefined) message.u32(RTA_PRIORITY, spec.metric);
  const cidr = `${formatIp(dst.bytes)}/${dst.prefixLen}`;
  return { message, op: `${del ? 'RTM_DELROUTE' : 'RTM_NEWROUTE'} ${describe(spec, cidr)}` };
}

/**
 * RTM_GETROUTE dump of one family. The kernel filters by `table` (0 = every table) and output device.
 */
export function dumpRoutesRequest(family: Family, table: number, ifindex?: number): NetlinkRequest {
  const message = new MessageBuilder(RTM_GETROUTE, NLM_F_DUMP, rtmsg(family, 0, table, 0, 0, 0, 0));
  if (table !== 0) message.u32(RTA_TABLE, table);
  if (ifindex !== undefined) message.u32(RTA_OIF, ifindex);
  return { message, op: `RTM_GETROUTE dump table ${table}`, dump: true };
}

/** Whether an RTM_NEWROUTE message is a cached (cloned) route rather than a FIB entry. */
export function isClonedRoute(msg: NetlinkMessage): boolean {
  return msg.payload.length >= RTMSG_LEN && (readU32(msg.payload, 8) & RTM_F_CLONED) !== 0;
}

/**
 * Decodes an RTM_NEWROUTE message.
 * @throws Error when the message is not one.
 */
export function decodeRoute(msg: NetlinkMessage): Route {
  if (msg.type !== RTM_NEWROUTE || msg.payload.length < RTMSG_LEN) throw new Error(`netlink: not a route message (type ${msg.type})`);
  const p = msg.payload;
  const family = p.readUInt8(0);
  const dstLen = p.readUInt8(1);
  const attrs = parseAttributes(p, RTMSG_LEN);
  const dst = attrs.get(RTA_DST) ?? Buffer.alloc(familyName(family) === 'inet6' ? 16 : 4);
  const u32 = (type: number): number | undefined => {
    const v = attrs.get(type);
    return v && v.length >= 4 ? readU32(v, 0) : undefined;
  };
  const gateway = attrs.get(RTA_GATEWAY);
  const src = attrs.get(RTA_PREFSRC);
  const ifindex = u32(RTA_OIF);
  const metric = u32(RTA_PRIORITY);
  return {
    family: familyName(family),
    dst: `${formatIp(dst)}/${dstLen}`,
    ...(gateway ? { gateway: formatIp(gateway) } : {}),
    ...(ifindex !== undefined ? { ifindex } : {}),
    scope: scopeName(p.readUInt8(6)),
    onlink: (readU32(p, 8) & RTNH_F_ONLINK) !== 0,
    ...(src ? { src: formatIp(src) } : {}),
    table: u32(RTA_TABLE) ?? p.readUInt8(4),
    protocol: p.readUInt8(5),
    ...(metric !== undefined ? { metric } : {}),
    type: p.readUInt8(7),
  };
}
