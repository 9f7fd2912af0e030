// The libc entry points that Linux namespace and socket code needs, loaded once through koffi,
// and the errno reporting shared by pkg/netns and pkg/netlink.
import koffi from 'koffi';
import os from 'node:os';

/** The process's libc, loaded through koffi. Callers declare the functions they need with `libc.func`. */
export const libc = koffi.load('libc.so.6');

const strerrorFn = libc.func('const char *strerror(int errnum)');

const errnoNames = new Map<number, string>(
  Object.entries(os.constants.errno).map(([name, num]) => [num, name]),
);

/** The symbolic name of a positive errno value (`17` → `"EEXIST"`); `"E<n>"` when unknown. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

/** The C library's description of a positive errno value (`17` → `"File exists"`). */
export function strerror(errno: number): string {
  return strerrorFn(errno) as string;
}

/** The errno of the libc call made just before, on this thread. Read it before any other FFI call. */
export function lastErrno(): number {
  return koffi.errno();
}

/**
 * A failed Linux system call. `errno` is positive, `code` its symbolic name, `syscall` what was being
 * done (e.g. `"setns /run/netns/cn-a"`). The message reads `"<syscall>: <CODE> (<description>)"`.
 */
export class SyscallError extends Error {
  /** Symbolic errno name, e.g. `"EEXIST"`. */
  readonly code: string;

  constructor(
    readonly syscall: string,
    readonly errno: number,
  ) {
    super(`${syscall}: ${errnoName(errno)} (${strerror(errno)})`);
    this.name = 'SyscallError';
    this.code = errnoName(errno);
  }
}
