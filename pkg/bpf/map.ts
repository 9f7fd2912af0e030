// Owns typed access to BPF maps: BpfMap<K, V> reads and writes one map through its key and value
// codecs (open a pin, wrap an fd, or create one), iterates with batch lookups, handles per-CPU values.
import path from 'node:path';
import { type Codec, roundUp } from './codec.js';
import { type MapInfo, mapInfo } from './info.js';
import { BpfError, check } from './errors.js';
import { OPTS_SIZE, libbpf, type MapBatchOpts } from './libbpf.js';
import { closeFd, getPinned, numPossibleCpus, pinFd, unpin } from './pin.js';

/** BPF_MAP_TYPE_* numbers (linux/bpf.h). */
export const MapType = {
  Hash: 1, Array: 2, ProgArray: 3, PerfEventArray: 4, PercpuHash: 5, PercpuArray: 6, StackTrace: 7, CgroupArray: 8,
  LruHash: 9, LruPercpuHash: 10, LpmTrie: 11, ArrayOfMaps: 12, HashOfMaps: 13, DevMap: 14, SockMap: 15, CpuMap: 16,
  XskMap: 17, SockHash: 18, SkStorage: 24, DevMapHash: 25, RingBuf: 27, BloomFilter: 30,
} as const;
/** A BPF_MAP_TYPE_* number. */
export type MapTypeId = number;

/** The name of a map type number for messages, e.g. 1 → "Hash". */
export function mapTypeName(type: number): string {
  return Object.entries(MapType).find(([, v]) => v === type)?.[0] ?? `type ${type}`;
}

const PER_CPU_TYPES: ReadonlySet<number> = new Set([MapType.PercpuHash, MapType.PercpuArray, MapType.LruPercpuHash, 21]);
const ARRAY_TYPES: ReadonlySet<number> = new Set([MapType.Array, MapType.PercpuArray]);

/** BPF_F_NO_PREALLOC: required by LPM tries, optional for hashes. */
export const BPF_F_NO_PREALLOC = 1;

/** Update semantics: 'any' creates or replaces, 'noexist' only creates (EEXIST), 'exist' only replaces (ENOENT). */
export type UpdateFlag = 'any' | 'noexist' | 'exist';
const UPDATE_FLAGS: Record<UpdateFlag, bigint> = { any: 0n, noexist: 1n, exist: 2n };

const ENOENT = 2;
const EINVAL = 22;
const ENOSPC = 28;
const EOPNOTSUPP = 95;
const ENOTSUPP = 524;

/** Options of `entries`, `entriesPerCpu` and `keys`. */
export interface IterateOptions {
  /**
   * Use batch lookups when the map type supports them (default true). false forces the get_next_key walk,
   * which needs no batch buffers (1024 entries' worth) but makes two syscalls per entry.
   */
  readonly batch?: boolean;
}

/** What `BpfMap.create` needs. */
export interface MapSpec<K, V> {
  readonly type: MapTypeId;
  /** Kernel name (truncated to 15 characters by the kernel); also used in error messages. */
  readonly name: string;
  readonly key: Codec<K>;
  readonly value: Codec<V>;
  readonly maxEntries: number;
  /** BPF_F_* map flags. Default: BPF_F_NO_PREALLOC for LPM tries (the kernel requires it), else 0. */
  readonly flags?: number;
  /** Pin the new map here (parent directories are created). */
  readonly pinPath?: string;
}

/** Thrown when a pinned map exists with a different type, key/value size, max entries or flags than wanted. */
export class PinnedMapMismatchError extends Error {
  override readonly name = 'PinnedMapMismatchError';
  constructor(readonly mapName: string, readonly pinPath: string, readonly differences: readonly string[]) {
    super(`map ${mapName}: the map pinned at ${pinPath} does not match the definition: ${differences.join(', ')}`);
  }
}

/** Lists how `info` differs from a wanted definition ("max_entries 64 pinned, 128 wanted"). */
export function mapDifferences(info: MapInfo, want: {
  type: number; keySize: number; valueSize: number; maxEntries: number; flags: number;
}): string[] {
  const diffs: string[] = [];
  if (info.type !== want.type) diffs.push(`type ${mapTypeName(info.type)} pinned, ${mapTypeName(want.type)} wanted`);
  if (info.keySize !== want.keySize) diffs.push(`key_size ${info.keySize} pinned, ${want.keySize} wanted`);
  if (info.valueSize !== want.valueSize) diffs.push(`value_size ${info.valueSize} pinned, ${want.valueSize} wanted`);
  if (info.maxEntries !== want.maxEntries) diffs.push(`max_entries ${info.maxEntries} pinned, ${want.maxEntries} wanted`);
  if (info.flags !== want.flags) diffs.push(`map_flags 0x${info.flags.toString(16)} pinned, 0x${want.flags.toString(16)} wanted`);
  return diffs;
}

/**
 * One BPF map, read and written through codecs. Owns its fd: `close()` releases it (the map itself
 * lives on while pinned or used by a program). All methods are synchronous syscalls.
 *
 * Per-CPU maps (PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH) hold one value per possible CPU: use
 * `getPerCpu`/`putPerCpu`/`entriesPerCpu`; `put` writes the same value to every CPU; `get`/`entries` throw.
 */
export class BpfMap<K, V> {
  /** Whether values are per CPU. */
  readonly perCpu: boolean;
  /** Bytes of one value buffer as the kernel exchanges it: value_size, or roundup(value_size, 8) × possible CPUs. */
  readonly valueBufferSize: number;
  private readonly stride: number;
  private readonly cpus: number;
  private readonly keyBuf: Buffer;
  private readonly valueBuf: Buffer;
  private closed = false;
  private lastIteration: 'batch' | 'next-key' | undefined;

  private constructor(
    /** The map's fd (owned). */
    readonly fd: number,
    /** The name used in messages: the object's map name, the pin's file name, or the kernel name. */
    readonly name: string,
    /** The kernel's view of the map, read when it was opened. */
    readonly info: MapInfo,
    readonly keyCodec: Codec<K>,
    readonly valueCodec: Codec<V>,
  ) {
    this.perCpu = PER_CPU_TYPES.has(info.type);
    this.cpus = this.perCpu ? numPossibleCpus() : 1;
    this.stride = this.perCpu ? roundUp(info.valueSize, 8) : info.valueSize;
    this.valueBufferSize = this.stride * this.cpus;
    this.keyBuf = Buffer.alloc(Math.max(info.keySize, 1));
    this.valueBuf = Buffer.alloc(Math.max(this.valueBufferSize, 1));
  }

  /**
   * Wraps `fd` (taking ownership: `close()` closes it) after checking the codecs against the kernel's key and
   * value sizes. `name` defaults to the kernel's map name. Throws Error naming the map on a size mismatch
   * (the fd is then left open for the caller), BpfError if `fd` is not a map.
   */
  static fromFd<K, V>(fd: number, keyCodec: Codec<K>, valueCodec: Codec<V>, name?: string): BpfMap<K, V> {
    const info = mapInfo(fd);
    const label = name ?? info.name;
    const problems: string[] = [];
    if (keyCodec.size !== info.keySize) {
      problems.push(`key codec ${keyCodec.cType} is ${keyCodec.size} bytes, the map's key_size is ${info.keySize}`);
    }
    if (valueCodec.size !== info.valueSize) {
      problems.push(`value codec ${valueCodec.cType} is ${valueCodec.size} bytes, the map's value_size is ${info.valueSize}`);
    }
    if (problems.length) throw new Error(`map ${label} (${mapTypeName(info.type)}, id ${info.id}): ${problems.join('; ')}`);
    return new BpfMap(fd, label, info, keyCodec, valueCodec);
  }

  /**
   * Opens the map pinned at `pinPath`. Its name in messages is the pin's file name.
   * Throws BpfError "bpf_obj_get(<path>)" (ENOENT when nothing is pinned), or Error on a codec size mismatch.
   */
  static openPinned<K, V>(pinPath: string, keyCodec: Codec<K>, valueCodec: Codec<V>): BpfMap<K, V> {
    const fd = getPinned(pinPath);
    try {
      return BpfMap.fromFd(fd, keyCodec, valueCodec, path.basename(pinPath));
    } catch (e) {
      closeFd(fd);
      throw e;
    }
  }

  /**
   * Creates a map (bpf_map_create) sized by the codecs, and pins it when `spec.pinPath` is set.
   * Throws BpfError "bpf_map_create(<name>)" (e.g. EINVAL for an impossible definition) or "bpf_obj_pin(<path>)".
   */
  static create<K, V>(spec: MapSpec<K, V>): BpfMap<K, V> {
    const flags = spec.flags ?? (spec.type === MapType.LpmTrie ? BPF_F_NO_PREALLOC : 0);
    const opts = {
      sz: OPTS_SIZE.mapCreate, btf_fd: 0, btf_key_type_id: 0, btf_value_type_id: 0, btf_vmlinux_value_type_id: 0,
      inner_map_fd: 0, map_flags: flags, map_extra: 0n, numa_node: 0, map_ifindex: 0,
    };
    const fd = check(`bpf_map_create(${spec.name})`, libbpf().bpf_map_create(
      spec.type, spec.name.slice(0, 15), spec.key.size, spec.value.size, spec.maxEntries, opts,
    ), `${mapTypeName(spec.type)}, key ${spec.key.size} B, value ${spec.value.size} B, max_entries ${spec.maxEntries}`);
    try {
      if (spec.pinPath) pinFd(fd, spec.pinPath);
      return BpfMap.fromFd(fd, spec.key, spec.value, spec.name);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
  }

  /**
   * Opens the map pinned at `spec.pinPath` if there is one, else creates and pins it. A pinned map whose type,
   * sizes, max entries or flags differ from `spec` throws PinnedMapMismatchError, unless `replaceIncompatible`
   * is set: then the old pin is removed and a new, empty map takes its place.
   */
  static openOrCreatePinned<K, V>(spec: MapSpec<K, V> & { pinPath: string }, replaceIncompatible = false): BpfMap<K, V> {
    let fd: number;
    try {
      fd = getPinned(spec.pinPath);
    } catch (e) {
      if (e instanceof BpfError && e.errno === ENOENT) return BpfMap.create(spec);
      throw e;
    }
    let diffs: string[];
    try {
      diffs = mapDifferences(mapInfo(fd), {
        type: spec.type, keySize: spec.key.size, valueSize: spec.value.size, maxEntries: spec.maxEntries,
        flags: spec.flags ?? (spec.type === MapType.LpmTrie ? BPF_F_NO_PREALLOC : 0),
      });
      if (diffs.length === 0) return BpfMap.fromFd(fd, spec.key, spec.value, spec.name);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    closeFd(fd);
    if (!replaceIncompatible) throw new PinnedMapMismatchError(spec.name, spec.pinPath, diffs);
    // Removing the pin only drops the name: programs still using the old map keep it until they are replaced.
    unpin(spec.pinPath);
    return BpfMap.create(spec);
  }

  /** The value for `key`, or undefined if absent. Throws BpfError "bpf_map_lookup_elem(<name>)" on other errors. */
  get(key: K): V | undefined {
    this.assertUsable('get', false);
    if (!this.lookupRaw(key)) return undefined;
    return this.valueCodec.decode(this.valueBuf);
  }

  /** Per-CPU maps: the value of every possible CPU (index = CPU), or undefined if absent. */
  getPerCpu(key: K): V[] | undefined {
    this.assertUsable('getPerCpu', true);
    if (!this.lookupRaw(key)) return undefined;
    return this.decodePerCpu(this.valueBuf, 0);
  }

  /**
   * Writes `key` → `value`. On a per-CPU map every CPU gets `value`.
   * Throws BpfError "bpf_map_update_elem(<name>)": EEXIST ('noexist' on a present key), ENOENT ('exist' on an
   * absent key), E2BIG (map full), EINVAL (index out of range for arrays).
   */
  put(key: K, value: V, flag: UpdateFlag = 'any'): void {
    this.assertUsable('put');
    this.keyCodec.encode(key, this.keyBuf);
    if (this.perCpu) {
      this.valueBuf.fill(0);
      for (let c = 0; c < this.cpus; c++) this.valueCodec.encode(value, this.valueBuf, c * this.stride);
    } else {
      this.valueCodec.encode(value, this.valueBuf);
    }
    this.update(flag);
  }

  /** Per-CPU maps: writes one value per possible CPU (`values.length` must equal `numPossibleCpus()`). Throws like `put`. */
  putPerCpu(key: K, values: readonly V[], flag: UpdateFlag = 'any'): void {
    this.assertUsable('putPerCpu', true);
    if (values.length !== this.cpus) {
      throw new RangeError(`map ${this.name}: putPerCpu needs ${this.cpus} values (possible CPUs), got ${values.length}`);
    }
    this.keyCodec.encode(key, this.keyBuf);
    this.valueBuf.fill(0);
    values.forEach((v, c) => this.valueCodec.encode(v, this.valueBuf, c * this.stride));
    this.update(flag);
  }

  /** Deletes `key`. Returns false if it was absent. Throws BpfError "bpf_map_delete_elem(<name>)" otherwise (EINVAL for arrays). */
  delete(key: K): boolean {
    this.assertUsable('delete');
    this.keyCodec.encode(key, this.keyBuf);
    const rc = libbpf().bpf_map_delete_elem(this.fd, this.keyBuf);
    if (rc === -ENOENT) return false;
    check(`bpf_map_delete_elem(${this.name})`, rc);
    return true;
  }

  /**
   * Iterates over all entries. Uses batch lookups (BPF_MAP_LOOKUP_BATCH, ~10× faster) where the map type has
   * them and falls back to get_next_key otherwise. Safe while other processes insert and delete: an entry
   * deleted meanwhile is skipped, none is returned twice. Arrays yield every index. Throws on per-CPU maps.
   */
  *entries(options: IterateOptions = {}): Generator<[K, V]> {
    this.assertUsable('entries', false);
    for (const [k, v, off] of this.rawEntries(options)) yield [this.keyCodec.decode(k), this.valueCodec.decode(v, off)];
  }

  /** Per-CPU maps: iterates over all entries with one value per CPU. Same guarantees as `entries`. */
  *entriesPerCpu(options: IterateOptions = {}): Generator<[K, V[]]> {
    this.assertUsable('entriesPerCpu', true);
    for (const [k, v, off] of this.rawEntries(options)) yield [this.keyCodec.decode(k), this.decodePerCpu(v, off)];
  }

  /** Iterates over all keys (same mechanism and guarantees as `entries`). Works on per-CPU maps too. */
  *keys(options: IterateOptions = {}): Generator<K> {
    this.assertUsable('keys');
    for (const [k] of this.rawEntries(options)) yield this.keyCodec.decode(k);
  }

  /**
   * Empties the map and returns how many entries were removed. Arrays cannot delete, so their values are set to
   * zero bytes instead (the count is then max_entries). Throws BpfError on a failed delete/update.
   */
  clear(): number {
    this.assertUsable('clear');
    const lib = libbpf();
    if (ARRAY_TYPES.has(this.info.type)) {
      this.valueBuf.fill(0);
      for (let i = 0; i < this.info.maxEntries; i++) {
        this.keyBuf.writeUInt32LE(i, 0);
        check(`bpf_map_update_elem(${this.name})`, lib.bpf_map_update_elem(this.fd, this.keyBuf, this.valueBuf, 0n));
      }
      return this.info.maxEntries;
    }
    const keys: Buffer[] = [];
    for (const [k] of this.rawEntries()) keys.push(Buffer.from(k));
    let removed = 0;
    for (const k of keys) {
      const rc = lib.bpf_map_delete_elem(this.fd, k);
      if (rc === -ENOENT) continue; // deleted by someone else meanwhile
      check(`bpf_map_delete_elem(${this.name})`, rc);
      removed++;
    }
    return removed;
  }

  /** How the last iteration walked the map (diagnostics): 'batch' lookups or 'next-key' steps; undefined before any. */
  get iterationMethod(): 'batch' | 'next-key' | undefined {
    return this.lastIteration;
  }

  /** Releases the fd. Idempotent. Using the map afterwards throws. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeFd(this.fd);
  }

  // -------------------------------------------------------------------------------------------

  private assertUsable(method: string, perCpu?: boolean): void {
    if (this.closed) throw new Error(`map ${this.name}: ${method}() after close()`);
    if (perCpu === true && !this.perCpu) throw new TypeError(`map ${this.name}: ${method}() needs a per-CPU map, this is ${mapTypeName(this.info.type)}`);
    if (perCpu === false && this.perCpu) {
      throw new TypeError(`map ${this.name}: ${method}() on a per-CPU map (${mapTypeName(this.info.type)}); use ${method}PerCpu()`);
    }
  }

  private lookupRaw(key: K): boolean {
    this.keyCodec.encode(key, this.keyBuf);
    const rc = libbpf().bpf_map_lookup_elem(this.fd, this.keyBuf, this.valueBuf);
    if (rc === -ENOENT) return false;
    check(`bpf_map_lookup_elem(${this.name})`, rc);
    return true;
  }

  private update(flag: UpdateFlag): void {
    const flags = UPDATE_FLAGS[flag];
    if (flags === undefined) throw new TypeError(`map ${this.name}: unknown update flag ${String(flag)}`);
    check(`bpf_map_update_elem(${this.name})`, libbpf().bpf_map_update_elem(this.fd, this.keyBuf, this.valueBuf, flags));
  }

  private decodePerCpu(buf: Buffer, offset: number): V[] {
    const out: V[] = [];
    for (let c = 0; c < this.cpus; c++) out.push(this.valueCodec.decode(buf, offset + c * this.stride));
    return out;
  }

  /**
   * Yields [key bytes, value buffer, value offset]. The byte views are only valid until the next step:
   * callers decode (codecs copy) before resuming the generator.
   */
  private *rawEntries(options: IterateOptions = {}): Generator<[Buffer, Buffer, number]> {
    if (options.batch === false) {
      this.lastIteration = 'next-key';
      yield* this.nextKeyEntries();
      return;
    }
    const batched = this.batchEntries();
    const first = batched.next();
    if (first.done && first.value === 'unsupported') {
      this.lastIteration = 'next-key';
      yield* this.nextKeyEntries();
      return;
    }
    this.lastIteration = 'batch';
    if (!first.done) {
      yield first.value;
      yield* batched as Generator<[Buffer, Buffer, number]>;
    }
  }

  /** Batch lookup. Returns 'unsupported' (before yielding anything) when the map type has no batch ops. */
  private *batchEntries(): Generator<[Buffer, Buffer, number], 'unsupported' | 'done'> {
    const lib = libbpf();
    const opts: MapBatchOpts = { sz: OPTS_SIZE.mapBatch, elem_flags: 0n, flags: 0n };
    const ks = this.info.keySize;
    let count = Math.max(1, Math.min(1024, this.info.maxEntries));
    let keys = Buffer.alloc(count * ks);
    let values = Buffer.alloc(count * this.valueBufferSize);
    // Batch tokens: a bucket index for hashes, a key for arrays; key-sized and at least 8 bytes fits both.
    const inTok = Buffer.alloc(Math.max(ks, 8));
    const outTok = Buffer.alloc(Math.max(ks, 8));
    let first = true;
    for (;;) {
      const n = [count];
      const rc = lib.bpf_map_lookup_batch(this.fd, first ? null : inTok, outTok, keys, values, n, opts);
      if (rc < 0 && rc !== -ENOENT) {
        if (first && (rc === -EINVAL || rc === -ENOTSUPP || rc === -EOPNOTSUPP)) return 'unsupported';
        if (rc === -ENOSPC && count < this.info.maxEntries) {
          // A hash bucket held more entries than `count`: retry the same position with more room.
          count *= 2;
          keys = Buffer.alloc(count * ks);
          values = Buffer.alloc(count * this.valueBufferSize);
          continue;
        }
        check(`bpf_map_lookup_batch(${this.name})`, rc);
      }
      for (let i = 0; i < n[0]; i++) {
        yield [keys.subarray(i * ks, (i + 1) * ks), values, i * this.valueBufferSize];
      }
      if (rc === -ENOENT) return 'done'; // the last batch: count is still valid
      outTok.copy(inTok);
      first = false;
    }
  }

  /**
   * get_next_key walk. When the current key was deleted meanwhile, the kernel restarts from the first key.
   * Then the walk continues from the previous key instead (its successor is the deleted key's successor);
   * if that one is gone too, it walks past the keys it already returned. A value that vanished between
   * the key and the lookup is skipped.
   */
  private *nextKeyEntries(): Generator<[Buffer, Buffer, number]> {
    const lib = libbpf();
    const seen = new Set<string>();
    const nextOf = (key: Buffer | null): Buffer | undefined => {
      const next = Buffer.alloc(this.info.keySize);
      const rc = lib.bpf_map_get_next_key(this.fd, key, next);
      if (rc === -ENOENT) return undefined;
      check(`bpf_map_get_next_key(${this.name})`, rc);
      return next;
    };
    let prev: Buffer | null = null;
    let cur: Buffer | null = null;
    let restarts = 0;
    for (;;) {
      let next = nextOf(cur);
      if (!next) return;
      let curVanished = false;
      if (seen.has(next.toString('latin1')) && prev) {
        const alt = nextOf(prev);
        if (alt && !seen.has(alt.toString('latin1'))) {
          next = alt;
          curVanished = true;
        }
      }
      const id = next.toString('latin1');
      if (seen.has(id)) {
        // Walking through already returned keys after a restart. Bounded: each restart needs a new key first.
        if (cur && !seen.has(cur.toString('latin1')) && ++restarts > this.info.maxEntries + 1000) {
          throw new BpfError(`bpf_map_get_next_key(${this.name})`, 11 /* EAGAIN */, 'the map changed too much to finish iterating');
        }
        cur = next;
        continue;
      }
      seen.add(id);
      // `prev` must be a key that still exists: keep it when `cur` turned out to be deleted.
      if (!curVanished) prev = cur;
      cur = next;
      const value = Buffer.alloc(this.valueBufferSize);
      const lrc = lib.bpf_map_lookup_elem(this.fd, next, value);
      if (lrc === -ENOENT) continue;
      check(`bpf_map_lookup_elem(${this.name})`, lrc);
      yield [next, value, 0];
    }
  }
}

