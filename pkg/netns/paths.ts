// How network namespace names map to files, as iproute2 defines it (`ip netns`).
import path from 'node:path';

/** Directory holding one bind-mounted nsfs file per named network namespace (iproute2's NETNS_RUN_DIR). */
export const NETNS_RUN_DIR = '/run/netns';

/** The network namespace of the calling thread. `thread-self`, not `self`: setns() is per thread. */
export const THREAD_NETNS_PATH = '/proc/thread-self/ns/net';

/**
 * A network namespace: a name under /run/netns (`"cn-pod1"`), a path to an nsfs file
 * (anything containing a `/`, e.g. `"/proc/123/ns/net"`), or an open file descriptor of one.
 */
export type NetnsRef = string | number;

/**
 * Checks that `name` can be a netns name: a single path component, as `ip netns add` requires.
 * @throws TypeError when it is empty, `.`/`..`, contains `/` or a NUL byte, or is longer than 255 bytes.
 */
export function validateNetnsName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0') ||
    Buffer.byteLength(name) > 255) {
    throw new TypeError(`invalid network namespace name ${JSON.stringify(name)}`);
  }
}

/**
 * The nsfs file behind a name or path: a string with a `/` is already a path, anything else is a
 * name under /run/netns.
 * @throws TypeError for an invalid name.
 */
export function netnsPath(nameOrPath: string): string {
  if (nameOrPath.includes('/')) return path.resolve(nameOrPath);
  validateNetnsName(nameOrPath);
  return path.join(NETNS_RUN_DIR, nameOrPath);
}
