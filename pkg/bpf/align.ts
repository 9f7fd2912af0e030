// Owns the alignment check between TS codecs and C structs (Cilium's alignchecker): each codec's size
// and every named field's offset and size must equal those of the C type of the same name in BTF.
import { Btf, BtfKind } from './btf.js';
import { type Codec, isStructCodec } from './codec.js';

/** One difference between a codec and its C type. */
export interface AlignmentMismatch {
  /** The codec's C type as written in messages, e.g. "struct endpoint_info". */
  readonly struct: string;
  /** Dotted field path ("inner.a") when the mismatch concerns a field. */
  readonly field?: string;
  /** Full sentence, e.g. "struct endpoint_info: field lxc_id: offset 6 in TS, 4 in C". */
  readonly message: string;
}

/** Thrown by `assertAligned`; its message lists every mismatch, one a line. */
export class AlignmentError extends Error {
  override readonly name = 'AlignmentError';
  constructor(readonly source: string, readonly mismatches: readonly AlignmentMismatch[]) {
    super(`TS codecs do not match the C types in ${source}:\n  ${mismatches.map((m) => m.message).join('\n  ')}`);
  }
}

interface CMember { byteOffset: number; size: number; typeId: number; bitfield?: { bitOffset: number; bits: number } }

/**
 * Compares each codec with the type named by its `cName` in the BTF of `source` (an object path, or a `Btf`
 * such as the kernel's). Checks: the type exists (typedefs are followed), sizes are equal, and for every named
 * codec field a C member of that name (members of anonymous structs/unions count) sits at the same byte offset
 * with the same size; nested struct codecs are checked recursively. Returns all mismatches (empty = aligned).
 * Throws BpfError when `source` cannot be parsed.
 */
export function checkAlignment(source: string | Btf, codecs: readonly Codec<unknown>[]): AlignmentMismatch[] {
  const btf = typeof source === 'string' ? Btf.parse(source) : source;
  try {
    const out: AlignmentMismatch[] = [];
    for (const codec of codecs) {
      const label = codec.cType;
      const id = btf.findByCName(codec.cName);
      if (id === undefined) {
        out.push({ struct: label, message: `${label}: not found in the BTF of ${btf.source}` });
        continue;
      }
      compareType(btf, btf.resolve(id), codec, label, '', out);
    }
    return out;
  } finally {
    if (typeof source === 'string') btf.close();
  }
}

/** Like `checkAlignment`, but throws AlignmentError listing the mismatches, naming struct and field. */
export function assertAligned(source: string | Btf, codecs: readonly Codec<unknown>[]): void {
  const mismatches = checkAlignment(source, codecs);
  if (mismatches.length) throw new AlignmentError(typeof source === 'string' ? source : source.source, mismatches);
}

function compareType(btf: Btf, typeId: number, codec: Codec<unknown>, label: string, prefix: string,
  out: AlignmentMismatch[]): void {
  const say = (field: string | undefined, text: string): void => {
    out.push({ struct: label, ...(field !== undefined ? { field } : {}), message: `${label}: ${field !== undefined ? `field ${field}: ` : ''}${text}` });
  };
  const cSize = btf.sizeOf(typeId);
  const where = prefix ? prefix.slice(0, -1) : undefined;
  if (cSize !== codec.size) say(where, `size ${codec.size} in TS, ${cSize} in C`);
  if (codec.fields.length === 0) return;

  const t = btf.type(typeId);
  if (t.kind !== BtfKind.Struct && t.kind !== BtfKind.Union) {
    say(where, `is a ${t.kindName} in C, not a struct`);
    return;
  }
  for (const field of codec.fields) {
    const path = prefix + field.name;
    const m = findMember(btf, typeId, field.name, 0);
    if (!m) {
      say(path, `no member named ${field.name} in C`);
      continue;
    }
    if (m.bitfield) {
      say(path, `is a ${m.bitfield.bits}-bit bitfield in C (bit offset ${m.bitfield.bitOffset}); ` +
        'describe its storage unit with a differently named field');
      continue;
    }
    if (m.byteOffset !== field.offset) say(path, `offset ${field.offset} in TS, ${m.byteOffset} in C`);
    if (m.size !== field.size) say(path, `size ${field.size} in TS, ${m.size} in C`);
    if (isStructCodec(field.type) && m.byteOffset === field.offset && m.size === field.size) {
      compareType(btf, btf.resolve(m.typeId), field.type, label, `${path}.`, out);
    }
  }
}

/** Finds member `name` of struct/union `typeId`, looking through anonymous struct/union members as C does. */
function findMember(btf: Btf, typeId: number, name: string, baseBits: number): CMember | undefined {
  for (const m of btf.type(typeId).members ?? []) {
    const bits = baseBits + m.bitOffset;
    if (m.name === name) {
      if (m.bitfieldSize || bits % 8) return { byteOffset: Math.floor(bits / 8), size: 0, typeId: m.typeId, bitfield: { bitOffset: bits, bits: m.bitfieldSize } };
      return { byteOffset: bits / 8, size: btf.sizeOf(m.typeId), typeId: m.typeId };
    }
    if (m.name === '') {
      const inner = btf.resolve(m.typeId);
      const kind = btf.type(inner).kind;
      if (kind === BtfKind.Struct || kind === BtfKind.Union) {
        const found = findMember(btf, inner, name, bits);
        if (found) return found;
      }
    }
  }
  return undefined;
}
