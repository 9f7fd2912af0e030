// How busy the machine's CPUs are, from /proc/stat, and waiting until they are quiet: on a 2-core
// machine shared with other benchmarks, a measurement taken while something else runs says more about
// that something than about us.

import fs from 'node:fs';

interface CpuTicks {
  readonly busy: number;
  readonly total: number;
}

function readTicks(): CpuTicks {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = fields[3] + (fields[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/** The fraction (0..1) of all CPUs' time spent busy during the next `windowMs`. */
export async function cpuBusy(windowMs = 300): Promise<number> {
  const a = readTicks();
  await new Promise((r) => setTimeout(r, windowMs));
  const b = readTicks();
  return b.total === a.total ? 0 : (b.busy - a.busy) / (b.total - a.total);
}

/**
 * Waits until the CPUs were busy less than `maxBusy` over a 300 ms window, for at most `maxWaitMs`;
 * resolves with the last busy fraction seen (above `maxBusy` if it gave up waiting).
 */
export async function waitQuiet(maxBusy: number, maxWaitMs: number): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  let busy = await cpuBusy();
  while (busy >= maxBusy && Date.now() < deadline) busy = await cpuBusy();
  return busy;
}

/** CPU time (user + system) process `pid` has used so far, ms (USER_HZ = 100). */
export function processCpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after its closing ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}
