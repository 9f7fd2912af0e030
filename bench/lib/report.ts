// Output of a benchmark: a plain-text table on stdout and a JSON file under bench/results/.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from '../../test/lib/agent.js';

/** Directory the JSON results go to (`bench/results/` of the checkout). */
export const RESULTS_DIR = path.join(REPO, 'bench', 'results');

/** Prints rows as a left-aligned table with a header line. Cells are stringified as they are. */
export function printTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): void {
  const cells = [header, ...rows].map((r) => r.map((c) => String(c)));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const r of cells) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
}

/** A number rounded to `digits` decimals (for tables and JSON that people read). */
export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** What the numbers were measured on: they mean little without it. */
export interface MachineInfo {
  readonly date: string;
  readonly host: string;
  readonly kernel: string;
  readonly cpu: string;
  readonly cpus: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly commit: string;
  /** 1-minute load average when the benchmark started: other work on the machine skews results. */
  readonly loadavg1: number;
}

/** Facts about this machine and checkout. */
export function machineInfo(): MachineInfo {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['-C', REPO, 'describe', '--always', '--dirty'], { encoding: 'utf8' }).trim();
  } catch {
    /* not a git checkout */
  }
  return {
    date: new Date().toISOString(),
    host: os.hostname(),
    kernel: os.release(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    commit,
    loadavg1: round(os.loadavg()[0]),
  };
}

/** Writes `bench/results/<name>.json` with the machine facts and `data`; returns the path. */
export function writeResults(name: string, machine: MachineInfo, data: unknown): string {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ benchmark: name, machine, ...(data as object) }, null, 2) + '\n');
  return file;
}
