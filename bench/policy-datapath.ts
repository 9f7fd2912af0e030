// Benchmark: what policy costs per packet. A client pod talks to a server pod over TCP (small Python
// programs, one process each in the two pod netns):
//   - RR:  request/response of 64 bytes over one connection, as fast as it goes (netperf TCP_RR-like);
//   - CRR: connect, one request/response, close, again and again (every connection is a new flow, so
//          every one goes through the policy lookup; netperf TCP_CRR-like).
// under three policies on the server: none (not enforced), one entry (the client on the port), and
// 10,000 entries (plus 1,000 CIDR identities × 10 ports). Configurations alternate round by round so
// that drift on the machine spreads evenly; the table compares each configuration's best round (other
// load only ever slows a round down) and shows the medians.
//
// Run: node dist/bench/policy-datapath.js [--rounds=15] [--seconds=1]
// Goal: RR with 10,000 entries within 5 % of RR without policy.

import { type ChildProcess, spawn } from 'node:child_process';
import os from 'node:os';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import type { BenchAgent } from './lib/agent.js';
import { machineInfo, printTable, writeResults } from './lib/report.js';
import { summarize } from './lib/stats.js';
import { createEndpoints, startPolicyBenchAgent } from './policy-common.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '15' }, seconds: { type: 'string', default: '1' } } });
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const PORT = 5001;

/** Echo server: one thread per connection, TCP_NODELAY, echoes whatever arrives. */
const SERVER_PY = `
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1]))); s.listen(512)
print('ready', flush=True)
def serve(c):
    try:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            d = c.recv(4096)
            if not d: break
            c.sendall(d)
    except OSError:
        pass  # the CRR client resets every connection
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

/** Client: prints transactions per second of RR or CRR for a fixed time (bounded loop). */
const CLIENT_PY = `
import json, socket, sys, time
mode, host, port, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
msg = b'x' * 64
n = 0
errors = []
deadline = time.monotonic() + seconds
if mode == 'rr':
    c = socket.create_connection((host, port), timeout=2); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t0 = time.monotonic()
    try:
        while time.monotonic() < deadline:
            for _ in range(100):
                c.sendall(msg); got = 0
                while got < 64: got += len(c.recv(4096))
            n += 100
    except OSError as e:
        errors.append('%s %s after %d transactions' % (c.getsockname()[1], e, n))
    c.close()
else:
    t0 = time.monotonic()
    while time.monotonic() < deadline:
        c = socket.socket(); c.settimeout(1); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00')  # RST on close: no TIME_WAIT pile-up
        try:
            c.connect((host, port)); c.sendall(msg); got = 0
            while got < 64: got += len(c.recv(4096))
            n += 1
        except OSError as e:
            errors.append('%s %s' % (c.getsockname()[1], e))
        c.close()
print(json.dumps({'rate': n / (time.monotonic() - t0), 'errors': errors}), flush=True)
`;

type Config = 'none' | 'one entry' | '10,000 entries';
const CONFIGS: Config[] = ['none', 'one entry', '10,000 entries'];

const ALLOW_CLIENT = { labels: [{ key: 'name', value: 'bench-allow-client' }], endpointSelector: { matchLabels: { role: 'server' } }, ingress: [{ fromEndpoints: [{ matchLabels: { role: 'client' } }], toPorts: [{ ports: [{ port: String(PORT), protocol: 'TCP' }] }] }] };

/** 1,000 /32 prefixes × 10 ports on the server: 10,000 entries. */
function bigRule() {
  const cidrs = Array.from({ length: 1000 }, (_, i) => `10.250.${Math.floor(i / 256)}.${i % 256}/32`);
  const ports = Array.from({ length: 10 }, (_, i) => ({ port: String(6000 + i), protocol: 'TCP' }));
  return { labels: [{ key: 'name', value: 'bench-10k' }], endpointSelector: { matchLabels: { role: 'server' } }, ingress: [{ fromCIDR: cidrs, toPorts: [{ ports }] }] };
}

async function setPolicy(agent: BenchAgent, config: Config): Promise<number> {
  await agent.client.delete('/v1/policy?all=true&wait=true');
  const rules = config === 'none' ? [] : config === 'one entry' ? [ALLOW_CLIENT] : [ALLOW_CLIENT, bigRule()];
  if (rules.length) await agent.client.request('PUT', '/v1/policy?wait=true', undefined, JSON.stringify(rules), 'application/json');
  const r = await agent.client.get<{ entries: unknown[] }>('/v1/bpf/policy/tqb-server');
  return r.entries.length;
}

/** Runs Python in `netns`, pinned to `cpu` so that client and server always sit on different cores. */
function runPy(netns: string, cpu: number, code: string, args: readonly string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', netns, 'taskset', '-c', String(cpu), 'python3', '-c', code, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

async function client(netns: string, mode: 'rr' | 'crr', host: string): Promise<number> {
  const p = runPy(netns, 0, CLIENT_PY, [mode, host, String(PORT), String(SECONDS)]);
  let out = '';
  let err = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => p.once('exit', r));
  if (code !== 0) throw new Error(`${mode} client failed (${code}): ${err}`);
  const r = JSON.parse(out) as { rate: number; errors: string[] };
  // A transaction that timed out (1 s) is not counted; say which, with the datapath's drop counters.
  if (r.errors.length) console.error(`\n  ${mode}: ${r.errors.length} failed transaction(s): ${r.errors.slice(0, 3).join('; ')}`);
  failures += r.errors.length;
  return r.rate;
}
let failures = 0;

const agent = await startPolicyBenchAgent('policy-dp');
let server: ChildProcess | undefined;
try {
  const [c, s] = await createEndpoints(agent.client, [
    { name: 'tqb-client', labels: { role: 'client' } },
    { name: 'tqb-server', labels: { role: 'server' } },
  ]);
  server = runPy(s.netns, 1, SERVER_PY, [String(PORT)]);
  server.stderr!.resume(); // never let a full pipe block the server
  await new Promise<void>((resolve, reject) => {
    readline.createInterface({ input: server!.stdout! }).once('line', () => resolve());
    server!.once('exit', (code) => reject(new Error(`server exited (${code})`)));
  });
  // Drops during the run, to explain a failed transaction.
  const dropEvents: string[] = [];
  const monitor = new AbortController();
  void agent.client.stream<{ type: string; text: string }>('/v1/monitor?type=drop', (ev) => void (ev.type === 'drop' && dropEvents.push(ev.text)), monitor.signal).catch(() => undefined);
  const entries: Partial<Record<Config, number>> = {};
  const rr: Record<Config, number[]> = { none: [], 'one entry': [], '10,000 entries': [] };
  const crr: Record<Config, number[]> = { none: [], 'one entry': [], '10,000 entries': [] };
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round, so no configuration always runs first after a policy change.
    const order = CONFIGS.map((_, i) => CONFIGS[(i + round) % CONFIGS.length]);
    for (const config of order) {
      entries[config] = await setPolicy(agent, config);
      rr[config].push(await client(c.netns, 'rr', s.ipv4));
      crr[config].push(await client(c.netns, 'crr', s.ipv4));
      process.stderr.write(`\r  round ${round + 1}/${ROUNDS} ${config}          `);
    }
  }
  process.stderr.write('\n');
  const drops = (await agent.client.get<{ reasonName: string; direction: string; packets: string }[]>('/v1/bpf/metrics')).filter((m) => m.reasonName !== 'Forwarded');
  monitor.abort();
  if (failures || dropEvents.length) console.error(`  ${failures} failed transaction(s); datapath drop counters: ${JSON.stringify(drops)}; drop events:\n${dropEvents.slice(0, 20).join('\n')}`);
  // Other work on the machine only ever slows a round down: the best round of each configuration is
  // the steadiest estimate of its own cost, so "vs none" compares the maxima (medians shown too).
  const base = { rr: summarize(rr.none).max, crr: summarize(crr.none).max };
  const pct = (x: number, b: number) => Math.round((1000 * (x - b)) / b) / 10;
  const results = CONFIGS.map((config) => {
    const r = summarize(rr[config]);
    const k = summarize(crr[config]);
    return { config, policyEntries: entries[config], rr: r, crr: k, rrBestVsNonePct: pct(r.max, base.rr), crrBestVsNonePct: pct(k.max, base.crr) };
  });
  printTable(
    ['POLICY ON SERVER', 'ENTRIES', 'RR/s best', 'p50', 'min', 'best vs none', 'CRR/s best', 'p50', 'min', 'best vs none'],
    results.map((r) => [r.config, r.policyEntries ?? 0, Math.round(r.rr.max), Math.round(r.rr.p50), Math.round(r.rr.min), `${r.rrBestVsNonePct}%`, Math.round(r.crr.max), Math.round(r.crr.p50), Math.round(r.crr.min), `${r.crrBestVsNonePct}%`]),
  );
  console.log(`(${ROUNDS} rounds of ${SECONDS} s each per configuration, interleaved; client on CPU 0, server on CPU 1; RR = 64-byte request/response on one connection, CRR = a new connection per request; load average at the end ${os.loadavg()[0].toFixed(1)})`);
  console.log(`results: ${writeResults('policy-datapath', machineInfo(), { unit: 'transactions/s', goal: 'RR with 10,000 entries within 5 % of none', rounds: ROUNDS, seconds: SECONDS, failedTransactions: failures, drops, results })}`);
} finally {
  server?.kill('SIGKILL');
  await agent.cleanup();
}
