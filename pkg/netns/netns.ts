// Named network namespaces under /run/netns, created and removed the way `ip netns add/del` does it,
// so that iproute2 (`ip netns list`, `ip -n NAME`, `ip netns exec`) sees them.
import fs from 'node:fs';
import { libc, lastErrno, SyscallError } from './libc.js';
import { NETNS_RUN_DIR, netnsPath, THREAD_NETNS_PATH, validateNetnsName } from './paths.js';
import { CLONE_NEWNET, setns } from './with-netns.js';

const unshareFn = libc.func('int unshare(int flags)');
const mountFn = libc.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const void *data)');
const umount2Fn = libc.func('int umount2(const char *target, int flags)');

const MS_BIND = 0x1000;
const MS_REC = 0x4000;
const MS_SHARED = 1 << 20;
const MNT_DETACH = 2;
const EINVAL = 22;
const ENOENT = 2;
const EEXIST = 17;
/** statfs f_type of nsfs ("nsfs" in ASCII), the filesystem of /proc/<pid>/ns/* and of their bind mounts. */
const NSFS_MAGIC = 0x6e736673;

let runDirShared = false;

/**
 * Makes /run/netns exist and be a shared mount point, as iproute2 does, so that a netns bind mount made
 * (or removed) here propagates to mount namespaces that are slaves of ours (e.g. `ip netns exec` shells).
 * Done once per process.
 */
function ensureSharedRunDir(): void {
  if (runDirShared) return;
  fs.mkdirSync(NETNS_RUN_DIR, { recursive: true, mode: 0o755 });
  let madeMountPoint = false;
  while (mountFn('', NETNS_RUN_DIR, 'none', MS_SHARED | MS_REC, null) !== 0) {
    const errno = lastErrno();
    // EINVAL: not a mount point yet. Bind it onto itself once, then retry making it shared.
    if (errno !== EINVAL || madeMountPoint) throw new SyscallError(`mount --make-shared ${NETNS_RUN_DIR}`, errno);
    if (mountFn(NETNS_RUN_DIR, NETNS_RUN_DIR, 'none', MS_BIND | MS_REC, null) !== 0) {
      throw new SyscallError(`mount --bind ${NETNS_RUN_DIR} ${NETNS_RUN_DIR}`, lastErrno());
    }
    madeMountPoint = true;
  }
  runDirShared = true;
}

/**
 * Creates a new, empty network namespace named `name` (like `ip netns add`): /run/netns/<name> becomes a
 * bind mount of it, which keeps it alive without any process inside. The main thread enters the new
 * namespace with unshare(2) only for the mount and is back in its original namespace before this returns,
 * also on error. Its loopback device is down, as after `ip netns add`.
 * @throws TypeError for an invalid name; SyscallError EEXIST when the name is taken, or when a syscall fails.
 */
export function createNetns(name: string): void {
  validateNetnsName(name);
  ensureSharedRunDir();
  const file = netnsPath(name);
  try {
    fs.closeSync(fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new SyscallError(`createNetns ${name}`, EEXIST);
    throw err;
  }
  const origFd = fs.openSync(THREAD_NETNS_PATH, fs.constants.O_RDONLY);
  let mounted = false;
  try {
    if (unshareFn(CLONE_NEWNET) !== 0) throw new SyscallError('unshare CLONE_NEWNET', lastErrno());
    try {
      if (mountFn(THREAD_NETNS_PATH, file, 'none', MS_BIND, null) !== 0) {
        throw new SyscallError(`mount --bind ${THREAD_NETNS_PATH} ${file}`, lastErrno());
      }
      mounted = true;
    } finally {
      setns(origFd, 'back to the original network namespace (the main thread is now in the wrong one)');
    }
  } finally {
    fs.closeSync(origFd);
    if (!mounted) fs.rmSync(file, { force: true });
  }
}

/**
 * Removes the name of network namespace `name` (like `ip netns del`): detaches the bind mount and deletes
 * the file. The namespace itself goes away once nothing else (a process, an open fd, a socket) holds it;
 * the kernel tears it down asynchronously. A missing name is not an error.
 * @returns true when there was something to remove.
 * @throws TypeError for an invalid name; SyscallError when unmounting fails for another reason than "not mounted".
 */
export function deleteNetns(name: string): boolean {
  const file = netnsPath(name);
  let existed = false;
  if (umount2Fn(file, MNT_DETACH) === 0) {
    existed = true;
  } else {
    const errno = lastErrno();
    // EINVAL: a file that is not a mount point (e.g. a placeholder left by a failed create).
    if (errno !== EINVAL && errno !== ENOENT) throw new SyscallError(`umount2 ${file}`, errno);
  }
  try {
    fs.unlinkSync(file);
    existed = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return existed;
}

/**
 * Whether `nameOrPath` is a live network namespace file: it exists and is an nsfs mount (an empty
 * placeholder under /run/netns is not).
 * @throws TypeError for an invalid name.
 */
export function netnsExists(nameOrPath: string): boolean {
  try {
    return fs.statfsSync(netnsPath(nameOrPath)).type === NSFS_MAGIC;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** The names under /run/netns (like `ip netns list`, without ids), sorted. */
export function listNetns(): string[] {
  try {
    return fs.readdirSync(NETNS_RUN_DIR).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
