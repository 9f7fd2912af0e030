// TCP load between two network namespaces: iperf3 for a stream, tcp_rr.py for request/response (rr)
// and connect/request/close (crr), each client and server optionally pinned to a CPU with taskset.

import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { REPO } from '../../test/lib/agent.js';
import { inNetns } from './netns.js';
import { timedRun } from './process.js';
import { round } from './report.js';

/** The tcp_rr.py client/server, from the source tree. */
export const TCP_RR_PY = path.join(REPO, 'bench', 'lib', 'tcp_rr.py');
export const IPERF_PORT = 5201;
export const RR_PORT = 5202;

/** A TCP test: one iperf3 stream, request/response on one connection, or a connection per request. */
export type TcpTest = 'stream' | 'rr' | 'crr';
export const TCP_TESTS: readonly TcpTest[] = ['stream', 'rr', 'crr'];
/** Unit of each test's rate. */
export const TCP_UNIT: Record<TcpTest, string> = { stream: 'Gbit/s', rr: 'trans/s', crr: 'conn/s' };

/** Two namespaces that talk: the client connects to serverIp. */
export interface NetnsPair {
  readonly name: string;
  readonly client: string;
  readonly server: string;
  readonly serverIp: string;
}

/** How long tests run and where their processes run (`taskset -c` prefixes; empty = anywhere). */
export interface TcpTestConfig {
  readonly streamSeconds: number;
  readonly rrSeconds: number;
  readonly clientCpu: readonly string[];
  readonly serverCpu: readonly string[];
}

/** Starts a long-running server inside a namespace; resolves once it printed a line matching `ready`. */
function startServer(netns: string, argv: readonly string[], ready: RegExp): Promise<ChildProcess> {
  const p = spawn('ip', ['netns', 'exec', netns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => reject(new Error(`${argv.join(' ')} in ${netns} did not start: ${stderr}`)), 10_000);
    p.on('exit', (code) => reject(new Error(`${argv.join(' ')} in ${netns} exited (${code}): ${stderr}`)));
    readline.createInterface({ input: p.stdout }).on('line', (line) => {
      if (ready.test(line)) {
        clearTimeout(t);
        resolve(p);
      }
    });
  });
}

/**
 * Starts the iperf3 and tcp_rr.py servers in the pair's server namespace (`ip netns exec` execs them,
 * so killing the returned processes kills the servers), then runs a short rr from the client outside
 * any clock: ARP, a first connection, and proof that the pair can talk. Throws if it cannot.
 */
export async function startServers(pair: NetnsPair, cfg: TcpTestConfig): Promise<ChildProcess[]> {
  const servers = [await startServer(pair.server, [...cfg.serverCpu, 'iperf3', '-s', '-p', String(IPERF_PORT), '--forceflush'], /Server listening/)];
  servers.push(await startServer(pair.server, [...cfg.serverCpu, 'python3', TCP_RR_PY, 'server', String(RR_PORT)], /^listening/));
  inNetns(pair.client, ['python3', TCP_RR_PY, 'rr', pair.serverIp, String(RR_PORT), '0.2']);
  return servers;
}

/** Runs one test from the pair's client; returns its rate in TCP_UNIT[test] and details. Throws on failure. */
export async function runTcpTest(pair: NetnsPair, test: TcpTest, cfg: TcpTestConfig): Promise<{ value: number; detail: Record<string, unknown> }> {
  if (test === 'stream') {
    const argv = ['ip', 'netns', 'exec', pair.client, ...cfg.clientCpu, 'iperf3', '-c', pair.serverIp, '-p', String(IPERF_PORT), '-t', String(cfg.streamSeconds), '-J'];
    const r = await timedRun(argv, { timeoutMs: (cfg.streamSeconds + 30) * 1000 });
    const j = JSON.parse(r.stdout || '{}') as { error?: string; end?: { sum_received: { bits_per_second: number }; sum_sent: { retransmits: number }; cpu_utilization_percent: { host_total: number; remote_total: number } } };
    if (r.code !== 0 || j.error || !j.end) throw new Error(`iperf3 on ${pair.name}: ${j.error ?? r.stderr}`);
    return {
      value: j.end.sum_received.bits_per_second / 1e9,
      detail: { retransmits: j.end.sum_sent.retransmits, cpuClient: round(j.end.cpu_utilization_percent.host_total, 1), cpuServer: round(j.end.cpu_utilization_percent.remote_total, 1) },
    };
  }
  const argv = ['ip', 'netns', 'exec', pair.client, ...cfg.clientCpu, 'python3', TCP_RR_PY, test, pair.serverIp, String(RR_PORT), String(cfg.rrSeconds)];
  const r = await timedRun(argv, { timeoutMs: (cfg.rrSeconds + 30) * 1000 });
  if (r.code !== 0) throw new Error(`tcp_rr.py ${test} on ${pair.name}: ${r.stderr}`);
  const j = JSON.parse(r.stdout) as { rate: number; transactions: number };
  return { value: j.rate, detail: { transactions: j.transactions } };
}

/** Offload settings of a namespace's eth0 that matter for throughput (`ethtool -k`). */
export function offloads(netns: string): Record<string, string> {
  const out = inNetns(netns, ['ethtool', '-k', 'eth0']);
  const want = ['tcp-segmentation-offload', 'generic-segmentation-offload', 'generic-receive-offload', 'tx-checksumming', 'rx-checksumming', 'scatter-gather'];
  const res: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^([a-z-]+): (\S+)/.exec(line);
    if (m && want.includes(m[1])) res[m[1]] = m[2];
  }
  return res;
}
