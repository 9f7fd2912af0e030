// Kernel parameters under /proc/sys (sysctl), read and written from inside a chosen network namespace.
import fs from 'node:fs';
import { withNetns } from '../netns/with-netns.js';
import type { NetnsRef } from '../netns/paths.js';

/**
 * The /proc/sys file of a sysctl key. Dots separate components (`net.ipv4.ip_forward`); when the key
 * contains a `/` it is taken as already slash-separated, so a component may hold a dot
 * (`net/ipv4/conf/eth0.100/forwarding`), as sysctl(8) does.
 * @throws TypeError for an empty key or one with an empty, `.` or `..` component.
 */
export function sysctlPath(key: string): string {
  const parts = key.includes('/') ? key.split('/') : key.split('.');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) throw new TypeError(`bad sysctl key ${JSON.stringify(key)}`);
  return `/proc/sys/${parts.join('/')}`;
}

/** Options of getSysctl / setSysctl. */
export interface SysctlOptions {
  /** Network namespace to act in (name, path or fd); default: the calling thread's. */
  readonly netns?: NetnsRef;
}

// /proc/sys/net resolves to the netns of the thread that opens the file, so the open (and, for
// simplicity, the whole read or write) happens inside withNetns.
function inNetns<T>(opts: SysctlOptions, fn: () => T): T {
  return opts.netns === undefined ? fn() : withNetns(opts.netns, fn);
}

/**
 * Reads a sysctl, trimmed (`getSysctl('net.ipv4.ip_forward')` → `"0"`).
 * @throws TypeError for a bad key; Node's ENOENT error for an unknown key.
 */
export function getSysctl(key: string, opts: SysctlOptions = {}): string {
  const file = sysctlPath(key);
  return inNetns(opts, () => fs.readFileSync(file, 'utf8').trim());
}

/**
 * Writes a sysctl (`setSysctl('net.ipv4.conf.all.forwarding', '1', { netns: 'cn-node' })`).
 * @throws TypeError for a bad key; Node's errors for an unknown key (ENOENT) or a refused value (EINVAL).
 */
export function setSysctl(key: string, value: string, opts: SysctlOptions = {}): void {
  const file = sysctlPath(key);
  inNetns(opts, () => fs.writeFileSync(file, value));
}
