// IP addresses on devices: their description and the RTM_*ADDR requests that add, replace, list and delete them.
import {
  AF_INET, AF_INET6, IFA_ADDRESS, IFA_FLAGS, IFA_LABEL, IFA_LOCAL, IFADDRMSG_LEN,
  NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, RT_SCOPE_UNIVERSE, RTM_DELADDR, RTM_GETADDR, RTM_NEWADDR,
} from './constants.js';
import { formatIp, parsePrefix, type Family } from './ip.js';
import { attrString, MessageBuilder, parseAttributes, readU32, writeU32, type NetlinkMessage } from './message.js';
import type { NetlinkRequest } from './request.js';
import { scopeName, scopeNumber, type Scope } from './scope.js';

/** `"inet"` (IPv4) or `"inet6"`, as iproute2's JSON names families. */
export type FamilyName = 'inet' | 'inet6';

/** The family name of a wire family. */
export function familyName(family: number): FamilyName {
  return family === AF_INET6 ? 'inet6' : 'inet';
}
/** The wire family of a family name. */
export function familyNumber(name: FamilyName): Family {
  return name === 'inet6' ? AF_INET6 : AF_INET;
}

/** An address on a device, as the kernel reports it (RTM_NEWADDR). */
export interface Address {
  readonly family: FamilyName;
  /** The local address (`"10.244.250.10"`). */
  readonly address: string;
  readonly prefixLen: number;
  /** ifindex of the device. */
  readonly ifindex: number;
  readonly scope: Scope | number;
  /** IPv4 label (usually the device name). */
  readonly label?: string;
  /** IFA_F_* flags. */
  readonly flags: number;
}

/** An address to put on a device with `addAddress`/`replaceAddress`, or remove with `deleteAddress`. */
export interface AddressSpec {
  /** `"10.244.250.10/32"`; without a length it is a host address (/32, /128). */
  readonly address: string;
  /** ifindex of the device. */
  readonly ifindex: number;
  /** Default `global`. */
  readonly scope?: Scope;
}

function ifaddrmsg(family: number, prefixLen: number, scope: number, ifindex: number): Buffer {
  const b = Buffer.alloc(IFADDRMSG_LEN);
  b.writeUInt8(family, 0);
  b.writeUInt8(prefixLen, 1);
  b.writeUInt8(0, 2);
  b.writeUInt8(scope, 3);
  writeU32(b, ifindex, 4);
  return b;
}

/**
 * RTM_NEWADDR (`add` fails with EEXIST if present, `replace` creates or updates) or RTM_DELADDR.
 * @throws TypeError for a bad address.
 */
export function addressRequest(action: 'add' | 'replace' | 'delete', spec: AddressSpec): NetlinkRequest {
  const prefix = parsePrefix(spec.address);
  const address = `${formatIp(prefix.bytes)}/${prefix.prefixLen}`;
  const scope = spec.scope === undefined ? RT_SCOPE_UNIVERSE : scopeNumber(spec.scope);
  const type = action === 'delete' ? RTM_DELADDR : RTM_NEWADDR;
  const flags = NLM_F_ACK | (action === 'add' ? NLM_F_CREATE | NLM_F_EXCL : action === 'replace' ? NLM_F_CREATE | NLM_F_REPLACE : 0);
  // IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on point-to-point links, else the same address.
  const message = new MessageBuilder(type, flags, ifaddrmsg(prefix.family, prefix.prefixLen, scope, spec.ifindex))
    .bytes(IFA_LOCAL, prefix.bytes)
    .bytes(IFA_ADDRESS, prefix.bytes);
  return { message, op: `${type === RTM_NEWADDR ? 'RTM_NEWADDR' : 'RTM_DELADDR'} ${address} dev ${spec.ifindex}` };
}

/** RTM_GETADDR dump of one family, optionally only the addresses of one device (filtered by the kernel). */
export function dumpAddressesRequest(family: Family, ifindex = 0): NetlinkRequest {
  return {
    message: new MessageBuilder(RTM_GETADDR, NLM_F_DUMP, ifaddrmsg(family, 0, 0, ifindex)),
    op: `RTM_GETADDR dump${ifindex ? ` dev ${ifindex}` : ''}`,
    dump: true,
  };
}

/**
 * Decodes an RTM_NEWADDR message.
 * @throws Error when the message is not one.
 */
export function decodeAddress(msg: NetlinkMessage): Address {
  if (msg.type !== RTM_NEWADDR || msg.payload.length < IFADDRMSG_LEN) throw new Error(`netlink: not an address message (type ${msg.type})`);
  const p = msg.payload;
  const attrs = parseAttributes(p, IFADDRMSG_LEN);
  const local = attrs.get(IFA_LOCAL) ?? attrs.get(IFA_ADDRESS) ?? Buffer.alloc(0);
  const label = attrs.get(IFA_LABEL);
  const flags = attrs.get(IFA_FLAGS);
  return {
    family: familyName(p.readUInt8(0)),
    address: formatIp(local),
    prefixLen: p.readUInt8(1),
    ifindex: readU32(p, 4),
    scope: scopeName(p.readUInt8(3)),
    ...(label ? { label: attrString(label) } : {}),
    flags: flags && flags.length >= 4 ? readU32(flags, 0) : p.readUInt8(2),
  };
}
