// Statistics and output of the load-balancing benchmark: percentiles, a plain-text table, and the
// JSON file under bench/results/ with the facts of the machine the numbers came from.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from '../test/lib/agent.js';

/** The q-quantile (0..1) of `values` by linear interpolation between closest ranks; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** The median of `values` (NaN when empty). */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** `x` rounded to `digits` decimals (for tables and JSON that people read). */
export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** "min–max" of `values` with `digits` decimals, or the one value. */
export function spread(values: readonly number[], digits = 1): string {
  if (values.length === 0) return '-';
  const lo = Math.min(...values).toFixed(digits);
  const hi = Math.max(...values).toFixed(digits);
  return lo === hi ? lo : `${lo}–${hi}`;
}

/** Prints rows as a left-aligned table under a header line. */
export function printTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): void {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  console.log(line(cells[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r));
}

/** What the numbers were measured on. */
export interface MachineFacts {
  readonly date: string;
  readonly kernel: string;
  readonly cpu: string;
  readonly cpus: number;
  readonly node: string;
  readonly commit: string;
  readonly iptables: string;
  /** 1-minute load average at the start: other work on the machine skews every number. */
  readonly loadavg1: number;
}

function tryRun(file: string, args: readonly string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** Facts about this machine and checkout. */
export function machineFacts(): MachineFacts {
  return {
    date: new Date().toISOString(),
    kernel: os.release(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    node: process.version,
    commit: tryRun('git', ['-C', REPO, 'describe', '--always', '--dirty']),
    iptables: tryRun('iptables-restore', ['--version']),
    loadavg1: round(os.loadavg()[0]),
  };
}

/** Writes `bench/results/<name>.json` (`{benchmark, machine, ...data}`); returns its path. */
export function writeResults(name: string, machine: MachineFacts, data: object): string {
  const dir = path.join(REPO, 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ benchmark: name, machine, ...data }, null, 1) + '\n');
  return file;
}
