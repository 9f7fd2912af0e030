// A cilia-agent for a benchmark: a real agent process isolated like test/lib/agent.ts's (own socket,
// state dir, bpffs root, host device `bnh`/`bnn`, veth prefix `bn` or another prefix, pod CIDR), but logging at info
// as in production (debug logs cost the agent time on every endpoint; the test helper always passes
// --log-level=debug) and optionally under Node flags such as --cpu-prof for profiling. Its log goes
// to a file in its directory, not into this process's memory.

import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiClient } from '../../pkg/api/index.js';
import { AGENT_JS, removeLinks, removeNetns, waitReady } from '../../test/lib/agent.js';
import { PREFIX } from './netns.js';

/** A running benchmark agent. */
export interface BenchAgent {
  readonly dir: string;
  readonly socket: string;
  readonly bpfRoot: string;
  readonly client: ApiClient;
  readonly proc: ChildProcess;
  /** The agent's pid (the node process itself, not a wrapper). */
  readonly pid: number;
  /** The agent's JSON log so far. */
  logs(): string;
  /** Stops the agent; removes its endpoints' netns, the veths with its prefix, its directory and its bpffs root. */
  cleanup(): Promise<void>;
}

/** Options of startBenchAgent. */
export interface BenchAgentOptions {
  /** Extra agent flags. */
  readonly args?: readonly string[];
  /** Node flags before the script (e.g. `--cpu-prof`, `--cpu-prof-dir=…`). */
  readonly nodeArgs?: readonly string[];
  /** Default `info`. */
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /**
   * Name prefix of the host device (`<prefix>h`/`<prefix>n`) and endpoint veths; default `bn`, the
   * endpoint benchmarks' (a benchmark with its own range in test/lib/ranges.md passes its own).
   */
  readonly prefix?: string;
}

/**
 * Starts an agent owning `podCidr` (inside the range of its prefix in test/lib/ranges.md: 10.244.100.0/22
 * for `bn`) and waits until its API answers. Only one benchmark agent per prefix can run at a time (the
 * host device names follow the prefix). Always call `cleanup()`. Throws (after cleaning up) if the agent does not become ready in 30 s.
 */
export async function startBenchAgent(name: string, podCidr: string, opts: BenchAgentOptions = {}): Promise<BenchAgent> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cilia-bench-${name}-`));
  const socket = path.join(dir, 'cilia.sock');
  const bpfRoot = `/sys/fs/bpf/cilia-bench-${name}-${path.basename(dir).slice(-6)}`;
  const logFile = path.join(dir, 'agent.log');
  const prefix = opts.prefix ?? PREFIX;
  const args = [
    `--api-socket=${socket}`,
    `--state-dir=${path.join(dir, 'state')}`,
    `--bpf-root=${bpfRoot}`,
    `--log-level=${opts.logLevel ?? 'info'}`,
    `--pod-cidr=${podCidr}`,
    `--host-device=${prefix}h`,
    `--host-device-peer=${prefix}n`,
    `--endpoint-ifname-prefix=${prefix}`,
    ...(opts.args ?? []),
  ];
  const log = fs.openSync(logFile, 'a');
  // Socket LB attaches to the root cgroup by default (every process of the machine): off unless a
  // benchmark turns it on with its own --cgroup-root (flags win over the environment).
  const env = { ...process.env, CILIA_ENABLE_SOCKET_LB: 'false' };
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), AGENT_JS, ...args], { stdio: ['ignore', log, log], env });
  fs.closeSync(log);
  const agent: BenchAgent = {
    dir,
    socket,
    bpfRoot,
    client: new ApiClient(socket, 120_000),
    proc,
    pid: proc.pid!,
    logs: () => fs.readFileSync(logFile, 'utf8'),
    async cleanup() {
      const netns = new Set<string>();
      try {
        for (const e of await agent.client.get<{ netnsPath: string }[]>('/v1/endpoint')) netns.add(e.netnsPath);
      } catch {
        /* not running */
      }
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      // Also by name: the endpoints of a run that crashed are not in this agent's list.
      for (const name of fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns') : []) if (name.startsWith(`default-${prefix}-`)) netns.add(`/run/netns/${name}`);
      for (const ns of netns) removeNetns(ns);
      removeLinks(prefix);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(bpfRoot, { recursive: true, force: true });
    },
  };
  try {
    await waitReady(agent.client, proc, agent.logs, 30_000);
  } catch (err) {
    await agent.cleanup();
    throw err;
  }
  return agent;
}

/** Memory of a process in KiB from /proc/<pid>/status: resident now (VmRSS) and its peak (VmHWM). */
export function processMemoryKiB(pid: number): { rss: number; hwm: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${pid}/status has no ${name}`);
    return Number(m[1]);
  };
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** CPU time (user + system, in ms) a process has used so far, from /proc/<pid>/stat. */
export function processCpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15 of stat)
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/**
 * Runs `cleanup` when the process is interrupted (SIGINT, SIGTERM), so that Ctrl-C does not leave
 * namespaces, veths and an agent behind. Returns a function that unregisters the handlers.
 */
export function cleanupOnSignal(cleanup: () => Promise<void>): () => void {
  const handler = (sig: NodeJS.Signals): void => {
    console.error(`\n${sig}: cleaning up…`);
    cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
