// Connect + first-byte measurements of the load-balancing benchmark: the one-byte TCP servers on the
// backends and the sequential client (bench/lib/lb_connect.py), each run inside a pod's network
// namespace and, for socket LB, inside the cgroup the agent attached bpf_sock.o to.

import { type ChildProcess, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { REPO } from '../test/lib/agent.js';
import { percentile } from './lib/stats.js';

const SCRIPT = path.join(REPO, 'bench', 'lib', 'lb_connect.py');

/** Where a process runs: a network namespace (name under /run/netns) and optionally a cgroup v2 directory. */
export interface Placement {
  readonly netns: string;
  /** Join this cgroup first (before entering the netns), e.g. to be under socket LB. */
  readonly cgroup?: string;
}

/**
 * Clients run on CPU 0 and servers on CPU 1 (when there are two): left to the scheduler, a client and
 * its server sometimes share a CPU and sometimes not, and the connect rate of one run differs from the
 * next by up to 2× for that alone.
 */
const CPU = { client: '0', server: os.cpus().length > 1 ? '1' : '0' };

function spawnPlaced(where: Placement, args: readonly string[]): ChildProcess {
  const cpu = args[0] === 'serve' ? CPU.server : CPU.client;
  const command = ['nsenter', `--net=/run/netns/${where.netns}`, 'taskset', '-c', cpu, 'python3', SCRIPT, ...args];
  if (where.cgroup === undefined) return spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  return spawn('sh', ['-c', 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"', 'sh', where.cgroup, ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Starts the one-byte server on 0.0.0.0:`port` in `where` and resolves once it listens. It answers
 * every connection with `byte` (one character naming the backend) and closes it.
 * @throws Error if it exits or is not listening within 10 s.
 */
export function startServer(where: Placement, port: number, byte: string): Promise<ChildProcess> {
  const p = spawnPlaced(where, ['serve', String(port), byte]);
  let stderr = '';
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`server in ${where.netns} not ready after 10 s: ${stderr}`));
    }, 10_000);
    p.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server in ${where.netns} exited (${code}): ${stderr}`));
    });
    readline.createInterface({ input: p.stdout! }).once('line', () => {
      clearTimeout(timer);
      resolve(p);
    });
  });
}

/** One connect run: `count` sequential connections after `warmup` unmeasured ones. */
export interface ConnectResult {
  readonly count: number;
  readonly errors: number;
  readonly firstError?: string;
  /** connect() until the first byte arrived, µs. */
  readonly p50Us: number;
  readonly p99Us: number;
  /** Connections per second: COUNT / wall time of the loop (socket, connect, first byte, close). */
  readonly perSecond: number;
  /**
   * Median time of one loop iteration (socket() until close() returned), µs. 1e6 / this is the rate
   * without stalls: unlike the wall rate, a few connections delayed by other work on the machine
   * (preemption costs ~10 ms on a busy 2-core machine) barely move it.
   */
  readonly loopP50Us: number;
  /** Connections each backend answered, by the byte it answers with. */
  readonly answers: Readonly<Record<string, number>>;
}

/**
 * Runs the client in `where`: `count` connections to host:port, one after the other.
 * @throws Error if the client fails or every connection failed.
 */
export function measureConnect(where: Placement, host: string, port: number, count: number, warmup: number): Promise<ConnectResult> {
  const p = spawnPlaced(where, ['connect', host, String(port), String(count), String(warmup)]);
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`client in ${where.netns} → ${host}:${port} exited ${code}: ${stderr}`));
      const out = JSON.parse(stdout) as { latencyNs: number[]; loopNs: number[]; elapsedNs: number; errors: number; firstError: string | null; answers: Record<string, number> };
      if (out.latencyNs.length === 0) return reject(new Error(`every connection to ${host}:${port} from ${where.netns} failed: ${out.firstError}`));
      const us = out.latencyNs.map((ns) => ns / 1000);
      resolve({
        count,
        errors: out.errors,
        ...(out.firstError ? { firstError: out.firstError } : {}),
        p50Us: percentile(us, 50),
        p99Us: percentile(us, 99),
        perSecond: count / (out.elapsedNs / 1e9),
        loopP50Us: percentile(out.loopNs, 50) / 1000,
        answers: out.answers,
      });
    });
  });
}
