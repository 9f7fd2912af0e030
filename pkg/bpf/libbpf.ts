// Owns the koffi bindings to libbpf 1.1.2 and libc: typed function tables and the opts structs.
// Everything else in pkg/bpf calls the kernel through `libbpf()` / `libc()` from this file.
//
// Facts this file relies on (checked on this machine, see shared/recipes/libbpf-from-node.md):
// - libbpf 1.x `int` APIs return -errno; pointer APIs return NULL (koffi: null) and set errno.
// - koffi 3 pointers are BigInt; a Node Buffer passed as `void *` reaches C as a pointer to its bytes.
// - `*_opts` structs need `sz` == koffi.sizeof(type) exactly; parameters libbpf writes back are `_Inout_`.
import koffi, { type LibraryHandle, type TypeObject } from 'koffi';
import { isMainThread } from 'node:worker_threads';
import { installLibbpfPrinter } from './log.js';

/** A C pointer as koffi 3 hands it out (BigInt address). NULL is `null`. */
export type CPtr = bigint;
/** Memory passed to C as `void *`: a Buffer (its bytes), a raw address, or NULL. */
export type CMem = Buffer | Uint8Array | bigint | null;

/** `struct bpf_object_open_opts` (libbpf 1.1, 80 bytes). */
export interface ObjectOpenOpts {
  sz: number; object_name: string | null; relaxed_maps: boolean; pin_root_path: string | null; _stub: number;
  kconfig: string | null; btf_custom_path: string | null; kernel_log_buf: CMem; kernel_log_size: number;
  kernel_log_level: number;
}
/** `struct bpf_tc_hook` (24 bytes). */
export interface TcHook { sz: number; ifindex: number; attach_point: number; parent: number }
/** `struct bpf_tc_opts` (32 bytes); `prog_id` is written back by attach/query. */
export interface TcOpts { sz: number; prog_fd: number; flags: number; prog_id: number; handle: number; priority: number }
/** `struct bpf_map_create_opts` (48 bytes). */
export interface MapCreateOpts {
  sz: number; btf_fd: number; btf_key_type_id: number; btf_value_type_id: number; btf_vmlinux_value_type_id: number;
  inner_map_fd: number; map_flags: number; map_extra: bigint; numa_node: number; map_ifindex: number;
}
/** `struct bpf_map_batch_opts` (24 bytes). */
export interface MapBatchOpts { sz: number; elem_flags: bigint; flags: bigint }
/** `struct bpf_prog_attach_opts` (libbpf 1.1, 16 bytes). */
export interface ProgAttachOpts { sz: number; flags: number; replace_prog_fd: number }
/** `struct bpf_test_run_opts` (80 bytes); retval, sizes and duration are written back. */
export interface TestRunOpts {
  sz: number; data_in: CMem; data_out: CMem; data_size_in: number; data_size_out: number; ctx_in: CMem; ctx_out: CMem;
  ctx_size_in: number; ctx_size_out: number; retval: number; repeat: number; duration: number; flags: number; cpu: number;
  batch_size: number;
}

/** The libbpf functions pkg/bpf uses, typed. Pointers to opaque libbpf objects are `CPtr`. */
export interface LibbpfApi {
  bpf_object__open_file(path: string, opts: ObjectOpenOpts | null): CPtr | null;
  bpf_object__load(obj: CPtr): number;
  bpf_object__close(obj: CPtr): void;
  bpf_object__btf(obj: CPtr): CPtr | null;
  bpf_object__find_map_by_name(obj: CPtr, name: string): CPtr | null;
  bpf_object__next_map(obj: CPtr, prev: CPtr | null): CPtr | null;
  bpf_object__find_program_by_name(obj: CPtr, name: string): CPtr | null;
  bpf_object__next_program(obj: CPtr, prev: CPtr | null): CPtr | null;
  bpf_program__name(prog: CPtr): string;
  bpf_program__fd(prog: CPtr): number;
  bpf_program__autoload(prog: CPtr): boolean;
  bpf_program__type(prog: CPtr): number;
  bpf_map__name(map: CPtr): string;
  bpf_map__fd(map: CPtr): number;
  bpf_map__type(map: CPtr): number;
  bpf_map__key_size(map: CPtr): number;
  bpf_map__value_size(map: CPtr): number;
  bpf_map__max_entries(map: CPtr): number;
  bpf_map__map_flags(map: CPtr): number;
  bpf_map__set_max_entries(map: CPtr, n: number): number;
  bpf_map__initial_value(map: CPtr, psize: number[]): CPtr | null;
  bpf_map__set_initial_value(map: CPtr, data: CMem, size: number): number;
  bpf_map__set_pin_path(map: CPtr, path: string | null): number;
  bpf_map__pin_path(map: CPtr): string | null;
  bpf_map__is_internal(map: CPtr): boolean;
  bpf_map__reuse_fd(map: CPtr, fd: number): number;
  bpf_obj_get(path: string): number;
  bpf_obj_pin(fd: number, path: string): number;
  bpf_obj_get_info_by_fd(fd: number, info: CMem, len: number[]): number;
  bpf_map_create(type: number, name: string | null, keySize: number, valueSize: number, maxEntries: number,
    opts: MapCreateOpts | null): number;
  bpf_map_lookup_elem(fd: number, key: CMem, value: CMem): number;
  bpf_map_update_elem(fd: number, key: CMem, value: CMem, flags: bigint): number;
  bpf_map_delete_elem(fd: number, key: CMem): number;
  bpf_map_get_next_key(fd: number, key: CMem, next: CMem): number;
  bpf_map_lookup_batch(fd: number, inBatch: CMem, outBatch: CMem, keys: CMem, values: CMem, count: number[],
    opts: MapBatchOpts): number;
  bpf_map_delete_batch(fd: number, keys: CMem, count: number[], opts: MapBatchOpts): number;
  bpf_map_update_batch(fd: number, keys: CMem, values: CMem, count: number[], opts: MapBatchOpts): number;
  bpf_map_get_fd_by_id(id: number): number;
  bpf_prog_get_fd_by_id(id: number): number;
  libbpf_num_possible_cpus(): number;
  libbpf_strerror(err: number, buf: CMem, size: number): number;
  libbpf_set_print(fn: CPtr | null): CPtr | null;
  bpf_tc_hook_create(hook: TcHook): number;
  bpf_tc_hook_destroy(hook: TcHook): number;
  bpf_tc_attach(hook: TcHook, opts: TcOpts): number;
  bpf_tc_detach(hook: TcHook, opts: TcOpts): number;
  bpf_tc_query(hook: TcHook, opts: TcOpts): number;
  bpf_prog_attach_opts(progFd: number, targetFd: number, type: number, opts: ProgAttachOpts): number;
  bpf_prog_detach2(progFd: number, targetFd: number, type: number): number;
  bpf_prog_query(targetFd: number, type: number, queryFlags: number, attachFlags: number[], progIds: CMem,
    progCnt: number[]): number;
  bpf_prog_test_run_opts(progFd: number, opts: TestRunOpts): number;
  ring_buffer__new(mapFd: number, sampleCb: CPtr, ctx: CPtr | null, opts: CPtr | null): CPtr | null;
  ring_buffer__poll(rb: CPtr, timeoutMs: number): number;
  ring_buffer__consume(rb: CPtr): number;
  ring_buffer__free(rb: CPtr): void;
  btf__parse(path: string, btfExt: CPtr | null): CPtr | null;
  btf__free(btf: CPtr): void;
  btf__type_cnt(btf: CPtr): number;
  btf__find_by_name_kind(btf: CPtr, name: string, kind: number): number;
  btf__type_by_id(btf: CPtr, id: number): CPtr | null;
  btf__name_by_offset(btf: CPtr, off: number): string | null;
  btf__resolve_size(btf: CPtr, id: number): number;
}

/** The libc functions pkg/bpf uses, typed. */
export interface LibcApi {
  setns(fd: number, nstype: number): number;
  if_nametoindex(name: string): number;
  mount(source: string, target: string, fstype: string, flags: number, data: CMem): number;
  umount2(target: string, flags: number): number;
  /** fcntl(fd, cmd, int arg) — variadic in C, so koffi needs the type of the extra argument. */
  fcntl(fd: number, cmd: number, argType: 'int', arg: number): number;
  memcpy(dst: CMem, src: CMem, n: number): CPtr;
  vsnprintf(buf: CMem, size: number, fmt: CPtr, ap: CMem): number;
}

const LIBBPF_DECLS: Record<keyof LibbpfApi, string> = {
  bpf_object__open_file: 'bpf_object *bpf_object__open_file(const char *path, const bpf_object_open_opts *opts)',
  bpf_object__load: 'int bpf_object__load(bpf_object *obj)',
  bpf_object__close: 'void bpf_object__close(bpf_object *obj)',
  bpf_object__btf: 'btf *bpf_object__btf(const bpf_object *obj)',
  bpf_object__find_map_by_name: 'bpf_map *bpf_object__find_map_by_name(const bpf_object *obj, const char *name)',
  bpf_object__next_map: 'bpf_map *bpf_object__next_map(const bpf_object *obj, const bpf_map *map)',
  bpf_object__find_program_by_name:
    'bpf_program *bpf_object__find_program_by_name(const bpf_object *obj, const char *name)',
  bpf_object__next_program: 'bpf_program *bpf_object__next_program(const bpf_object *obj, bpf_program *prog)',
  bpf_program__name: 'const char *bpf_program__name(const bpf_program *prog)',
  bpf_program__fd: 'int bpf_program__fd(const bpf_program *prog)',
  bpf_program__autoload: 'bool bpf_program__autoload(const bpf_program *prog)',
  bpf_program__type: 'int bpf_program__type(const bpf_program *prog)',
  bpf_map__name: 'const char *bpf_map__name(const bpf_map *map)',
  bpf_map__fd: 'int bpf_map__fd(const bpf_map *map)',
  bpf_map__type: 'int bpf_map__type(const bpf_map *map)',
  bpf_map__key_size: 'uint32_t bpf_map__key_size(const bpf_map *map)',
  bpf_map__value_size: 'uint32_t bpf_map__value_size(const bpf_map *map)',
  bpf_map__max_entries: 'uint32_t bpf_map__max_entries(const bpf_map *map)',
  bpf_map__map_flags: 'uint32_t bpf_map__map_flags(const bpf_map *map)',
  bpf_map__set_max_entries: 'int bpf_map__set_max_entries(bpf_map *map, uint32_t max_entries)',
  bpf_map__initial_value: 'void *bpf_map__initial_value(bpf_map *map, _Out_ size_t *psize)',
  bpf_map__set_initial_value: 'int bpf_map__set_initial_value(bpf_map *map, const void *data, size_t size)',
  bpf_map__set_pin_path: 'int bpf_map__set_pin_path(bpf_map *map, const char *path)',
  bpf_map__pin_path: 'const char *bpf_map__pin_path(const bpf_map *map)',
  bpf_map__is_internal: 'bool bpf_map__is_internal(const bpf_map *map)',
  bpf_map__reuse_fd: 'int bpf_map__reuse_fd(bpf_map *map, int fd)',
  bpf_obj_get: 'int bpf_obj_get(const char *path)',
  bpf_obj_pin: 'int bpf_obj_pin(int fd, const char *path)',
  bpf_obj_get_info_by_fd: 'int bpf_obj_get_info_by_fd(int fd, void *info, _Inout_ uint32_t *info_len)',
  bpf_map_create: 'int bpf_map_create(int type, const char *name, uint32_t key_size, uint32_t value_size, ' +
    'uint32_t max_entries, const bpf_map_create_opts *opts)',
  bpf_map_lookup_elem: 'int bpf_map_lookup_elem(int fd, const void *key, void *value)',
  bpf_map_update_elem: 'int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)',
  bpf_map_delete_elem: 'int bpf_map_delete_elem(int fd, const void *key)',
  bpf_map_get_next_key: 'int bpf_map_get_next_key(int fd, const void *key, void *next_key)',
  bpf_map_lookup_batch: 'int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, ' +
    'void *values, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)',
  bpf_map_delete_batch:
    'int bpf_map_delete_batch(int fd, const void *keys, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)',
  bpf_map_update_batch: 'int bpf_map_update_batch(int fd, const void *keys, const void *values, ' +
    '_Inout_ uint32_t *count, const bpf_map_batch_opts *opts)',
  bpf_map_get_fd_by_id: 'int bpf_map_get_fd_by_id(uint32_t id)',
  bpf_prog_get_fd_by_id: 'int bpf_prog_get_fd_by_id(uint32_t id)',
  libbpf_num_possible_cpus: 'int libbpf_num_possible_cpus(void)',
  libbpf_strerror: 'int libbpf_strerror(int err, void *buf, size_t size)',
  libbpf_set_print: 'void *libbpf_set_print(void *fn)',
  bpf_tc_hook_create: 'int bpf_tc_hook_create(bpf_tc_hook *hook)',
  bpf_tc_hook_destroy: 'int bpf_tc_hook_destroy(bpf_tc_hook *hook)',
  bpf_tc_attach: 'int bpf_tc_attach(const bpf_tc_hook *hook, _Inout_ bpf_tc_opts *opts)',
  bpf_tc_detach: 'int bpf_tc_detach(const bpf_tc_hook *hook, const bpf_tc_opts *opts)',
  bpf_tc_query: 'int bpf_tc_query(const bpf_tc_hook *hook, _Inout_ bpf_tc_opts *opts)',
  bpf_prog_attach_opts:
    'int bpf_prog_attach_opts(int prog_fd, int target_fd, int type, const bpf_prog_attach_opts *opts)',
  bpf_prog_detach2: 'int bpf_prog_detach2(int prog_fd, int target_fd, int type)',
  bpf_prog_query: 'int bpf_prog_query(int target_fd, int type, uint32_t query_flags, ' +
    '_Out_ uint32_t *attach_flags, void *prog_ids, _Inout_ uint32_t *prog_cnt)',
  bpf_prog_test_run_opts: 'int bpf_prog_test_run_opts(int prog_fd, _Inout_ bpf_test_run_opts *opts)',
  ring_buffer__new: 'ring_buffer *ring_buffer__new(int map_fd, void *sample_cb, void *ctx, const void *opts)',
  ring_buffer__poll: 'int ring_buffer__poll(ring_buffer *rb, int timeout_ms)',
  ring_buffer__consume: 'int ring_buffer__consume(ring_buffer *rb)',
  ring_buffer__free: 'void ring_buffer__free(ring_buffer *rb)',
  btf__parse: 'btf *btf__parse(const char *path, void *btf_ext)',
  btf__free: 'void btf__free(btf *btf)',
  btf__type_cnt: 'uint32_t btf__type_cnt(const btf *btf)',
  btf__find_by_name_kind: 'int btf__find_by_name_kind(const btf *btf, const char *name, uint32_t kind)',
  btf__type_by_id: 'const void *btf__type_by_id(const btf *btf, uint32_t id)',
  btf__name_by_offset: 'const char *btf__name_by_offset(const btf *btf, uint32_t offset)',
  btf__resolve_size: 'long btf__resolve_size(const btf *btf, uint32_t type_id)',
};

const LIBC_DECLS: Record<keyof LibcApi, string> = {
  setns: 'int setns(int fd, int nstype)',
  if_nametoindex: 'unsigned int if_nametoindex(const char *ifname)',
  mount: 'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const void *data)',
  umount2: 'int umount2(const char *target, int flags)',
  fcntl: 'int fcntl(int fd, int cmd, ...)',
  memcpy: 'void *memcpy(void *dst, const void *src, size_t n)',
  vsnprintf: 'int vsnprintf(void *buf, size_t size, void *fmt, void *ap)',
};

let libbpfApi: LibbpfApi | undefined;
let libcApi: LibcApi | undefined;

/** Size in bytes of each `*_opts` struct, for their `sz` member (must be exact, see the header comment). */
export const OPTS_SIZE = {
  objectOpen: 80, tcHook: 24, tcOpts: 32, mapCreate: 48, mapBatch: 24, progAttach: 16, testRun: 80,
} as const;

function declareTypes(): void {
  for (const name of ['bpf_object', 'bpf_program', 'bpf_map', 'btf', 'ring_buffer']) koffi.opaque(name);
  const checks: Array<[string, number, TypeObject]> = [
    ['bpf_object_open_opts', OPTS_SIZE.objectOpen, koffi.struct('bpf_object_open_opts', {
      sz: 'size_t', object_name: 'const char *', relaxed_maps: 'bool', pin_root_path: 'const char *',
      _stub: 'uint32_t', // was attach_prog_fd, removed in 1.0; the slot stays
      kconfig: 'const char *', btf_custom_path: 'const char *', kernel_log_buf: 'void *', kernel_log_size: 'size_t',
      kernel_log_level: 'uint32_t',
    })],
    // C ends bpf_tc_hook with `size_t :0`; koffi's own tail padding to 8 gives the same 24 bytes.
    ['bpf_tc_hook', OPTS_SIZE.tcHook, koffi.struct('bpf_tc_hook', {
      sz: 'size_t', ifindex: 'int', attach_point: 'int', parent: 'uint32_t',
    })],
    ['bpf_tc_opts', OPTS_SIZE.tcOpts, koffi.struct('bpf_tc_opts', {
      sz: 'size_t', prog_fd: 'int', flags: 'uint32_t', prog_id: 'uint32_t', handle: 'uint32_t', priority: 'uint32_t',
    })],
    ['bpf_map_create_opts', OPTS_SIZE.mapCreate, koffi.struct('bpf_map_create_opts', {
      sz: 'size_t', btf_fd: 'uint32_t', btf_key_type_id: 'uint32_t', btf_value_type_id: 'uint32_t',
      btf_vmlinux_value_type_id: 'uint32_t', inner_map_fd: 'uint32_t', map_flags: 'uint32_t', map_extra: 'uint64_t',
      numa_node: 'uint32_t', map_ifindex: 'uint32_t',
    })],
    ['bpf_map_batch_opts', OPTS_SIZE.mapBatch, koffi.struct('bpf_map_batch_opts', {
      sz: 'size_t', elem_flags: 'uint64_t', flags: 'uint64_t',
    })],
    ['bpf_prog_attach_opts', OPTS_SIZE.progAttach, koffi.struct('bpf_prog_attach_opts', {
      sz: 'size_t', flags: 'uint32_t', replace_prog_fd: 'int',
    })],
    ['bpf_test_run_opts', OPTS_SIZE.testRun, koffi.struct('bpf_test_run_opts', {
      sz: 'size_t', data_in: 'void *', data_out: 'void *', data_size_in: 'uint32_t', data_size_out: 'uint32_t',
      ctx_in: 'void *', ctx_out: 'void *', ctx_size_in: 'uint32_t', ctx_size_out: 'uint32_t', retval: 'uint32_t',
      repeat: 'int', duration: 'uint32_t', flags: 'uint32_t', cpu: 'uint32_t', batch_size: 'uint32_t',
    })],
  ];
  for (const [name, want, type] of checks) {
    // A wrong size would make libbpf reject or misread the struct; fail loudly at load instead.
    if (koffi.sizeof(type) !== want) throw new Error(`pkg/bpf: koffi layout of ${name} is ${koffi.sizeof(type)} bytes, expected ${want}`);
  }
}

function bind<T>(lib: LibraryHandle, decls: Record<string, string>): T {
  const api: Record<string, unknown> = {};
  for (const [name, decl] of Object.entries(decls)) api[name] = lib.func(decl);
  return api as T;
}

/**
 * The libbpf bindings, loaded on first use (libbpf.so.1). On the main thread this also installs the
 * log printer that routes libbpf's messages to the logger set with `setLibbpfLogger`.
 * Throws if libbpf.so.1 cannot be loaded.
 */
export function libbpf(): LibbpfApi {
  if (!libbpfApi) {
    declareTypes();
    libbpfApi = bind<LibbpfApi>(koffi.load('libbpf.so.1'), LIBBPF_DECLS);
    // libbpf's printer is process-global: only the main thread may own it, or a worker
    // (the ring buffer reader) would steal every message of the main thread.
    if (isMainThread) {
      const api = libbpfApi;
      installLibbpfPrinter((fn) => api.libbpf_set_print(fn), (buf, size, fmt, ap) => libc().vsnprintf(buf, size, fmt, ap));
    }
  }
  return libbpfApi;
}

/** The libc bindings, loaded on first use (libc.so.6). */
export function libc(): LibcApi {
  libcApi ??= bind<LibcApi>(koffi.load('libc.so.6'), LIBC_DECLS);
  return libcApi;
}
