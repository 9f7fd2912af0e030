// Test-only helpers for the kernel-facing tests of pkg/netlink: scratch network namespaces and iproute2 JSON.
import { execFileSync } from 'node:child_process';
import { createNetns, deleteNetns } from '../netns/netns.js';

/**
 * Scratch network namespaces named `cn-<tag><pid>-<suffix>`, so parallel test processes never collide.
 * `cleanup()` (call it from `after`) deletes every one made; devices inside go with them.
 */
export class ScratchNetns {
  private readonly made: string[] = [];

  constructor(private readonly tag: string) {}

  /** Creates a namespace and returns its name. */
  create(suffix: string): string {
    const name = `cn-${this.tag}${process.pid}-${suffix}`;
    deleteNetns(name); // a leftover of a crashed earlier run with the same pid
    createNetns(name);
    this.made.push(name);
    return name;
  }

  /** Deletes every namespace this instance created. */
  cleanup(): void {
    for (const name of this.made.splice(0)) deleteNetns(name);
  }
}

/** Runs `ip -j <args>` and parses its JSON output. */
export function ipJson<T = unknown>(...args: string[]): T {
  return JSON.parse(execFileSync('ip', ['-j', ...args], { encoding: 'utf8' }) || '[]') as T;
}

/** Runs `ip <args>` and returns its output. */
export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}
