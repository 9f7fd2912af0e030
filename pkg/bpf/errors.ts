// Owns the error type of pkg/bpf: BpfError names the failed call, its target and the errno, and the
// helpers that turn libbpf's return conventions (-errno, or NULL + errno) into thrown BpfErrors.
import koffi from 'koffi';
import { ERRNO_NAMES } from './errno.js';
import { type CPtr, libbpf } from './libbpf.js';

/** libbpf's own error codes (libbpf.h `enum libbpf_errno`), which are not errnos. */
const LIBBPF_ERRNO_NAMES: Readonly<Record<number, string>> = {
  4000: 'LIBBPF_ERRNO__LIBELF', 4001: 'LIBBPF_ERRNO__FORMAT', 4002: 'LIBBPF_ERRNO__KVERSION',
  4003: 'LIBBPF_ERRNO__ENDIAN', 4004: 'LIBBPF_ERRNO__INTERNAL', 4005: 'LIBBPF_ERRNO__RELOC',
  4006: 'LIBBPF_ERRNO__LOAD', 4007: 'LIBBPF_ERRNO__VERIFY', 4008: 'LIBBPF_ERRNO__PROG2BIG',
  4009: 'LIBBPF_ERRNO__KVER', 4010: 'LIBBPF_ERRNO__PROGTYPE', 4011: 'LIBBPF_ERRNO__WRNGPID',
  4012: 'LIBBPF_ERRNO__INVSEQ', 4013: 'LIBBPF_ERRNO__NLPARSE',
};

/** Symbolic name of a positive errno (or libbpf error code), e.g. 17 → "EEXIST"; "E<n>" when unknown. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? LIBBPF_ERRNO_NAMES[errno] ?? `E${errno}`;
}

/** Human description of a positive errno (or libbpf error code), e.g. 17 → "File exists". */
export function errnoDescription(errno: number): string {
  if (errno === 524) return 'Operation not supported by this map or program type';
  const buf = Buffer.alloc(256);
  libbpf().libbpf_strerror(-errno, buf, buf.length);
  const end = buf.indexOf(0);
  return buf.toString('utf8', 0, end < 0 ? buf.length : end);
}

/**
 * A libbpf or bpf(2) call failed. `op` names the call and its target, e.g. "bpf_map_update_elem(cilia_lxc)";
 * `errno` is positive and `code` its symbolic name. The message reads
 * "bpf_map_update_elem(cilia_lxc): EEXIST (File exists)" plus an optional detail.
 */
export class BpfError extends Error {
  override readonly name: string = 'BpfError';
  /** Symbolic errno, e.g. "ENOENT". */
  readonly code: string;

  constructor(readonly op: string, readonly errno: number, detail?: string) {
    const code = errnoName(errno);
    super(`${op}: ${code} (${errnoDescription(errno)})${detail ? `: ${detail}` : ''}`);
    this.code = code;
  }
}

/** Returns `rc` when it is >= 0; throws `BpfError(op, -rc, detail)` for a negative libbpf return code. */
export function check(op: string, rc: number, detail?: string): number {
  if (rc < 0) throw new BpfError(op, -rc, detail);
  return rc;
}

/** Returns the pointer; for NULL throws `BpfError(op, errno)` with the errno libbpf left behind. */
export function checkPtr(op: string, ptr: CPtr | null, detail?: string): CPtr {
  if (ptr === null || ptr === 0n) throw new BpfError(op, koffi.errno() || 22 /* EINVAL */, detail);
  return ptr;
}
