// Owns the binary codecs for C structs shared between TypeScript and BPF programs: map keys and
// values, ring buffer records, .rodata constants. One codec per C struct; `checkAlignment` (align.ts)
// compares each codec with the BTF of the compiled object, so a layout drift fails a test, not a packet.
//
// Layout follows the C rules clang uses for BPF (x86-64 host, little endian): every member sits at
// the next multiple of its alignment, a struct is aligned to its strictest member and its size is
// rounded up to that alignment (tail padding). Padding is always zero on encode, which hash-map keys need.
import net from 'node:net';
import { formatIp, parseIp } from '../netlink/ip.js';
import os from 'node:os';

if (os.endianness() !== 'LE') throw new Error('pkg/bpf codecs assume a little-endian host');

/** How one C type is laid out and converted. Field types are the building blocks of `struct`. */
export interface FieldType<T> {
  /** C spelling for messages, e.g. "__u32", "__u8[6]", "struct endpoint_info". */
  readonly cType: string;
  /** Size in bytes (sizeof). */
  readonly size: number;
  /** Alignment in bytes (_Alignof). */
  readonly align: number;
  /** Writes `value` at `offset`. Throws TypeError/RangeError when the value does not fit the type. */
  write(buf: Buffer, offset: number, value: T): void;
  /** Reads the value at `offset`. Buffers returned are copies, never views of `buf`. */
  read(buf: Buffer, offset: number): T;
}

/** Explicit padding: zero on encode, absent from decoded objects and from `Codec.fields`. */
export interface PadType extends FieldType<undefined> {
  readonly isPad: true;
}

/** A named member of a struct codec as laid out in memory. */
export interface Field {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  /** The member's type; a nested struct codec lets the alignment check descend into it. */
  readonly type: FieldType<unknown>;
}

/** Encodes values of a C type to bytes and back. Struct codecs are also field types, so they nest. */
export interface Codec<T> extends FieldType<T> {
  /** The C name the alignment check looks up in BTF: "endpoint_info", "struct endpoint_info", a typedef or "__u32". */
  readonly cName: string;
  readonly size: number;
  /** Named members (padding excluded), in memory order. Empty for scalar codecs. */
  readonly fields: readonly Field[];
  /**
   * Encodes `v` into `buf` at `offset` (default: a new zeroed Buffer of `size` bytes) and returns the buffer.
   * All `size` bytes are written, padding as zeros. Throws TypeError/RangeError naming the field at fault.
   */
  encode(v: T, buf?: Buffer, offset?: number): Buffer;
  /** Decodes `size` bytes at `offset`. Throws RangeError if `buf` is too short. */
  decode(buf: Buffer, offset?: number): T;
}

/** The value type of a codec or field type: `CodecValue<typeof endpointInfo>`. */
export type CodecValue<C> = C extends FieldType<infer T> ? T : never;

type Fields = Record<string, FieldType<unknown>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
/** The decoded object of a struct with field spec `F`: one property per non-padding field, in declaration order. */
export type StructValue<F extends Fields> = Simplify<{
  -readonly [K in keyof F as F[K] extends PadType ? never : K]: F[K] extends FieldType<infer T> ? T : never;
}>;

// ---------------------------------------------------------------------------------------------
// Scalars

function intType(cType: string, size: 1 | 2 | 4, signed: boolean, bigEndian: boolean): FieldType<number> {
  const min = signed ? -(2 ** (size * 8 - 1)) : 0;
  const max = signed ? 2 ** (size * 8 - 1) - 1 : 2 ** (size * 8) - 1;
  const check = (v: number): void => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new RangeError(`${String(v)} is not an integer in [${min}, ${max}] (${cType})`);
    }
  };
  const be = bigEndian;
  switch (size) {
    case 1:
      return {
        cType, size, align: 1,
        write: (b, o, v) => { check(v); b[o] = v & 0xff; },
        read: signed ? (b, o) => b.readInt8(o) : (b, o) => b.readUInt8(o),
      };
    // Byte stores after the range check instead of Buffer's write*: those check the range again and
    // are slow until optimized, and a bulk map write encodes hundreds of thousands of fields.
    case 2:
      return {
        cType, size, align: 2,
        write: be ? (b, o, v) => { check(v); b[o] = (v >>> 8) & 0xff; b[o + 1] = v & 0xff; }
          : (b, o, v) => { check(v); b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; },
        read: signed ? (b, o) => b.readInt16LE(o) : be ? (b, o) => b.readUInt16BE(o) : (b, o) => b.readUInt16LE(o),
      };
    case 4:
      return {
        cType, size, align: 4,
        write: be ? (b, o, v) => { check(v); b[o] = (v >>> 24) & 0xff; b[o + 1] = (v >>> 16) & 0xff; b[o + 2] = (v >>> 8) & 0xff; b[o + 3] = v & 0xff; }
          : (b, o, v) => { check(v); b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; b[o + 2] = (v >>> 16) & 0xff; b[o + 3] = (v >>> 24) & 0xff; },
        read: signed ? (b, o) => b.readInt32LE(o) : be ? (b, o) => b.readUInt32BE(o) : (b, o) => b.readUInt32LE(o),
      };
  }
}

function int64Type(cType: string, signed: boolean): FieldType<bigint> {
  return {
    cType, size: 8, align: 8,
    write: (b, o, v) => {
      if (typeof v !== 'bigint') throw new TypeError(`${String(v)} is not a bigint (${cType})`);
      if (signed) b.writeBigInt64LE(v, o); else b.writeBigUInt64LE(v, o);
    },
    read: signed ? (b, o) => b.readBigInt64LE(o) : (b, o) => b.readBigUInt64LE(o),
  };
}

/** `__u8`: number 0..255. */
export const u8: FieldType<number> = intType('__u8', 1, false, false);
/** `__u16` in host order. */
export const u16: FieldType<number> = intType('__u16', 2, false, false);
/** `__u32` in host order. */
export const u32: FieldType<number> = intType('__u32', 4, false, false);
/** `__u64` in host order, as a bigint. */
export const u64: FieldType<bigint> = int64Type('__u64', false);
/** `__s8`. */
export const i8: FieldType<number> = intType('__s8', 1, true, false);
/** `__s16`. */
export const i16: FieldType<number> = intType('__s16', 2, true, false);
/** `__s32`. */
export const i32: FieldType<number> = intType('__s32', 4, true, false);
/** `__s64`, as a bigint. */
export const i64: FieldType<bigint> = int64Type('__s64', true);
/** `__be16`: a number in host order (e.g. a port, 8080), stored in network order. */
export const be16: FieldType<number> = intType('__be16', 2, false, true);
/** `__be32`: a number in host order, stored in network order. */
export const be32: FieldType<number> = intType('__be32', 4, false, true);

/**
 * Writes dotted-quad `v` as 4 bytes at `o`; false (bytes undefined) when it is not exactly four
 * decimal octets 0..255 without leading zeros, the form net.isIPv4 accepts. A scanner rather than
 * split + Number: a 10,000-service apply encodes ~80,000 addresses.
 */
function writeIPv4(b: Buffer, o: number, v: unknown): boolean {
  if (typeof v !== 'string' || v.length < 7 || v.length > 15) return false;
  let part = 0;
  let octet = 0;
  let digits = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || part === 3) return false;
      b[o + part++] = octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return false; // a leading zero
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return false;
    } else {
      return false;
    }
  }
  if (part !== 3 || digits === 0) return false;
  b[o + 3] = octet;
  return true;
}

/** An IPv4 address as a dotted string ("10.244.1.5"), stored in network order like `__be32` (align 4). */
export const ipv4: FieldType<string> = {
  cType: '__be32', size: 4, align: 4,
  write: (b, o, v) => {
    if (!writeIPv4(b, o, v)) throw new TypeError(`${JSON.stringify(v)} is not an IPv4 address`);
  },
  read: (b, o) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`,
};

/**
 * An IPv6 address as a string ("fd00::1", decoded in RFC 5952 form), stored as 16 bytes in network order.
 * Alignment 4, like `struct in6_addr` and Cilium's `union v6addr`; use bytes(16) for a bare `__u8[16]`.
 */
export const ipv6: FieldType<string> = {
  cType: 'struct in6_addr', size: 16, align: 4,
  write: (b, o, v) => {
    if (typeof v !== 'string' || !net.isIPv6(v)) throw new TypeError(`${JSON.stringify(v)} is not an IPv6 address`);
    parseIp(v).bytes.copy(b, o);
  },
  read: (b, o) => formatIp(b.subarray(o, o + 16)),
};

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
/** A MAC address "aa:bb:cc:dd:ee:ff" (decoded lower case) as `__u8[6]` (align 1). */
export const mac: FieldType<string> = {
  cType: '__u8[6]', size: 6, align: 1,
  write: (b, o, v) => {
    if (typeof v !== 'string' || !MAC_RE.test(v)) throw new TypeError(`${JSON.stringify(v)} is not a MAC address`);
    for (let i = 0; i < 6; i++) b[o + i] = parseInt(v.slice(i * 3, i * 3 + 2), 16);
  },
  read: (b, o) => {
    const out: string[] = [];
    for (let i = 0; i < 6; i++) out.push(b[o + i].toString(16).padStart(2, '0'));
    return out.join(':');
  },
};

/** `__u8[n]` as a Buffer of exactly `n` bytes (decode returns a copy). */
export function bytes(n: number): FieldType<Buffer> {
  assertCount('bytes', n);
  return {
    cType: `__u8[${n}]`, size: n, align: 1,
    write: (b, o, v) => {
      if (!(v instanceof Uint8Array) || v.length !== n) {
        throw new TypeError(`expected ${n} bytes, got ${v instanceof Uint8Array ? `${v.length} bytes` : typeof v}`);
      }
      b.set(v, o);
    },
    read: (b, o) => Buffer.from(b.subarray(o, o + n)),
  };
}

/** `T[n]`: a JS array of exactly `n` elements of `type`, laid out back to back. */
export function array<T>(type: FieldType<T>, n: number): FieldType<T[]> {
  assertCount('array', n);
  return {
    cType: `${type.cType}[${n}]`, size: type.size * n, align: type.align,
    write: (b, o, v) => {
      if (!Array.isArray(v) || v.length !== n) {
        throw new TypeError(`expected an array of ${n}, got ${Array.isArray(v) ? `${v.length} elements` : typeof v}`);
      }
      for (let i = 0; i < n; i++) {
        try {
          type.write(b, o + i * type.size, v[i]);
        } catch (e) {
          throw rethrow(e, `[${i}]: `);
        }
      }
    },
    read: (b, o) => {
      const out: T[] = new Array<T>(n);
      for (let i = 0; i < n; i++) out[i] = type.read(b, o + i * type.size);
      return out;
    },
  };
}

/** `n` bytes of explicit padding (align 1): written as zeros, left out of decoded objects. */
export function pad(n: number): PadType {
  assertCount('pad', n);
  return {
    cType: `__u8[${n}]`, size: n, align: 1, isPad: true,
    write: (b, o) => { b.fill(0, o, o + n); },
    read: () => undefined,
  };
}

function assertCount(what: string, n: number): void {
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`${what}(${n}): the count must be a positive integer`);
}

function rethrow(e: unknown, prefix: string): Error {
  if (e instanceof RangeError) return new RangeError(prefix + e.message);
  if (e instanceof Error) return new TypeError(prefix + e.message);
  return new TypeError(prefix + String(e));
}

// ---------------------------------------------------------------------------------------------
// Codecs

function codecFrom<T>(cName: string, type: FieldType<T>, fields: readonly Field[]): Codec<T> {
  return {
    cName, cType: type.cType, size: type.size, align: type.align, fields,
    write: type.write, read: type.read,
    encode(v: T, buf?: Buffer, offset = 0): Buffer {
      const out = buf ?? Buffer.alloc(type.size);
      if (offset < 0 || offset + type.size > out.length) {
        throw new RangeError(`${type.cType}: encode needs ${type.size} bytes at offset ${offset}, buffer has ${out.length}`);
      }
      type.write(out, offset, v);
      return out;
    },
    decode(buf: Buffer, offset = 0): T {
      if (offset < 0 || offset + type.size > buf.length) {
        throw new RangeError(`${type.cType}: decode needs ${type.size} bytes at offset ${offset}, buffer has ${buf.length}`);
      }
      return type.read(buf, offset);
    },
  };
}

/**
 * Wraps a single field type as a codec, for maps whose key or value is not a struct, e.g.
 * `asCodec(bytes(16))` for a `__u8[16]` value. `cName` (default: the type's C spelling) is what the
 * alignment check looks up.
 */
export function asCodec<T>(type: FieldType<T>, cName: string = type.cType): Codec<T> {
  return codecFrom(cName, type, []);
}

/** Codec for a map with `__u8` keys or values. */
export const u8Codec: Codec<number> = codecFrom('__u8', u8, []);
/** Codec for a map with `__u16` keys or values (host order). */
export const u16Codec: Codec<number> = codecFrom('__u16', u16, []);
/** Codec for a map with `__u32` keys or values (host order). */
export const u32Codec: Codec<number> = codecFrom('__u32', u32, []);
/** Codec for a map with `__u64` keys or values (bigint). */
export const u64Codec: Codec<bigint> = codecFrom('__u64', u64, []);
/** Codec for a map with `__be32` keys holding IPv4 addresses. */
export const ipv4Codec: Codec<string> = codecFrom('__be32', ipv4, []);

/** Layout options of `struct`. */
export interface StructOptions {
  /** `__attribute__((packed))`: no padding anywhere, alignment 1. Default false. */
  readonly packed?: boolean;
  /** `__attribute__((aligned(n)))`: raises the struct's alignment (and so its tail padding) to `n`. */
  readonly align?: number;
}

/**
 * A codec for the C struct `cName` whose members are `fields`, in declaration order (the object's key
 * order; names must not look like integers, which JS would reorder). The decoded type is inferred
 * from the field spec. Example:
 * ```ts
 * const endpointInfo = struct('endpoint_info', { ifindex: u32, lxc_id: u16, pad0: pad(2), mac, sec_id: u32 });
 * type EndpointInfo = CodecValue<typeof endpointInfo>; // { ifindex: number; lxc_id: number; mac: string; sec_id: number }
 * ```
 * Throws RangeError for an invalid spec. The codec's encode/decode throw as documented on `Codec`.
 */
export function struct<F extends Fields>(cName: string, fields: F, options: StructOptions = {}): Codec<StructValue<F>> {
  const members: Array<{ name: string; offset: number; type: FieldType<unknown>; isPad: boolean }> = [];
  let cursor = 0;
  let maxAlign = 1;
  for (const [name, type] of Object.entries(fields)) {
    if (/^\d+$/.test(name)) throw new RangeError(`struct ${cName}: field name "${name}" looks like an integer; JS would reorder it`);
    const align = options.packed ? 1 : type.align;
    cursor = roundUp(cursor, align);
    members.push({ name, offset: cursor, type, isPad: 'isPad' in type });
    cursor += type.size;
    maxAlign = Math.max(maxAlign, align);
  }
  if (options.align !== undefined) {
    if (!Number.isInteger(Math.log2(options.align))) throw new RangeError(`struct ${cName}: align ${options.align} is not a power of two`);
    maxAlign = Math.max(maxAlign, options.align);
  }
  const size = roundUp(cursor, maxAlign);
  if (size === 0) throw new RangeError(`struct ${cName}: a struct needs at least one field`);
  const label = /^(struct|union) /.test(cName) ? cName : `struct ${cName}`;
  const data = members.filter((m) => !m.isPad);

  const type: FieldType<StructValue<F>> = {
    cType: label, size, align: maxAlign,
    write: compileStructWrite(label, size, data),
    read(buf, offset) {
      const out: Record<string, unknown> = {};
      for (const m of data) out[m.name] = m.type.read(buf, offset + m.offset);
      return out as StructValue<F>;
    },
  };
  return codecFrom(cName, type, data.map((m) => ({ name: m.name, offset: m.offset, size: m.type.size, type: m.type })));
}

/**
 * The `write` of a struct: checks that `value` is an object holding every field, writes each field
 * with its type (errors prefixed `<struct>: field <name>: `), and zeroes every byte no field covers
 * (padding, alignment holes, tail padding: hash-map keys compare them).
 *
 * Why generated code: a generic loop reads fields by a computed name (a megamorphic load in V8) and
 * zeroes the struct with Buffer.fill (a call into C++), which made encoding the ~160,000 map keys
 * and values of a 10,000-service apply cost ~70 ms. The generated function reads each field by its
 * constant name and stores the zero bytes directly. Its source is built only from the field offsets
 * and JSON-quoted field names; the field writers and messages are passed in as arguments.
 */
function compileStructWrite(label: string, size: number, data: readonly { name: string; offset: number; type: FieldType<unknown> }[]): FieldType<unknown>['write'] {
  const covered = new Uint8Array(size);
  for (const m of data) covered.fill(1, m.offset, m.offset + m.type.size);
  const lines: string[] = [
    'return function write(buf, o, v) {',
    '  if (typeof v !== "object" || v === null) throw notObject(v);',
    '  let f;',
  ];
  data.forEach((m, i) => {
    lines.push(`  f = v[${JSON.stringify(m.name)}];`);
    lines.push(`  if (f === undefined) throw missing(${i});`);
    lines.push(`  try { w[${i}](buf, o + ${m.offset}, f); } catch (e) { throw fieldError(e, ${i}); }`);
  });
  for (let i = 0; i < size; ) {
    if (covered[i]) {
      i++;
      continue;
    }
    let end = i;
    while (end < size && !covered[end]) end++;
    if (end - i > 8) lines.push(`  buf.fill(0, o + ${i}, o + ${end});`);
    else for (let k = i; k < end; k++) lines.push(`  buf[o + ${k}] = 0;`);
    i = end;
  }
  lines.push('};');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated from offsets and quoted names only, see above
  const make = new Function('w', 'notObject', 'missing', 'fieldError', lines.join('\n')) as (
    w: readonly FieldType<unknown>['write'][],
    notObject: (v: unknown) => Error,
    missing: (i: number) => Error,
    fieldError: (e: unknown, i: number) => Error,
  ) => FieldType<unknown>['write'];
  return make(
    data.map((m) => m.type.write),
    (v) => new TypeError(`${label}: expected an object, got ${String(v)}`),
    (i) => new TypeError(`${label}: field ${data[i].name} is missing`),
    (e, i) => rethrow(e, `${label}: field ${data[i].name}: `),
  );
}

/** True for codecs made by `struct` (they have named fields to compare with C). */
export function isStructCodec(t: FieldType<unknown>): t is Codec<unknown> {
  return 'fields' in t && (t as Codec<unknown>).fields.length > 0;
}

/** Rounds `n` up to a multiple of `align`. */
export function roundUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}
