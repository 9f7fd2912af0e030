// Encoding and decoding of netlink messages and their attributes (TLVs), in host byte order.
import os from 'node:os';
import { NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK, NLM_F_REQUEST, NLMSG_HDRLEN } from './constants.js';

const LE = os.endianness() === 'LE';

/** Rounds up to netlink's 4-byte alignment (NLMSG_ALIGN / NLA_ALIGN). */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Reads a host-order u16 at `off`. */
export function readU16(buf: Buffer, off: number): number {
  return LE ? buf.readUInt16LE(off) : buf.readUInt16BE(off);
}
/** Reads a host-order u32 at `off`. */
export function readU32(buf: Buffer, off: number): number {
  return LE ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
}
/** Reads a host-order s32 at `off`. */
export function readS32(buf: Buffer, off: number): number {
  return LE ? buf.readInt32LE(off) : buf.readInt32BE(off);
}
/** Writes a host-order u16 at `off`. */
export function writeU16(buf: Buffer, value: number, off: number): void {
  if (LE) buf.writeUInt16LE(value, off); else buf.writeUInt16BE(value, off);
}
/** Writes a host-order u32 at `off`. */
export function writeU32(buf: Buffer, value: number, off: number): void {
  if (LE) buf.writeUInt32LE(value, off); else buf.writeUInt32BE(value, off);
}
/** Writes a host-order s32 at `off`. */
export function writeS32(buf: Buffer, value: number, off: number): void {
  if (LE) buf.writeInt32LE(value, off); else buf.writeInt32BE(value, off);
}

/**
 * Builds one netlink request: the nlmsghdr, a fixed family header (ifinfomsg, rtmsg, …) and attributes.
 * The sequence number is filled in by `finish`, when the message is sent.
 */
export class MessageBuilder {
  private buf: Buffer;
  private len: number;

  /**
   * @param type message type, e.g. RTM_NEWLINK.
   * @param flags NLM_F_* flags; NLM_F_REQUEST is added.
   * @param header the fixed family header, copied in.
   */
  constructor(readonly type: number, readonly flags: number, header: Buffer) {
    this.buf = Buffer.alloc(256);
    this.len = NLMSG_HDRLEN;
    this.append(header);
  }

  private reserve(n: number): number {
    const start = this.len;
    const need = start + align4(n);
    if (need > this.buf.length) {
      const bigger = Buffer.alloc(Math.max(need, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, this.len);
      this.buf = bigger;
    }
    this.len = need;
    return start;
  }

  private append(data: Buffer): void {
    const off = this.reserve(data.length); // before reading this.buf: it may grow
    data.copy(this.buf, off);
  }

  private attrHeader(type: number, payloadLen: number): number {
    const off = this.reserve(NLA_HDRLEN + payloadLen);
    writeU16(this.buf, NLA_HDRLEN + payloadLen, off);
    writeU16(this.buf, type, off + 2);
    return off + NLA_HDRLEN;
  }

  /** Adds an attribute holding raw bytes (addresses, MACs). */
  bytes(type: number, value: Uint8Array): this {
    const off = this.attrHeader(type, value.length);
    this.buf.set(value, off);
    return this;
  }

  /** Adds an attribute holding a u8. */
  u8(type: number, value: number): this {
    const off = this.attrHeader(type, 1); // before reading this.buf: it may grow
    this.buf.writeUInt8(value, off);
    return this;
  }

  /** Adds an attribute holding a host-order u32. */
  u32(type: number, value: number): this {
    const off = this.attrHeader(type, 4);
    writeU32(this.buf, value, off);
    return this;
  }

  /** Adds an attribute holding a host-order s32 (e.g. a file descriptor). */
  s32(type: number, value: number): this {
    const off = this.attrHeader(type, 4);
    writeS32(this.buf, value, off);
    return this;
  }

  /** Adds a NUL-terminated string attribute. */
  string(type: number, value: string): this {
    const bytes = Buffer.from(`${value}\0`, 'utf8');
    return this.bytes(type, bytes);
  }

  /** Adds a nested attribute (NLA_F_NESTED) whose content `fill` writes through this builder. */
  nested(type: number, fill: (b: this) => void): this {
    const off = this.reserve(NLA_HDRLEN);
    writeU16(this.buf, type | NLA_F_NESTED, off + 2);
    fill(this);
    writeU16(this.buf, this.len - off, off);
    return this;
  }

  /** Adds a nested attribute that starts with a fixed header (as VETH_INFO_PEER starts with an ifinfomsg). */
  nestedWithHeader(type: number, header: Buffer, fill: (b: this) => void): this {
    return this.nested(type, (b) => {
      b.append(header);
      fill(b);
    });
  }

  /** The finished message with sequence number `seq`. The returned Buffer is a view; don't keep building. */
  finish(seq: number): Buffer {
    writeU32(this.buf, this.len, 0);
    writeU16(this.buf, this.type, 4);
    writeU16(this.buf, this.flags | NLM_F_REQUEST, 6);
    writeU32(this.buf, seq, 8);
    writeU32(this.buf, 0, 12);
    return this.buf.subarray(0, this.len);
  }
}

/** One received netlink message; `payload` (a private copy) is what follows the 16-byte nlmsghdr. */
export interface NetlinkMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly payload: Buffer;
}

/**
 * Splits a datagram from a netlink socket into messages, copying each payload (the receive buffer is reused).
 * @throws Error when a length field is inconsistent (a truncated or corrupt datagram).
 */
export function splitMessages(data: Buffer): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= data.length) {
    const len = readU32(data, off);
    if (len < NLMSG_HDRLEN || off + len > data.length) throw new Error(`netlink: malformed message length ${len} at offset ${off}`);
    out.push({
      type: readU16(data, off + 4),
      flags: readU16(data, off + 6),
      seq: readU32(data, off + 8),
      payload: Buffer.from(data.subarray(off + NLMSG_HDRLEN, off + len)),
    });
    off += align4(len);
  }
  return out;
}

/** Attributes by type (nested and byte-order flags masked off); values are views into the parsed buffer. */
export type Attributes = Map<number, Buffer>;

/** Parses the attributes in `buf` from `offset` to the end. A repeated type keeps its last value. */
export function parseAttributes(buf: Buffer, offset = 0): Attributes {
  const attrs: Attributes = new Map();
  let off = offset;
  while (off + NLA_HDRLEN <= buf.length) {
    const len = readU16(buf, off);
    if (len < NLA_HDRLEN || off + len > buf.length) break;
    attrs.set(readU16(buf, off + 2) & NLA_TYPE_MASK, buf.subarray(off + NLA_HDRLEN, off + len));
    off += align4(len);
  }
  return attrs;
}

/** A string attribute's value without its NUL terminator. */
export function attrString(value: Buffer): string {
  const nul = value.indexOf(0);
  return value.toString('utf8', 0, nul < 0 ? value.length : nul);
}
