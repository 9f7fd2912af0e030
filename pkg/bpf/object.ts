// Owns loading compiled BPF objects (.o) with libbpf: `const volatile` constants set by name before load,
// map sizes, pinned-map reuse under a pin root, and load failures reported with the verifier's log.
import fs from 'node:fs';
import path from 'node:path';
import koffi from 'koffi';
import { Btf, BtfKind } from './btf.js';
import type { Codec } from './codec.js';
import { mapInfo, progInfo } from './info.js';
import { BpfError, check, checkPtr } from './errors.js';
import { type CPtr, libbpf, OPTS_SIZE } from './libbpf.js';
import { captureLibbpfLog } from './log.js';
import { BpfMap, mapDifferences, PinnedMapMismatchError } from './map.js';
import { closeFd, dupFd, getPinned, unpin } from './pin.js';

/** A value for a `const volatile` global: numbers/bigints are written little endian in the variable's size. */
export type ConstantValue = number | bigint | boolean | Buffer;

/** Options of `BpfObject.open` / `BpfObject.load`. */
export interface ObjectOptions {
  /**
   * Directory for maps declared with `__uint(pinning, LIBBPF_PIN_BY_NAME)`: each is pinned at `<pinRoot>/<map name>`
   * and reused by later loads (and other processes) while the pin exists. Created if missing; must be on bpffs.
   * Default: libbpf's /sys/fs/bpf — always set it in tests.
   */
  readonly pinRoot?: string;
  /** Values for `const volatile` globals in .rodata, by variable name. An unknown name is an error. */
  readonly constants?: Readonly<Record<string, ConstantValue>>;
  /** max_entries overrides by map name, applied before load. */
  readonly maxEntries?: Readonly<Record<string, number>>;
  /** Explicit pin paths by map name: the map is reused from there if pinned, else created and pinned there. */
  readonly mapPinPaths?: Readonly<Record<string, string>>;
  /**
   * Existing maps to use instead of creating them, by map name → map fd (e.g. `someBpfMap.fd`). libbpf
   * duplicates the fd, so the caller keeps ownership of its own. The map must match the definition, or load fails.
   */
  readonly reuseMapFds?: Readonly<Record<string, number>>;
  /**
   * What to do when a pinned map differs from the object's definition (type, key/value size, max entries, flags):
   * false (default) throws PinnedMapMismatchError; true removes the old pin so load creates a new, empty map.
   */
  readonly replaceIncompatiblePins?: boolean;
}

/** A loaded program of a BpfObject. `fd` belongs to the object and is valid until the object is closed. */
export interface BpfProgram {
  readonly name: string;
  readonly fd: number;
  /** Kernel program id (what tc and cgroup queries report). */
  readonly id: number;
  /** Instruction hash (16 hex digits); equal tags mean equal programs. */
  readonly tag: string;
  /** BPF_PROG_TYPE_* number. */
  readonly type: number;
}

/**
 * The object failed to load. `program` names the program the verifier rejected (if it was one),
 * `verifierLog` holds the verifier's full log, `libbpfLog` what libbpf warned about during the load.
 */
export class BpfLoadError extends BpfError {
  override readonly name = 'BpfLoadError';
  constructor(op: string, errno: number, detail: string, readonly program: string | undefined,
    readonly verifierLog: string | undefined, readonly libbpfLog: readonly string[]) {
    super(op, errno, detail);
  }
}

const VERIFIER_LOG_TAIL_LINES = 25;

/**
 * A BPF object file opened with libbpf. Lifecycle: `open` (constants, sizes and pin paths applied) → `load`
 * (maps created or reused, programs verified) → use `program()`/`map()` → `close()`. Attachments (tc, cgroup)
 * and pinned maps outlive the object; closing only releases this process' handles.
 */
export class BpfObject {
  private loadedFlag = false;
  private closed = false;
  private readonly openedMaps: BpfMap<unknown, unknown>[] = [];
  private readonly programCache = new Map<string, BpfProgram>();

  private constructor(private readonly ptr: CPtr, readonly path: string, private readonly options: ObjectOptions) {}

  /**
   * Opens `file` and applies `options` (everything that must happen before load). Throws BpfError
   * "bpf_object__open_file(<path>)" for a missing or malformed object, Error for an unknown constant or map
   * name (the message lists the known ones) or a constant that does not fit its variable.
   */
  static open(file: string, options: ObjectOptions = {}): BpfObject {
    const lib = libbpf();
    const opts = {
      sz: OPTS_SIZE.objectOpen, object_name: null, relaxed_maps: false, pin_root_path: options.pinRoot ?? null, _stub: 0,
      kconfig: null, btf_custom_path: null, kernel_log_buf: null, kernel_log_size: 0, kernel_log_level: 0,
    };
    const { result: ptr, messages } = captureLibbpfLog(() => lib.bpf_object__open_file(file, opts), (p) => p === null);
    const obj = new BpfObject(checkPtr(`bpf_object__open_file(${file})`, ptr, messages.join('; ') || undefined), file, options);
    try {
      obj.applyOptions();
    } catch (e) {
      obj.close();
      throw e;
    }
    return obj;
  }

  /** `open` then `load` in one call; closes the object if loading fails. Throws like both. */
  static load(file: string, options: ObjectOptions = {}): BpfObject {
    const obj = BpfObject.open(file, options);
    try {
      return obj.load();
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  /** Whether `load()` succeeded. */
  get loaded(): boolean {
    return this.loadedFlag;
  }

  /**
   * Creates or reuses the maps and loads every program into the kernel. Throws PinnedMapMismatchError when a
   * pinned map differs from its definition (see `replaceIncompatiblePins`), BpfLoadError otherwise — for a
   * verifier rejection its message names the program and ends with the tail of the verifier log.
   */
  load(): this {
    this.assertOpen();
    if (this.loadedFlag) throw new Error(`${this.label}: already loaded`);
    const lib = libbpf();
    this.checkPinnedMaps();
    for (const dir of this.pinDirs()) fs.mkdirSync(dir, { recursive: true });
    const { result: rc, messages } = captureLibbpfLog(() => lib.bpf_object__load(this.ptr), (rc) => rc < 0);
    if (rc < 0) throw this.loadError(-rc, messages);
    this.loadedFlag = true;
    return this;
  }

  /** Names of the object's programs (C function names). */
  programNames(): string[] {
    const lib = libbpf();
    const names: string[] = [];
    for (let p = lib.bpf_object__next_program(this.assertOpen(), null); p; p = lib.bpf_object__next_program(this.ptr, p)) {
      names.push(lib.bpf_program__name(p));
    }
    return names;
  }

  /** Names of the object's maps, without libbpf's internal .rodata/.data/.bss maps. */
  mapNames(): string[] {
    const lib = libbpf();
    const names: string[] = [];
    for (let m = lib.bpf_object__next_map(this.assertOpen(), null); m; m = lib.bpf_object__next_map(this.ptr, m)) {
      if (!lib.bpf_map__is_internal(m)) names.push(lib.bpf_map__name(m));
    }
    return names;
  }

  /** The loaded program `name`. Throws Error if not loaded or unknown (listing the known programs). */
  program(name: string): BpfProgram {
    this.assertLoaded();
    const cached = this.programCache.get(name);
    if (cached) return cached;
    const lib = libbpf();
    const p = lib.bpf_object__find_program_by_name(this.ptr, name);
    if (!p) throw new Error(`${this.label}: no program named ${name}; programs: ${this.programNames().join(', ')}`);
    const fd = lib.bpf_program__fd(p);
    if (fd < 0) throw new Error(`${this.label}: program ${name} was not loaded (autoload off)`);
    const info = progInfo(fd);
    const prog: BpfProgram = { name, fd, id: info.id, tag: info.tag, type: info.type };
    this.programCache.set(name, prog);
    return prog;
  }

  /** The fd of map `name` (owned by the object). Throws Error if not loaded or unknown. */
  mapFd(name: string): number {
    this.assertLoaded();
    return check(`bpf_map__fd(${name})`, libbpf().bpf_map__fd(this.findMap(name)));
  }

  /**
   * Map `name` as a typed BpfMap over a duplicate of its fd. The object closes it on `close()`; closing it
   * earlier is fine. Throws Error if not loaded, unknown, or the codecs' sizes do not match the map.
   */
  map<K, V>(name: string, keyCodec: Codec<K>, valueCodec: Codec<V>): BpfMap<K, V> {
    const fd = dupFd(this.mapFd(name));
    let m: BpfMap<K, V>;
    try {
      m = BpfMap.fromFd(fd, keyCodec, valueCodec, name);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    this.openedMaps.push(m);
    return m;
  }

  /** Where map `name` is (or will be) pinned, or undefined if it is not pinned. */
  mapPinPath(name: string): string | undefined {
    return libbpf().bpf_map__pin_path(this.findMap(name)) ?? undefined;
  }

  /** Releases the object, its program and map fds and the BpfMaps made by `map()`. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const m of this.openedMaps) m.close();
    libbpf().bpf_object__close(this.ptr);
  }

  // -------------------------------------------------------------------------------------------

  private get label(): string {
    return `BPF object ${path.basename(this.path)}`;
  }

  private assertOpen(): CPtr {
    if (this.closed) throw new Error(`${this.label}: used after close()`);
    return this.ptr;
  }

  private assertLoaded(): void {
    this.assertOpen();
    if (!this.loadedFlag) throw new Error(`${this.label}: not loaded yet; call load() first`);
  }

  private findMap(name: string): CPtr {
    const m = libbpf().bpf_object__find_map_by_name(this.assertOpen(), name);
    if (!m) throw new Error(`${this.label}: no map named ${name}; maps: ${this.mapNames().join(', ')}`);
    return m;
  }

  private applyOptions(): void {
    const lib = libbpf();
    for (const [name, n] of Object.entries(this.options.maxEntries ?? {})) {
      check(`bpf_map__set_max_entries(${name})`, lib.bpf_map__set_max_entries(this.findMap(name), n));
    }
    for (const [name, p] of Object.entries(this.options.mapPinPaths ?? {})) {
      check(`bpf_map__set_pin_path(${name})`, lib.bpf_map__set_pin_path(this.findMap(name), p));
    }
    for (const [name, fd] of Object.entries(this.options.reuseMapFds ?? {})) {
      check(`bpf_map__reuse_fd(${name})`, lib.bpf_map__reuse_fd(this.findMap(name), fd));
    }
    if (this.options.constants && Object.keys(this.options.constants).length) this.setConstants(this.options.constants);
  }

  /** Writes the constants into libbpf's copy of .rodata; offsets come from the BTF DATASEC of .rodata. */
  private setConstants(constants: Readonly<Record<string, ConstantValue>>): void {
    const lib = libbpf();
    const vars = this.rodataVariables();
    const known = () => [...vars.keys()].join(', ') || '(the object has no const volatile globals)';
    for (const name of Object.keys(constants)) {
      if (!vars.has(name)) throw new Error(`${this.label}: unknown constant ${name}; known: ${known()}`);
    }
    const map = lib.bpf_object__find_map_by_name(this.ptr, '.rodata');
    if (!map) throw new Error(`${this.label}: has no .rodata map`);
    const psize = [0];
    const p = checkPtr('bpf_map__initial_value(.rodata)', lib.bpf_map__initial_value(map, psize));
    const size = Number(psize[0]);
    const image = Buffer.from(new Uint8Array(koffi.view(p, size))); // a copy, written back below
    for (const [name, value] of Object.entries(constants)) {
      const v = vars.get(name)!;
      try {
        writeConstant(image, v.offset, v.size, value);
      } catch (e) {
        throw new Error(`${this.label}: constant ${name} (${v.size} bytes): ${(e as Error).message}`);
      }
    }
    check('bpf_map__set_initial_value(.rodata)', lib.bpf_map__set_initial_value(map, image, size));
  }

  private rodataVariables(): Map<string, { offset: number; size: number }> {
    const vars = new Map<string, { offset: number; size: number }>();
    const btfPtr = libbpf().bpf_object__btf(this.ptr);
    if (!btfPtr) return vars;
    const btf = Btf.borrow(btfPtr, this.path);
    const sec = btf.findByName('.rodata', BtfKind.Datasec);
    if (sec === undefined) return vars;
    for (const s of btf.type(sec).secinfo ?? []) {
      const v = btf.type(s.typeId);
      if (v.kind === BtfKind.Var) vars.set(v.name, { offset: s.offset, size: s.size });
    }
    return vars;
  }

  private pinDirs(): string[] {
    const lib = libbpf();
    const dirs = new Set<string>();
    for (let m = lib.bpf_object__next_map(this.ptr, null); m; m = lib.bpf_object__next_map(this.ptr, m)) {
      const p = lib.bpf_map__pin_path(m);
      if (p) dirs.add(path.dirname(p));
    }
    return [...dirs];
  }

  /**
   * libbpf would refuse a pinned map that differs from the definition with a bare EINVAL ("parameter
   * mismatch" in its log). Comparing first gives an error that names the map and the differences.
   */
  private checkPinnedMaps(): void {
    const lib = libbpf();
    for (let m = lib.bpf_object__next_map(this.ptr, null); m; m = lib.bpf_object__next_map(this.ptr, m)) {
      const pinPath = lib.bpf_map__pin_path(m);
      if (!pinPath || !fs.existsSync(pinPath)) continue;
      const name = lib.bpf_map__name(m);
      const fd = getPinned(pinPath);
      let diffs: string[];
      try {
        diffs = mapDifferences(mapInfo(fd), {
          type: lib.bpf_map__type(m), keySize: lib.bpf_map__key_size(m), valueSize: lib.bpf_map__value_size(m),
          maxEntries: lib.bpf_map__max_entries(m), flags: lib.bpf_map__map_flags(m),
        });
      } finally {
        closeFd(fd);
      }
      if (diffs.length === 0) continue;
      if (!this.options.replaceIncompatiblePins) throw new PinnedMapMismatchError(name, pinPath, diffs);
      unpin(pinPath);
    }
  }

  private loadError(errno: number, messages: readonly string[]): BpfLoadError {
    // libbpf names the program it could not load ("prog 'x': BPF program load failed: …"); after a failure
    // it has already closed every program fd, so the fds cannot tell.
    let failed: string | undefined;
    for (const m of messages) {
      const hit = /^prog '([^']+)': (BPF program load failed|failed to load)/.exec(m);
      if (hit) {
        failed = hit[1];
        break;
      }
    }
    const logMsg = messages.find((m) => m.includes('-- BEGIN PROG LOAD LOG --') && (!failed || m.includes(`'${failed}'`)));
    const verifierLog = logMsg ? extractVerifierLog(logMsg) : undefined;
    let detail: string;
    if (failed && verifierLog !== undefined) {
      const lines = verifierLog.trimEnd().split('\n');
      const tail = lines.slice(-VERIFIER_LOG_TAIL_LINES);
      detail = `program ${failed} rejected by the verifier` +
        `${lines.length > tail.length ? ` (last ${tail.length} of ${lines.length} log lines; full log in .verifierLog)` : ''}:\n` +
        tail.join('\n');
    } else {
      const warnings = messages.filter((m) => !m.includes('-- BEGIN PROG LOAD LOG --'));
      detail = (failed ? `program ${failed} failed to load` : 'load failed') +
        (warnings.length ? `; libbpf: ${warnings.join('; ')}` : '');
    }
    return new BpfLoadError(`bpf_object__load(${path.basename(this.path)})`, errno, detail, failed, verifierLog, messages);
  }
}

function extractVerifierLog(message: string): string {
  const start = message.indexOf('-- BEGIN PROG LOAD LOG --');
  const end = message.lastIndexOf('-- END PROG LOAD LOG --');
  return message.slice(start + '-- BEGIN PROG LOAD LOG --'.length, end < 0 ? undefined : end).replace(/^\n/, '');
}

function writeConstant(image: Buffer, offset: number, size: number, value: ConstantValue): void {
  if (Buffer.isBuffer(value)) {
    if (value.length !== size) throw new RangeError(`expected ${size} bytes, got a Buffer of ${value.length}`);
    value.copy(image, offset);
    return;
  }
  let v: bigint;
  if (typeof value === 'boolean') v = value ? 1n : 0n;
  else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`${value} is not a safe integer`);
    v = BigInt(value);
  } else v = value;
  if (![1, 2, 4, 8].includes(size)) throw new RangeError('only 1, 2, 4 or 8 byte variables take a number; pass a Buffer');
  const bits = BigInt(size * 8);
  if (v < -(1n << (bits - 1n)) || v >= 1n << bits) throw new RangeError(`${value} does not fit in ${size} bytes`);
  let u = BigInt.asUintN(size * 8, v);
  for (let i = 0; i < size; i++) {
    image[offset + i] = Number(u & 0xffn);
    u >>= 8n;
  }
}
