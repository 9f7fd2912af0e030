// Running a program to completion and timing it, as a container runtime runs a CNI plugin.

import { spawn } from 'node:child_process';
import { msBetween } from './stats.js';

/** A finished program: its exit status, output, and wall time from spawn to exit. */
export interface TimedRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** process.hrtime.bigint() just before spawn and when the process closed its output and exited. */
  readonly startNs: bigint;
  readonly endNs: bigint;
  readonly ms: number;
}

/**
 * Spawns `argv` with `env`, writes `input` to its stdin, waits for it to exit. Never rejects for a
 * non-zero exit (the caller checks `code`); rejects if it cannot be spawned or runs past `timeoutMs`.
 */
export function timedRun(argv: readonly string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const startNs = process.hrtime.bigint();
    const p = spawn(argv[0], argv.slice(1), { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')} ran longer than ${opts.timeoutMs} ms`));
    }, opts.timeoutMs ?? 60_000);
    p.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    p.on('close', (code) => {
      const endNs = process.hrtime.bigint();
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, startNs, endNs, ms: msBetween(startNs, endNs) });
    });
    p.stdin.end(opts.input ?? '');
  });
}
