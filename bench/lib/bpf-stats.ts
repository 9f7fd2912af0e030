// Run time of BPF programs, from the kernel's own accounting (kernel.bpf_stats_enabled): how many times
// a program ran and the nanoseconds it took, read with bpftool. The sysctl is machine-wide and costs
// every program a little, so a benchmark turns it on only around a diagnostic run, never while it
// measures throughput.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';

/** One program's runs during a measured call. */
export interface ProgramRuns {
  readonly id: number;
  readonly name: string;
  readonly runs: number;
  /** Average nanoseconds per run (0 when it did not run). */
  readonly avgNs: number;
}

function snapshot(ids: ReadonlySet<number>): Map<number, { name: string; runs: number; ns: number }> {
  const all = JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8', maxBuffer: 64 << 20 })) as { id: number; name?: string; run_cnt?: number; run_time_ns?: number }[];
  const out = new Map<number, { name: string; runs: number; ns: number }>();
  for (const p of all) if (ids.has(p.id)) out.set(p.id, { name: p.name ?? '', runs: p.run_cnt ?? 0, ns: p.run_time_ns ?? 0 });
  return out;
}

/**
 * Calls `fn` with kernel.bpf_stats_enabled=1 and returns its result with the runs of programs `ids`
 * during the call. Restores the sysctl's previous value, also when `fn` throws.
 */
export async function withBpfStats<T>(ids: readonly number[], fn: () => Promise<T>): Promise<{ result: T; programs: ProgramRuns[] }> {
  const previous = fs.readFileSync(SYSCTL, 'utf8').trim();
  fs.writeFileSync(SYSCTL, '1');
  try {
    const set = new Set(ids);
    const before = snapshot(set);
    const result = await fn();
    const after = snapshot(set);
    const programs = [...after].map(([id, a]) => {
      const b = before.get(id) ?? { runs: 0, ns: 0 };
      const runs = a.runs - b.runs;
      return { id, name: a.name, runs, avgNs: runs > 0 ? Math.round((a.ns - b.ns) / runs) : 0 };
    });
    return { result, programs };
  } finally {
    fs.writeFileSync(SYSCTL, previous);
  }
}

/** Ids of the programs attached to tc `direction` of a device (`tc filter show`), in netns `netns` or the host's. */
export function tcProgramIds(dev: string, direction: 'ingress' | 'egress', netns?: string): number[] {
  const argv = ['tc', 'filter', 'show', 'dev', dev, direction];
  const out = execFileSync(netns ? 'ip' : argv[0], netns ? ['netns', 'exec', netns, ...argv] : argv.slice(1), { encoding: 'utf8' });
  return [...out.matchAll(/\bid (\d+)/g)].map((m) => Number(m[1]));
}
