// Owns reading BTF (the BPF type format): types of a compiled BPF object or of the kernel, as plain
// objects. Used by the alignment check (align.ts) and to find `const volatile` globals (object.ts).
import koffi from 'koffi';
import { checkPtr } from './errors.js';
import { type CPtr, libbpf } from './libbpf.js';

/** BTF_KIND_* numbers (linux/btf.h). */
export const BtfKind = {
  Int: 1, Ptr: 2, Array: 3, Struct: 4, Union: 5, Enum: 6, Fwd: 7, Typedef: 8, Volatile: 9, Const: 10, Restrict: 11,
  Func: 12, FuncProto: 13, Var: 14, Datasec: 15, Float: 16, DeclTag: 17, TypeTag: 18, Enum64: 19,
} as const;

const KIND_NAMES = Object.fromEntries(Object.entries(BtfKind).map(([k, v]) => [v, k.toLowerCase()])) as Record<number, string>;

/** Member of a struct or union. */
export interface BtfMember {
  /** Empty for an anonymous struct/union member. */
  readonly name: string;
  readonly typeId: number;
  /** Offset from the start of the enclosing struct, in bits. */
  readonly bitOffset: number;
  /** Width of a bitfield in bits; 0 for an ordinary member. */
  readonly bitfieldSize: number;
}

/** A variable placed in a data section (DATASEC entry). */
export interface BtfVarSecinfo {
  readonly typeId: number;
  readonly offset: number;
  readonly size: number;
}

/** One BTF type, decoded. Only the parts for its kind are set. */
export interface BtfType {
  readonly id: number;
  readonly kind: number;
  /** Lower-case kind name for messages: "struct", "typedef", "int" … */
  readonly kindName: string;
  /** Empty for anonymous types. */
  readonly name: string;
  /** Number of members / enum values / section entries / parameters. */
  readonly vlen: number;
  /** Size in bytes (int, struct, union, enum, datasec, float). */
  readonly size?: number;
  /** Referenced type (ptr, typedef, const, volatile, restrict, var, func, type_tag). */
  readonly type?: number;
  /** Struct and union members. */
  readonly members?: readonly BtfMember[];
  /** Array element type and length. */
  readonly array?: { readonly elemType: number; readonly indexType: number; readonly nelems: number };
  /** Datasec entries. */
  readonly secinfo?: readonly BtfVarSecinfo[];
  /** Enum and enum64 values (enum64 as bigint only when it does not fit a number). */
  readonly enumValues?: ReadonlyMap<string, number | bigint>;
}

const MODIFIERS: ReadonlySet<number> = new Set([
  BtfKind.Typedef, BtfKind.Volatile, BtfKind.Const, BtfKind.Restrict, BtfKind.TypeTag,
]);

/** Bytes that follow the 12-byte `struct btf_type` header for each kind. */
function extraBytes(kind: number, vlen: number): number {
  switch (kind) {
    case BtfKind.Int: case BtfKind.Var: case BtfKind.DeclTag: return 4;
    case BtfKind.Array: return 12;
    case BtfKind.Struct: case BtfKind.Union: case BtfKind.Datasec: case BtfKind.Enum64: return vlen * 12;
    case BtfKind.Enum: case BtfKind.FuncProto: return vlen * 8;
    default: return 0;
  }
}

/**
 * A parsed BTF blob. `Btf.parse` owns its data (call `close()`); `Btf.borrow` wraps BTF owned by a libbpf
 * object (close() is then a no-op and the Btf dies with the object).
 */
export class Btf {
  private closed = false;

  private constructor(private readonly ptr: CPtr, private readonly owned: boolean, readonly source: string) {}

  /**
   * Parses the BTF of an ELF object (its .BTF section) or a raw BTF file such as /sys/kernel/btf/vmlinux.
   * Throws BpfError "btf__parse(<path>)" (ENOENT, or ENODATA when the object was built without -g).
   */
  static parse(path: string): Btf {
    return new Btf(checkPtr(`btf__parse(${path})`, libbpf().btf__parse(path, null)), true, path);
  }

  /** Wraps a `struct btf *` that someone else owns (e.g. from bpf_object__btf). */
  static borrow(ptr: CPtr, source: string): Btf {
    return new Btf(ptr, false, source);
  }

  /** Number of type ids (ids run from 1 to count - 1; 0 is void). */
  get count(): number {
    return libbpf().btf__type_cnt(this.assertOpen());
  }

  /** The id of the type `name` of `kind`, or undefined. */
  findByName(name: string, kind: number): number | undefined {
    const id = libbpf().btf__find_by_name_kind(this.assertOpen(), name, kind);
    return id > 0 ? id : undefined;
  }

  /** Decodes type `id`. Throws BpfError "btf__type_by_id(<id>)" for an unknown id. */
  type(id: number): BtfType {
    const lib = libbpf();
    const p = checkPtr(`btf__type_by_id(${id})`, lib.btf__type_by_id(this.assertOpen(), id));
    const head = Buffer.from(new Uint8Array(koffi.view(p, 12)));
    const nameOff = head.readUInt32LE(0);
    const info = head.readUInt32LE(4);
    const sizeOrType = head.readUInt32LE(8);
    const vlen = info & 0xffff;
    const kind = (info >>> 24) & 0x1f;
    const kindFlag = info >>> 31 === 1;
    const extra = extraBytes(kind, vlen);
    const body = extra ? Buffer.from(new Uint8Array(koffi.view(p + 12n, extra))) : Buffer.alloc(0);
    const name = nameOff ? lib.btf__name_by_offset(this.ptr, nameOff) ?? '' : '';
    const base = { id, kind, kindName: KIND_NAMES[kind] ?? `kind ${kind}`, name, vlen };
    switch (kind) {
      case BtfKind.Int: case BtfKind.Float:
        return { ...base, size: sizeOrType };
      case BtfKind.Struct: case BtfKind.Union: {
        const members: BtfMember[] = [];
        for (let i = 0; i < vlen; i++) {
          const off = body.readUInt32LE(i * 12 + 8);
          const mname = body.readUInt32LE(i * 12);
          members.push({
            name: mname ? lib.btf__name_by_offset(this.ptr, mname) ?? '' : '',
            typeId: body.readUInt32LE(i * 12 + 4),
            // With kind_flag, offset packs bitfield size (top 8 bits) and bit offset (low 24).
            bitOffset: kindFlag ? off & 0xffffff : off,
            bitfieldSize: kindFlag ? off >>> 24 : 0,
          });
        }
        return { ...base, size: sizeOrType, members };
      }
      case BtfKind.Array:
        return {
          ...base,
          array: { elemType: body.readUInt32LE(0), indexType: body.readUInt32LE(4), nelems: body.readUInt32LE(8) },
        };
      case BtfKind.Enum: case BtfKind.Enum64: {
        const values = new Map<string, number | bigint>();
        const stride = kind === BtfKind.Enum ? 8 : 12;
        for (let i = 0; i < vlen; i++) {
          const vname = lib.btf__name_by_offset(this.ptr, body.readUInt32LE(i * stride)) ?? '';
          if (kind === BtfKind.Enum) {
            values.set(vname, kindFlag ? body.readInt32LE(i * 8 + 4) : body.readUInt32LE(i * 8 + 4));
          } else {
            const v = (BigInt(body.readUInt32LE(i * 12 + 8)) << 32n) | BigInt(body.readUInt32LE(i * 12 + 4));
            values.set(vname, v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
          }
        }
        return { ...base, size: sizeOrType, enumValues: values };
      }
      case BtfKind.Datasec: {
        const secinfo: BtfVarSecinfo[] = [];
        for (let i = 0; i < vlen; i++) {
          secinfo.push({
            typeId: body.readUInt32LE(i * 12), offset: body.readUInt32LE(i * 12 + 4), size: body.readUInt32LE(i * 12 + 8),
          });
        }
        return { ...base, size: sizeOrType, secinfo };
      }
      case BtfKind.Fwd:
        return base;
      default:
        return { ...base, type: sizeOrType };
    }
  }

  /** Follows typedef/const/volatile/restrict/type_tag to the underlying type id. */
  resolve(id: number): number {
    let cur = id;
    for (let hops = 0; hops < 64; hops++) {
      const t = this.type(cur);
      if (!MODIFIERS.has(t.kind) || t.type === undefined) return cur;
      cur = t.type;
    }
    return cur;
  }

  /** sizeof the type `id` (through typedefs, arrays). Throws BpfError "btf__resolve_size(<id>)" when it has none. */
  sizeOf(id: number): number {
    const n = libbpf().btf__resolve_size(this.assertOpen(), id);
    if (n < 0) throw new Error(`btf__resolve_size(${id}) in ${this.source}: errno ${-n}`);
    return n;
  }

  /**
   * Finds a type by its C spelling: "struct foo", "union foo", "enum foo", or a bare name tried as typedef,
   * struct, union, enum, int in that order. Returns the id as found (not resolved), or undefined.
   */
  findByCName(cName: string): number | undefined {
    const m = /^(struct|union|enum)\s+(.+)$/.exec(cName.trim());
    if (m) {
      const kind = m[1] === 'struct' ? BtfKind.Struct : m[1] === 'union' ? BtfKind.Union : BtfKind.Enum;
      return this.findByName(m[2], kind) ?? (kind === BtfKind.Enum ? this.findByName(m[2], BtfKind.Enum64) : undefined);
    }
    for (const kind of [BtfKind.Typedef, BtfKind.Struct, BtfKind.Union, BtfKind.Enum, BtfKind.Int]) {
      const id = this.findByName(cName, kind);
      if (id !== undefined) return id;
    }
    return undefined;
  }

  /** Frees owned BTF. Idempotent; a no-op for borrowed BTF. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.owned) libbpf().btf__free(this.ptr);
  }

  private assertOpen(): CPtr {
    if (this.closed) throw new Error(`BTF of ${this.source}: used after close()`);
    return this.ptr;
  }
}
