// Network namespaces for benchmarks, created in bulk the way a container runtime would (before CNI ADD).
// Every name must start with the benchmarks' prefix `bn` (test/lib/ranges.md), so a benchmark can
// never delete someone else's namespace.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { removeNetns } from '../../test/lib/agent.js';

/** Name prefix of everything the benchmarks create. */
export const PREFIX = 'bn';

function checkName(name: string): void {
  if (!name.startsWith(PREFIX)) throw new Error(`benchmark netns ${JSON.stringify(name)} must start with ${PREFIX}`);
}

/** Runs `ip -batch -` with one command per line; throws with ip's stderr on failure. */
export function ipBatch(lines: readonly string[]): void {
  if (lines.length) execFileSync('ip', ['-batch', '-'], { input: lines.join('\n') + '\n', stdio: ['pipe', 'ignore', 'pipe'] });
}

/** Creates named network namespaces (one `ip -batch` for all). Throws if a name lacks the prefix or exists. */
export function addNetns(names: readonly string[]): void {
  names.forEach(checkName);
  ipBatch(names.map((n) => `netns add ${n}`));
}

/**
 * Removes the namespaces; missing ones are ignored. With `kill`, first kills what runs in each (one
 * `ip netns pids` per name: slow for thousands), else deletes them all in one `ip -force -batch`.
 */
export function delNetns(names: readonly string[], opts: { kill?: boolean } = {}): void {
  names.forEach(checkName);
  if (opts.kill) {
    for (const n of names) if (fs.existsSync(`/run/netns/${n}`)) removeNetns(`/run/netns/${n}`);
    return;
  }
  try {
    execFileSync('ip', ['-force', '-batch', '-'], { input: names.map((n) => `netns del ${n}`).join('\n') + '\n', stdio: ['pipe', 'ignore', 'ignore'] });
  } catch {
    /* -force went on past names that were already gone; its status reports them */
  }
}

/** Runs a command inside a namespace and returns its stdout; throws with stderr on failure. */
export function inNetns(name: string, argv: readonly string[], timeoutMs = 60_000): string {
  return execFileSync('ip', ['netns', 'exec', name, ...argv], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
}
