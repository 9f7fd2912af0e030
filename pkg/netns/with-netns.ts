// Running synchronous code inside another network namespace by switching the main thread with setns(2).
import fs from 'node:fs';
import { libc, lastErrno, SyscallError } from './libc.js';
import { netnsPath, THREAD_NETNS_PATH, type NetnsRef } from './paths.js';

/** setns(2) nstype for network namespaces. */
export const CLONE_NEWNET = 0x40000000;

const setnsFn = libc.func('int setns(int fd, int nstype)');

/**
 * Moves the calling thread into the network namespace open at `fd`.
 * @throws SyscallError (e.g. EINVAL when `fd` is not a netns file).
 */
export function setns(fd: number, what: string): void {
  if (setnsFn(fd, CLONE_NEWNET) !== 0) throw new SyscallError(`setns ${what}`, lastErrno());
}

/**
 * Opens a network namespace for setns(2) or IFLA_NET_NS_FD and returns the file descriptor,
 * which the caller closes with `fs.closeSync`. The fd is close-on-exec.
 * @throws TypeError for an invalid name; SyscallError "open netns <path>: ENOENT (…)" when it does not exist.
 */
export function openNetns(nameOrPath: string): number {
  const p = netnsPath(nameOrPath);
  try {
    return fs.openSync(p, fs.constants.O_RDONLY);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (typeof e.errno === 'number') throw new SyscallError(`open netns ${p}`, Math.abs(e.errno));
    throw err;
  }
}

/** The inode number of the calling thread's network namespace: equal inodes mean the same namespace. */
export function currentNetnsInode(): number {
  return fs.statSync(THREAD_NETNS_PATH).ino;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null &&
    typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Runs `fn` with the main thread inside network namespace `target` and returns its result. Whatever
 * happens (`fn` throws, returns a Promise), the thread is switched back to the namespace it was in before,
 * so calls nest. Sockets and files opened inside `fn` stay bound to `target` after the switch back, which
 * is how the caller keeps a handle on another namespace (a netlink socket, a /proc/sys/net file).
 *
 * `fn` must be SYNCHRONOUS. setns(2) moves one thread, and the JS main thread also runs every other
 * callback of the process: anything after an `await` would run later, in whatever namespace the thread
 * is in then, and while `fn` was suspended other callbacks would have run in `target`. So async functions
 * are refused before anything runs, and a function that returns a Promise (thenable) gets a TypeError
 * after the switch back. Node's own asynchronous I/O (fs callbacks, libuv pool threads) never sees
 * `target`; only synchronous calls made from inside `fn` do.
 *
 * @param target netns name (under /run/netns), nsfs path, or open fd (left open).
 * @throws TypeError when `fn` is async or returns a Promise; SyscallError when setns fails; whatever `fn` throws.
 *   If switching back fails the thread would be stuck in `target`: that throws a SyscallError whose
 *   message says so, and the process should not carry on.
 */
export function withNetns<T>(target: NetnsRef, fn: () => T): T {
  if (fn.constructor.name === 'AsyncFunction') {
    throw new TypeError('withNetns: fn must be synchronous (an await would resume in the wrong network namespace)');
  }
  const what = typeof target === 'number' ? `fd ${target}` : netnsPath(target);
  const origFd = fs.openSync(THREAD_NETNS_PATH, fs.constants.O_RDONLY);
  let targetFd = -1;
  try {
    targetFd = typeof target === 'number' ? target : openNetns(target);
    setns(targetFd, what);
    let result: T;
    try {
      result = fn();
    } finally {
      try {
        setns(origFd, 'back to the original network namespace (the main thread is now in the wrong one)');
      } catch (err) {
        // Carrying on here would run the whole process in `target`; surface it as loudly as we can.
        process.emitWarning(err as Error);
        // eslint-disable-next-line no-unsafe-finally
        throw err;
      }
    }
    if (isThenable(result)) {
      throw new TypeError('withNetns: fn returned a Promise; it must be synchronous (its continuation would run in the wrong network namespace)');
    }
    return result;
  } finally {
    if (typeof target !== 'number' && targetFd >= 0) fs.closeSync(targetFd);
    fs.closeSync(origFd);
  }
}

const ifNameToIndex = libc.func('unsigned int if_nametoindex(const char *ifname)');

/** The ifindex of device `name` (inside `netns` when given). Throws when there is no such device. */
export function ifindexOf(name: string, netns?: NetnsRef): number {
  const lookup = (): number => ifNameToIndex(name) as number;
  const idx = netns === undefined ? lookup() : withNetns(netns, lookup);
  if (idx === 0) throw new Error(`no network device named ${name}${netns === undefined ? '' : ` in netns ${String(netns)}`}`);
  return idx;
}
