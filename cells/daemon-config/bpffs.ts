// Makes sure the agent's bpffs root exists on a mounted bpffs.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { Logger } from '../../pkg/hive/index.js';

/** True when `dir` (or its closest existing ancestor) sits on a bpf filesystem. */
function onBpffs(dir: string): boolean {
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')).filter((f) => f[2] === 'bpf').map((f) => f[1]);
  return mounts.some((m) => dir === m || dir.startsWith(m.endsWith('/') ? m : m + '/'));
}

/** Mounts bpffs at /sys/fs/bpf when `bpfRoot` is not on one, then creates `bpfRoot`. */
export function ensureBpffsFor(bpfRoot: string, log: Logger): void {
  if (!onBpffs(bpfRoot)) {
    if (!bpfRoot.startsWith('/sys/fs/bpf')) throw new Error(`--bpf-root ${bpfRoot} is not on a bpf filesystem`);
    log.info('mounting bpffs', { path: '/sys/fs/bpf' });
    execFileSync('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
  }
  fs.mkdirSync(bpfRoot, { recursive: true, mode: 0o700 });
}
