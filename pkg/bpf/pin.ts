// Owns bpffs and file-descriptor plumbing: mounting bpffs, pinning and unpinning objects, removing
// pin directories, duplicating and closing fds, and the possible-CPU count per-CPU maps are sized by.
import fs from 'node:fs';
import path from 'node:path';
import koffi from 'koffi';
import { BpfError, check } from './errors.js';
import { libbpf, libc } from './libbpf.js';

/** statfs f_type of bpffs. */
export const BPF_FS_MAGIC = 0xcafe4a11;
const F_DUPFD_CLOEXEC = 1030;

/** True when `p` exists and lies on a bpffs mount. */
export function isOnBpffs(p: string): boolean {
  try {
    return fs.statfsSync(p).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

/**
 * Makes sure a bpffs is mounted at `mountpoint` (default /sys/fs/bpf): creates the directory and
 * mounts type "bpf" if needed; no-op when one is there. Throws BpfError "mount(bpf, <path>)" on failure.
 */
export function ensureBpffs(mountpoint = '/sys/fs/bpf'): void {
  if (isOnBpffs(mountpoint)) return;
  fs.mkdirSync(mountpoint, { recursive: true });
  if (libc().mount('bpf', mountpoint, 'bpf', 0, null) !== 0) throw new BpfError(`mount(bpf, ${mountpoint})`, koffi.errno());
}

/**
 * Pins the BPF object behind `fd` at `pinPath` (creating parent directories). The pin keeps the
 * object alive after every fd is closed. Throws BpfError "bpf_obj_pin(<path>)": EEXIST if something
 * is pinned there already, ENOENT/EPERM when the path is not on bpffs.
 */
export function pinFd(fd: number, pinPath: string): void {
  fs.mkdirSync(path.dirname(pinPath), { recursive: true });
  check(`bpf_obj_pin(${pinPath})`, libbpf().bpf_obj_pin(fd, pinPath));
}

/** Opens the object pinned at `pinPath` and returns a new fd (close it). Throws BpfError "bpf_obj_get(<path>)" (ENOENT if absent). */
export function getPinned(pinPath: string): number {
  return check(`bpf_obj_get(${pinPath})`, libbpf().bpf_obj_get(pinPath));
}

/** True if something is pinned (or any file exists) at `pinPath`. */
export function isPinned(pinPath: string): boolean {
  return fs.existsSync(pinPath);
}

/** Removes the pin at `pinPath`. Returns false if there was none. The object lives on while fds or attachments hold it. */
export function unpin(pinPath: string): boolean {
  try {
    fs.unlinkSync(pinPath);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/**
 * Removes a directory of pins recursively (missing is fine). For safety it refuses paths that are not on
 * bpffs and the bpffs mount root itself. Throws Error for a refused path, the fs error otherwise.
 */
export function removePinDir(dir: string): void {
  if (!fs.existsSync(dir)) return;
  const abs = path.resolve(dir);
  if (!isOnBpffs(abs)) throw new Error(`removePinDir(${abs}): not on a bpffs mount, refusing to delete`);
  if (!isOnBpffs(path.dirname(abs)) || fs.statSync(abs).dev !== fs.statSync(path.dirname(abs)).dev) {
    throw new Error(`removePinDir(${abs}): this is a bpffs mount root, refusing to delete`);
  }
  fs.rmSync(abs, { recursive: true, force: true });
}

/** Duplicates `fd` (close-on-exec). Throws BpfError "fcntl(F_DUPFD_CLOEXEC, fd N)". */
export function dupFd(fd: number): number {
  const nfd = libc().fcntl(fd, F_DUPFD_CLOEXEC, 'int', 0);
  if (nfd < 0) throw new BpfError(`fcntl(F_DUPFD_CLOEXEC, fd ${fd})`, koffi.errno());
  return nfd;
}

/** Closes `fd`, ignoring EBADF (already closed). */
export function closeFd(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EBADF') throw e;
  }
}

let possibleCpus: number | undefined;
/**
 * Number of possible CPUs (/sys/devices/system/cpu/possible), which sizes per-CPU map values — not
 * the online count. Cached. Throws BpfError "libbpf_num_possible_cpus" if it cannot be read.
 */
export function numPossibleCpus(): number {
  possibleCpus ??= check('libbpf_num_possible_cpus', libbpf().libbpf_num_possible_cpus());
  return possibleCpus;
}
