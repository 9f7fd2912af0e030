// Test helper: run a real cilia-agent process with its own socket, state directory and bpffs root,
// so that tests (and several agents) can run side by side; talk to it with the CLI or the API client.

import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../../pkg/api/index.js';

/** dist/ root of the build this test runs from. */
export const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Repository root. */
export const REPO = path.resolve(DIST, '..');
export const AGENT_JS = path.join(DIST, 'daemon/agent.js');
export const CLI_JS = path.join(DIST, 'daemon/cli.js');

/** Output of a finished command. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a node script to completion (stdin optional). */
export function runNode(script: string, args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [script, ...args], { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    p.stdin.end(opts.input ?? '');
  });
}

/** A running agent. */
export interface TestAgent {
  readonly name: string;
  readonly dir: string;
  readonly socket: string;
  readonly stateDir: string;
  readonly bpfRoot: string;
  readonly args: readonly string[];
  readonly client: ApiClient;
  proc: ChildProcess;
  /** Everything the agent wrote to stderr (its JSON log) so far. */
  logs(): string;
  /** Runs `cilia --socket <this agent> ...args`. */
  cli(args: readonly string[], input?: string): Promise<RunResult>;
  /** Sends a signal and waits for exit; returns the exit code (or -signal). */
  stop(signal?: NodeJS.Signals): Promise<number>;
  /** Starts the agent again with the same paths and flags (after stop/kill). */
  restart(): Promise<void>;
  /** Stops the agent if needed and removes its directory and bpffs root. */
  cleanup(): Promise<void>;
}

/** Options of startAgent. */
export interface StartOptions {
  /** Extra flags. */
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** How long to wait for /v1/healthz. Default 30 s. */
  readonly readyTimeoutMs?: number;
}

async function waitReady(client: ApiClient, proc: ChildProcess, logs: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`agent exited with ${proc.exitCode} before it was ready:\n${logs()}`);
    try {
      await client.get('/v1/healthz');
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`agent not ready after ${timeoutMs} ms:\n${logs()}`);
}

/**
 * Starts cilia-agent with a private socket, state dir and bpffs root (`/sys/fs/bpf/cilia-test-<name>-<rand>`)
 * and waits until its API answers. Always call cleanup() (in `after`/`finally`).
 */
export async function startAgent(name: string, opts: StartOptions = {}): Promise<TestAgent> {
  const rand = Math.random().toString(36).slice(2, 8);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cilia-test-${name}-`));
  const socket = path.join(dir, 'cilia.sock');
  const stateDir = path.join(dir, 'state');
  const bpfRoot = `/sys/fs/bpf/cilia-test-${name}-${rand}`;
  const args = [`--api-socket=${socket}`, `--state-dir=${stateDir}`, `--bpf-root=${bpfRoot}`, '--log-level=debug', ...(opts.args ?? [])];
  const client = new ApiClient(socket, 60_000);
  let log = '';
  const launch = (): ChildProcess => {
    const p = spawn(process.execPath, ['--enable-source-maps', AGENT_JS, ...args], { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (d: Buffer) => (log += d.toString()));
    p.stderr.on('data', (d: Buffer) => (log += d.toString()));
    return p;
  };
  const agent: TestAgent = {
    name,
    dir,
    socket,
    stateDir,
    bpfRoot,
    args,
    client,
    proc: launch(),
    logs: () => log,
    cli: (cliArgs, input) => runNode(CLI_JS, ['--socket', socket, ...cliArgs], { input }),
    async stop(signal = 'SIGTERM') {
      const p = agent.proc;
      if (p.exitCode !== null || p.signalCode !== null) return p.exitCode ?? -1;
      const done = new Promise<number>((resolve) => p.once('exit', (code, sig) => resolve(code ?? (sig ? -1 : 0))));
      p.kill(signal);
      return done;
    },
    async restart() {
      agent.proc = launch();
      await waitReady(client, agent.proc, () => log, opts.readyTimeoutMs ?? 30_000);
    },
    async cleanup() {
      await agent.stop('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(bpfRoot, { recursive: true, force: true });
    },
  };
  try {
    await waitReady(client, agent.proc, () => log, opts.readyTimeoutMs ?? 30_000);
  } catch (err) {
    await agent.cleanup();
    throw err;
  }
  return agent;
}
