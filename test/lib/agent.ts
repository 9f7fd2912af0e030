// Test helper: run a real cilia-agent process with its own socket, state directory and bpffs root,
// so that tests (and several agents) can run side by side; talk to it with the CLI or the API client.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
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
  /** Runs the CLI like cli() and resolves with its stdout; rejects, naming the command and its stderr, if it exits non-zero. */
  cliOk(args: readonly string[], input?: string): Promise<string>;
  /** Sends a signal and waits for exit; returns the exit code (or -signal). */
  stop(signal?: NodeJS.Signals): Promise<number>;
  /** Starts the agent again with the same paths and flags (after stop/kill). */
  restart(): Promise<void>;
  /** Stops the agent if needed and removes its directory and bpffs root. */
  cleanup(): Promise<void>;
}

/** Options of startAgent. */
export interface StartOptions {
  /**
   * Datapath isolation for tests that create endpoints: a 2-5 character prefix used for the host
   * device (`<prefix>h`/`<prefix>n`) and endpoint veths, and this agent's own pod CIDR. See
   * test/lib/ranges.md for the prefixes and CIDRs already taken.
   */
  readonly datapath?: { readonly prefix: string; readonly podCidr: string };
  /** Extra flags. */
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** How long to wait for /v1/healthz. Default 30 s. */
  readonly readyTimeoutMs?: number;
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** Kills what runs in a netns and removes it (only names under /run/netns). */
export function removeNetns(nsPath: string): void {
  if (!nsPath.startsWith('/run/netns/')) return;
  const name = nsPath.slice('/run/netns/'.length);
  try {
    const pids = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  } catch {
    /* no such netns */
  }
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  } catch {
    /* already gone */
  }
}

/** Deletes every link whose name starts with `prefix` in the host netns. */
export function removeLinks(prefix: string): void {
  const out = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  for (const line of out.split('\n')) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    if (name?.startsWith(prefix)) {
      try {
        execFileSync('ip', ['link', 'del', name], { stdio: 'ignore' });
      } catch {
        /* gone with its peer */
      }
    }
  }
}

/** Waits until the agent's API answers /v1/healthz; throws (with its log) if it exits first or takes longer than `timeoutMs`. */
export async function waitReady(client: ApiClient, proc: ChildProcess, logs: () => string, timeoutMs: number): Promise<void> {
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
  // Every test agent gets its own datapath names and pod CIDR, even when the test does not care, so that
  // agents running side by side never share a host device or prune each other's veths.
  const dp = opts.datapath ?? { prefix: `tz${rand.slice(0, 3)}`, podCidr: `10.244.${200 + Math.floor(Math.random() * 50)}.0/24` };
  const dpArgs = dp ? [`--pod-cidr=${dp.podCidr}`, `--host-device=${dp.prefix}h`, `--host-device-peer=${dp.prefix}n`, `--endpoint-ifname-prefix=${dp.prefix}`] : [];
  const args = [`--api-socket=${socket}`, `--state-dir=${stateDir}`, `--bpf-root=${bpfRoot}`, '--log-level=debug', ...dpArgs, ...(opts.args ?? [])];
  const client = new ApiClient(socket, 60_000);
  let log = '';
  // Socket LB attaches to a cgroup and stays attached after the agent is gone; by default (the root of
  // the cgroup v2 hierarchy) it would reach every process of the machine. Test agents get it only when a
  // test asks (--enable-socket-lb=true with its own --cgroup-root, which it removes afterwards).
  const env = { CILIA_ENABLE_SOCKET_LB: 'false', ...(opts.env ?? process.env) };
  const launch = (): ChildProcess => {
    const p = spawn(process.execPath, ['--enable-source-maps', AGENT_JS, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
    async cliOk(cliArgs, input) {
      const r = await agent.cli(cliArgs, input);
      if (r.code !== 0) throw new Error(`cilia ${cliArgs.join(' ')} exited with ${r.code}: ${r.stderr}`);
      return r.stdout;
    },
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
      // Endpoint netns the agent knows about (it leaves the datapath in place when it stops, by design).
      const netns = new Set<string>();
      try {
        for (const e of await client.get<{ netnsPath: string }[]>('/v1/endpoint')) netns.add(e.netnsPath);
      } catch {
        /* the agent is not running: fall back to the persisted records */
      }
      for (const f of safeReaddir(path.join(stateDir, 'endpoints'))) {
        try {
          netns.add((JSON.parse(fs.readFileSync(path.join(stateDir, 'endpoints', f), 'utf8')) as { netnsPath: string }).netnsPath);
        } catch {
          /* ignore */
        }
      }
      await agent.stop('SIGTERM');
      for (const ns of netns) removeNetns(ns);
      if (dp) removeLinks(dp.prefix);
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
