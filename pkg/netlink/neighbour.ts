// Neighbour (ARP / NDP) entries: their description and the RTM_*NEIGH requests that add, replace, list and delete them.
import {
  NDA_DST, NDA_IFINDEX, NDA_LLADDR, NDMSG_LEN, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NUD_PERMANENT,
  RTM_DELNEIGH, RTM_GETNEIGH, RTM_NEWNEIGH,
} from './constants.js';
import { familyName, type FamilyName } from './address.js';
import { formatIp, formatMac, parseIp, parseMac, type Family } from './ip.js';
import { MessageBuilder, parseAttributes, readS32, readU16, writeS32, writeU16, type NetlinkMessage } from './message.js';
import type { NetlinkRequest } from './request.js';

/** NUD_* state of a neighbour entry, lower-case as in `ip neigh` (which prints it upper-case). */
export type NeighbourState = 'incomplete' | 'reachable' | 'stale' | 'delay' | 'probe' | 'failed' | 'noarp' | 'permanent' | 'none';
const NUD_NAMES: ReadonlyArray<[number, NeighbourState]> = [
  [0x01, 'incomplete'], [0x02, 'reachable'], [0x04, 'stale'], [0x08, 'delay'], [0x10, 'probe'], [0x20, 'failed'],
  [0x40, 'noarp'], [NUD_PERMANENT, 'permanent'],
];

/** A neighbour entry as the kernel reports it (RTM_NEWNEIGH). */
export interface Neighbour {
  readonly family: FamilyName;
  readonly ip: string;
  /** Absent while unresolved. */
  readonly mac?: string;
  readonly ifindex: number;
  readonly state: NeighbourState;
}

/** A permanent neighbour entry to add, replace or delete: `ip` is reached at `mac` on device `ifindex`. */
export interface NeighbourSpec {
  readonly ip: string;
  /** Needed to add or replace; ignored by delete. */
  readonly mac?: string;
  readonly ifindex: number;
}

function ndmsg(family: number, ifindex: number, state: number): Buffer {
  const b = Buffer.alloc(NDMSG_LEN);
  b.writeUInt8(family, 0);
  writeS32(b, ifindex, 4);
  writeU16(b, state, 8);
  return b;
}

/**
 * RTM_NEWNEIGH of a permanent entry (`add`: EEXIST if present; `replace`: create or overwrite) or RTM_DELNEIGH
 * (ENOENT if missing).
 * @throws TypeError for a bad IP or MAC, or a missing MAC on add/replace.
 */
export function neighbourRequest(action: 'add' | 'replace' | 'delete', spec: NeighbourSpec): NetlinkRequest {
  const ip = parseIp(spec.ip);
  const del = action === 'delete';
  if (!del && spec.mac === undefined) throw new TypeError(`neighbour ${spec.ip}: a MAC address is needed`);
  const flags = NLM_F_ACK | (action === 'add' ? NLM_F_CREATE | NLM_F_EXCL : action === 'replace' ? NLM_F_CREATE | NLM_F_REPLACE : 0);
  const message = new MessageBuilder(del ? RTM_DELNEIGH : RTM_NEWNEIGH, flags, ndmsg(ip.family, spec.ifindex, del ? 0 : NUD_PERMANENT))
    .bytes(NDA_DST, ip.bytes);
  if (!del) message.bytes(NDA_LLADDR, parseMac(spec.mac ?? ''));
  const op = `${del ? 'RTM_DELNEIGH' : 'RTM_NEWNEIGH'} ${spec.ip}${del ? '' : ` lladdr ${spec.mac}`} dev ${spec.ifindex}`;
  return { message, op };
}

/** RTM_GETNEIGH dump of one family, optionally for one device (filtered by the kernel). */
export function dumpNeighboursRequest(family: Family, ifindex = 0): NetlinkRequest {
  // A strictly checked dump wants the device in NDA_IFINDEX; a non-zero ndm_ifindex is EINVAL.
  const message = new MessageBuilder(RTM_GETNEIGH, NLM_F_DUMP, ndmsg(family, 0, 0));
  if (ifindex) message.u32(NDA_IFINDEX, ifindex);
  return { message, op: `RTM_GETNEIGH dump${ifindex ? ` dev ${ifindex}` : ''}`, dump: true };
}

/**
 * Decodes an RTM_NEWNEIGH message.
 * @throws Error when the message is not one.
 */
export function decodeNeighbour(msg: NetlinkMessage): Neighbour {
  if (msg.type !== RTM_NEWNEIGH || msg.payload.length < NDMSG_LEN) throw new Error(`netlink: not a neighbour message (type ${msg.type})`);
  const p = msg.payload;
  const attrs = parseAttributes(p, NDMSG_LEN);
  const lladdr = attrs.get(NDA_LLADDR);
  const state = readU16(p, 8);
  return {
    family: familyName(p.readUInt8(0)),
    ip: formatIp(attrs.get(NDA_DST) ?? Buffer.alloc(4)),
    ...(lladdr && lladdr.length > 0 ? { mac: formatMac(lladdr) } : {}),
    ifindex: readS32(p, 4),
    state: NUD_NAMES.find(([bit]) => (state & bit) !== 0)?.[1] ?? 'none',
  };
}
