// Shared pieces of the policy benchmarks (bench/policy-*.ts): an agent started as in production (log
// level info, log to a file), endpoints created in bulk through the API, summary statistics, and the
// output every benchmark gives — a table on stdout and a JSON file under bench/results/.
//
// Isolation (test/lib/ranges.md): prefix `tqb` and pods in 10.244.24.0/22, inside the policy tests'
// range rather than the benchmarks' `bn`: an agent with veth prefix `bn` prunes every `bn…` veth, so
// another benchmark running at the same time would take our endpoints down.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiClient, type EndpointCreateRequest, type EndpointJSON } from '../pkg/api/index.js';
import { AGENT_JS, REPO, removeLinks, removeNetns } from '../test/lib/agent.js';

/** Host device and veth prefix of the policy benchmarks' agent. */
export const BENCH_PREFIX = 'tqb';
/** Their pod CIDR: room for 1,000 endpoints and the probe pods. */
export const BENCH_POD_CIDR = '10.244.24.0/22';

/** A running benchmark agent. */
export interface BenchAgent {
  readonly dir: string;
  readonly client: ApiClient;
  readonly proc: ChildProcess;
  readonly logFile: string;
  /** Stops the agent, removes its endpoints' netns, its veths, its directory and bpffs root. */
  cleanup(): Promise<void>;
}

/**
 * Starts cilia-agent with its own socket, state dir and bpffs root, at log level info (the test helper
 * logs at debug, which costs the agent time), and waits for its API. `nodeArgs` go before the script
 * (e.g. `--cpu-prof`). Throws (after cleaning up) if it is not ready within 30 s.
 */
export async function startBenchAgent(name: string, opts: { args?: readonly string[]; nodeArgs?: readonly string[] } = {}): Promise<BenchAgent> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cilia-bench-${name}-`));
  const bpfRoot = `/sys/fs/bpf/cilia-bench-${name}-${path.basename(dir).slice(-6)}`;
  const socket = path.join(dir, 'cilia.sock');
  const logFile = path.join(dir, 'agent.log');
  const log = fs.openSync(logFile, 'a');
  const args = [
    `--api-socket=${socket}`, `--state-dir=${path.join(dir, 'state')}`, `--bpf-root=${bpfRoot}`, '--log-level=info',
    `--pod-cidr=${BENCH_POD_CIDR}`, `--host-device=${BENCH_PREFIX}h`, `--host-device-peer=${BENCH_PREFIX}n`, `--endpoint-ifname-prefix=${BENCH_PREFIX}`,
    ...(opts.args ?? []),
  ];
  // Socket LB would attach to the root cgroup (every process of the machine): not for a benchmark.
  const env = { ...process.env, CILIA_ENABLE_SOCKET_LB: 'false' };
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), AGENT_JS, ...args], { stdio: ['ignore', log, log], cwd: dir, env });
  fs.closeSync(log);
  const client = new ApiClient(socket, 300_000);
  const agent: BenchAgent = {
    dir,
    client,
    proc,
    logFile,
    async cleanup() {
      let netns: string[] = [];
      try {
        netns = (await client.get<EndpointJSON[]>('/v1/endpoint')).map((e) => e.netnsPath);
      } catch {
        /* not running */
      }
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await gone;
      }
      // Also by name: the endpoints of a run that crashed are not in this agent's list.
      for (const name of fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns') : []) if (name.startsWith(`default-${BENCH_PREFIX}-`)) netns.push(`/run/netns/${name}`);
      for (const ns of new Set(netns)) removeNetns(ns);
      removeLinks(BENCH_PREFIX);
      fs.rmSync(bpfRoot, { recursive: true, force: true });
      if (!process.env.CILIA_BENCH_KEEP) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await client.get('/v1/healthz');
      return agent;
    } catch {
      if (proc.exitCode !== null || Date.now() > deadline) {
        const text = fs.readFileSync(logFile, 'utf8');
        await agent.cleanup();
        throw new Error(`benchmark agent did not start:\n${text}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Creates endpoints through the API, `concurrency` at a time; returns them in request order. */
export async function createEndpoints(client: ApiClient, requests: readonly EndpointCreateRequest[], concurrency = 4, progress?: (done: number) => void): Promise<EndpointJSON[]> {
  const out = new Array<EndpointJSON>(requests.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < requests.length) {
      const i = next++;
      out[i] = await client.put<EndpointJSON>('/v1/endpoint', requests[i]);
      if (++done % 100 === 0) progress?.(done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

/** Distribution of samples (nearest-rank percentiles), in the samples' unit. */
export interface Summary {
  readonly n: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** Summary statistics of `samples`. Throws on an empty list. */
export function summarize(samples: readonly number[]): Summary {
  if (!samples.length) throw new Error('no samples');
  const s = [...samples].sort((a, b) => a - b);
  const pct = (p: number) => s[Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length))) - 1];
  const r = (x: number) => Math.round(x * 100) / 100;
  return { n: s.length, min: r(s[0]), p50: r(pct(50)), p90: r(pct(90)), p99: r(pct(99)), max: r(s[s.length - 1]), mean: r(s.reduce((a, b) => a + b, 0) / s.length) };
}

/** Prints a left-aligned table. */
export function printTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): void {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const r of cells) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
}

/** Where the benchmarks write their results. */
export const RESULTS_DIR = path.join(REPO, 'bench', 'results');

/** Writes bench/results/<name>.json with facts about the machine and checkout; returns the path. */
export function writeResults(name: string, data: object): string {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['-C', REPO, 'describe', '--always', '--dirty'], { encoding: 'utf8' }).trim();
  } catch {
    /* not a checkout */
  }
  const machine = { date: new Date().toISOString(), kernel: os.release(), cpu: os.cpus()[0]?.model ?? 'unknown', cpus: os.cpus().length, node: process.version, commit, loadavg1: os.loadavg()[0] };
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ benchmark: name, machine, ...data }, null, 2) + '\n');
  return file;
}

/** A promise that resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
