// Owns running a synchronous piece of code inside another network namespace (setns on this thread),
// which libbpf's tc functions need: they resolve ifindexes and open netlink sockets in the caller's namespace.
import fs from 'node:fs';
import koffi from 'koffi';
import { isMainThread } from 'node:worker_threads';
import { BpfError, libc } from './libbpf.js';

const CLONE_NEWNET = 0x40000000;

/** The file of a network namespace: a path as given, or a name resolved under /run/netns (as `ip netns` does). */
export function netnsPath(netns: string): string {
  return netns.includes('/') ? netns : `/run/netns/${netns}`;
}

/**
 * Runs `fn` with this thread switched into network namespace `netns` (a name under /run/netns or a path such
 * as /proc/<pid>/ns/net) and switches back before returning, also when `fn` throws. `fn` must be
 * synchronous: while it runs, no other JS may run on this thread in the wrong namespace.
 * Throws BpfError "setns(<path>)" if the namespace cannot be entered (ENOENT: no such namespace).
 */
export function withNetns<T>(netns: string, fn: () => T): T {
  // Node's libuv pool threads stay in the original namespace; only this thread moves, and moves back.
  if (!isMainThread) throw new Error('withNetns: only on the main thread');
  const target = netnsPath(netns);
  const c = libc();
  let targetFd: number;
  try {
    targetFd = fs.openSync(target, 'r');
  } catch (e) {
    throw new BpfError(`setns(${target})`, Math.abs((e as NodeJS.ErrnoException).errno ?? 2));
  }
  const origFd = fs.openSync('/proc/thread-self/ns/net', 'r');
  try {
    if (c.setns(targetFd, CLONE_NEWNET) !== 0) throw new BpfError(`setns(${target})`, koffi.errno());
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: fn() };
    } catch (error) {
      outcome = { ok: false, error };
    }
    if (c.setns(origFd, CLONE_NEWNET) !== 0) {
      // Staying in the wrong namespace would silently misdirect everything afterwards.
      throw new BpfError('setns(back to the original netns)', koffi.errno(), 'the process is in an unknown state');
    }
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  } finally {
    fs.closeSync(origFd);
    fs.closeSync(targetFd);
  }
}

/** The ifindex of device `name` (in `netns` if given). Throws Error when there is no such device. */
export function ifindexOf(name: string, netns?: string): number {
  const lookup = (): number => libc().if_nametoindex(name);
  const idx = netns ? withNetns(netns, lookup) : lookup();
  if (idx === 0) throw new Error(`no network device named ${name}${netns ? ` in netns ${netns}` : ''}`);
  return idx;
}
