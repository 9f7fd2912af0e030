// Owns what the kernel reports about a BPF map or program fd (BPF_OBJ_GET_INFO_BY_FD), in friendly shapes.
import { bytes, pad, struct, u32, u64 } from './codec.js';
import { BpfError, check } from './errors.js';
import { libbpf } from './libbpf.js';
import { closeFd } from './pin.js';

/**
 * `struct bpf_map_info` as of kernel 6.18 (104 bytes). Older kernels fill a prefix and accept the
 * zeroed tail; the alignment test checks this codec against the running kernel's BTF.
 */
export const bpfMapInfo = struct('bpf_map_info', {
  type: u32, id: u32, key_size: u32, value_size: u32, max_entries: u32, map_flags: u32, name: bytes(16),
  ifindex: u32, btf_vmlinux_value_type_id: u32, netns_dev: u64, netns_ino: u64, btf_id: u32, btf_key_type_id: u32,
  btf_value_type_id: u32, btf_vmlinux_id: u32, map_extra: u64, hash: u64, hash_size: u32,
});

/**
 * `struct bpf_prog_info` (232 bytes). The pointer members must stay zero on input, or the kernel
 * would write arrays through them; encode() of a fresh buffer guarantees that.
 */
export const bpfProgInfo = struct('bpf_prog_info', {
  type: u32, id: u32, tag: bytes(8), jited_prog_len: u32, xlated_prog_len: u32, jited_prog_insns: u64,
  xlated_prog_insns: u64, load_time: u64, created_by_uid: u32, nr_map_ids: u32, map_ids: u64, name: bytes(16),
  ifindex: u32, gpl_compatible_bits: pad(4), netns_dev: u64, netns_ino: u64, nr_jited_ksyms: u32,
  nr_jited_func_lens: u32, jited_ksyms: u64, jited_func_lens: u64, btf_id: u32, func_info_rec_size: u32,
  func_info: u64, nr_func_info: u32, nr_line_info: u32, line_info: u64, jited_line_info: u64,
  nr_jited_line_info: u32, line_info_rec_size: u32, jited_line_info_rec_size: u32, nr_prog_tags: u32,
  prog_tags: u64, run_time_ns: u64, run_cnt: u64, recursion_misses: u64, verified_insns: u32,
  attach_btf_obj_id: u32, attach_btf_id: u32,
});

/** What the kernel says about a map. */
export interface MapInfo {
  /** BPF_MAP_TYPE_* number (see `MapType`). */
  readonly type: number;
  /** Kernel-wide map id. */
  readonly id: number;
  /** Kernel name, at most 15 characters (libbpf truncates longer names). */
  readonly name: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
}

/** What the kernel says about a program. */
export interface ProgInfo {
  /** BPF_PROG_TYPE_* number. */
  readonly type: number;
  /** Kernel-wide program id (what tc and cgroup queries report). */
  readonly id: number;
  /** Kernel name, at most 15 characters. */
  readonly name: string;
  /** The 8-byte program tag as 16 hex digits: a hash of the instructions, equal for equal programs. */
  readonly tag: string;
  /** Number of instructions the verifier processed. */
  readonly verifiedInsns: number;
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.toString('utf8', 0, end < 0 ? b.length : end);
}

function getInfo(fd: number, size: number, op: string): Buffer {
  const buf = Buffer.alloc(size);
  check(op, libbpf().bpf_obj_get_info_by_fd(fd, buf, [size]));
  return buf;
}

/** Reads a map's info. Throws BpfError "bpf_obj_get_info_by_fd(map fd N)" (e.g. EBADF, EINVAL for a non-map fd). */
export function mapInfo(fd: number): MapInfo {
  const i = bpfMapInfo.decode(getInfo(fd, bpfMapInfo.size, `bpf_obj_get_info_by_fd(map fd ${fd})`));
  return {
    type: i.type, id: i.id, name: cString(i.name), keySize: i.key_size, valueSize: i.value_size,
    maxEntries: i.max_entries, flags: i.map_flags,
  };
}

/** Reads a program's info. Throws BpfError "bpf_obj_get_info_by_fd(prog fd N)". */
export function progInfo(fd: number): ProgInfo {
  const i = bpfProgInfo.decode(getInfo(fd, bpfProgInfo.size, `bpf_obj_get_info_by_fd(prog fd ${fd})`));
  return { type: i.type, id: i.id, name: cString(i.name), tag: i.tag.toString('hex'), verifiedInsns: i.verified_insns };
}

/** The kernel id of the program behind `fd`, to compare with what tc/cgroup queries report. */
export function progIdOf(fd: number): number {
  return progInfo(fd).id;
}

/**
 * The info of the program with kernel id `id` (e.g. what tcQuery or cgroupQuery returned), or undefined if no
 * such program exists any more. Compare `tag`s to tell whether an attached program is the one a fresh load
 * produced. Throws BpfError "bpf_prog_get_fd_by_id(<id>)" for other errors (EPERM).
 */
export function progInfoById(id: number): ProgInfo | undefined {
  return withProgFd(id, (fd) => (fd === undefined ? undefined : progInfo(fd)));
}

/**
 * Runs `fn` with a temporary fd of the program with kernel id `id` (closed afterwards), or with undefined when
 * no such program exists any more — e.g. to BPF_F_REPLACE a program an earlier process attached.
 * Throws BpfError "bpf_prog_get_fd_by_id(<id>)" for other errors (EPERM).
 */
export function withProgFd<T>(id: number, fn: (fd: number | undefined) => T): T {
  const fd = libbpf().bpf_prog_get_fd_by_id(id);
  if (fd === -2 /* ENOENT */) return fn(undefined);
  if (fd < 0) throw new BpfError(`bpf_prog_get_fd_by_id(${id})`, -fd);
  try {
    return fn(fd);
  } finally {
    closeFd(fd);
  }
}
