// The error a failed netlink request turns into.
import { errnoName, strerror } from '../netns/libc.js';

/**
 * A netlink request the kernel refused (or that could not be exchanged). `errno` is positive, `code` its
 * name, `op` what was asked (e.g. `"RTM_NEWLINK veth lxc12ab"`), `extack` the kernel's own explanation
 * when it gave one. The message reads `"RTM_NEWLINK veth lxc12ab: EEXIST (File exists)"`, followed by
 * `" - <extack>"` when there is one.
 */
export class NetlinkError extends Error {
  /** Symbolic errno name, e.g. `"EEXIST"`. */
  readonly code: string;

  constructor(
    readonly op: string,
    readonly errno: number,
    readonly extack?: string,
  ) {
    super(`${op}: ${errnoName(errno)} (${strerror(errno)})${extack ? ` - ${extack}` : ''}`);
    this.name = 'NetlinkError';
    this.code = errnoName(errno);
  }
}

/** errno values that callers of this package test for. */
export const Errno = {
  ENOENT: 2,
  ESRCH: 3,
  EAGAIN: 11,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ERANGE: 34,
  EADDRNOTAVAIL: 99,
} as const;
