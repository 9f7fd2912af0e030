// Test-only helpers for pkg/bpf's privileged tests: paths of the test BPF objects, and scratch bpffs
// directories, network namespaces and cgroups that follow this package's isolation rules (names start with
// cb- / cilia-test-cb-, addresses inside 10.244.251.0/24). Not exported from index.ts.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { removeCgroup } from './cgroup.js';
import { removePinDir } from './pin.js';

/** A short random id that keeps parallel test runs apart. */
export function uniqueId(): string {
  return `${process.pid.toString(36)}${crypto.randomBytes(2).toString('hex')}`;
}

/** Absolute path of bpf/test/<name>.o; throws with a hint when it has not been built. */
export function testObject(name: string): string {
  const p = fileURLToPath(new URL(`../../../bpf/test/${name}.o`, import.meta.url));
  if (!fs.existsSync(p)) throw new Error(`${p} is missing: build the test objects with "make -C bpf"`);
  return p;
}

/** Runs a command and returns its stdout; throws with stderr on failure. */
export function run(cmd: string, args: readonly string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A fresh bpffs directory /sys/fs/bpf/cilia-test-cb-<id>; `remove()` deletes it with everything pinned in it. */
export function scratchPinRoot(): { path: string; remove(): void } {
  const path = `/sys/fs/bpf/cilia-test-cb-${uniqueId()}`;
  fs.mkdirSync(path);
  return { path, remove: () => removePinDir(path) };
}

/** A fresh child cgroup /sys/fs/cgroup/unified/cilia-test-cb-<id>; `remove()` deletes it (processes must have left). */
export function scratchCgroup(): { path: string; remove(): void } {
  const path = `/sys/fs/cgroup/unified/cilia-test-cb-${uniqueId()}`;
  fs.mkdirSync(path);
  return { path, remove: () => removeCgroup(path) };
}

/** A network namespace cb-<id>-<suffix> with lo up; `remove()` deletes it. */
export function scratchNetns(suffix: string): { name: string; remove(): void } {
  const name = `cb-${uniqueId()}-${suffix}`;
  run('ip', ['netns', 'add', name]);
  run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return { name, remove: () => { try { run('ip', ['netns', 'del', name]); } catch { /* already gone */ } } };
}

/**
 * Two namespaces joined by a veth pair: `a.dev` (10.244.251.<base+1>/30) in `a.ns`, `b.dev` (<base+2>) in
 * `b.ns`. `remove()` deletes both namespaces, and with them the veth.
 */
export function scratchVethPair(base = 0): {
  a: { ns: string; dev: string; ip: string }; b: { ns: string; dev: string; ip: string }; remove(): void;
} {
  const nsA = scratchNetns('a');
  let nsB: { name: string; remove(): void } | undefined;
  try {
    nsB = scratchNetns('b');
    const id = uniqueId();
    const devA = `cb${id}a`.slice(0, 15);
    const devB = `cb${id}b`.slice(0, 15);
    const ipA = `10.244.251.${base + 1}`;
    const ipB = `10.244.251.${base + 2}`;
    run('ip', ['-n', nsA.name, 'link', 'add', devA, 'type', 'veth', 'peer', 'name', devB, 'netns', nsB.name]);
    run('ip', ['-n', nsA.name, 'addr', 'add', `${ipA}/30`, 'dev', devA]);
    run('ip', ['-n', nsB.name, 'addr', 'add', `${ipB}/30`, 'dev', devB]);
    run('ip', ['-n', nsA.name, 'link', 'set', devA, 'up']);
    run('ip', ['-n', nsB.name, 'link', 'set', devB, 'up']);
    const b = nsB;
    return {
      a: { ns: nsA.name, dev: devA, ip: ipA }, b: { ns: nsB.name, dev: devB, ip: ipB },
      remove: () => { b.remove(); nsA.remove(); },
    };
  } catch (e) {
    nsB?.remove();
    nsA.remove();
    throw e;
  }
}
