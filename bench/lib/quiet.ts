// Waiting for a quiet machine: on a small shared machine other work (builds, tests) takes whole cores
// for seconds, and a throughput sample taken meanwhile measures that work, not the datapath.

import fs from 'node:fs';

function cpuTimes(): { busy: number; total: number } {
  // First line of /proc/stat: "cpu  user nice system idle iowait irq softirq steal ..." in ticks.
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = f[3] + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/** Fraction (0..1) of all CPUs' time spent busy during the next `ms` milliseconds. */
export async function cpuBusy(ms: number): Promise<number> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  return b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0;
}

/**
 * Waits until the machine's CPUs were less than `maxBusy` busy over half a second, for at most
 * `timeoutMs`; returns the last busy fraction measured (above maxBusy if it gave up waiting).
 */
export async function waitQuiet(maxBusy = 0.15, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const busy = await cpuBusy(500);
    if (busy < maxBusy || Date.now() >= deadline) return busy;
  }
}
