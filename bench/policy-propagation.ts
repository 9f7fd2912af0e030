// Benchmark: how long a policy import takes to reach the datapath.
//
// A client pod probes a server pod over UDP without pause (a new socket per attempt, 5 ms each) while
// the benchmark imports, again and again, a rule for the server that alternately allows and denies the
// client. Per import it records, from the moment before the API call:
//   - datapath: until the first probe attempt that shows the new verdict (CLOCK_MONOTONIC, shared by
//     the probe process and this one; resolution ≈ one attempt, ~5 ms when the packet is dropped);
//   - wait: until `PUT /v1/policy?wait=true` (what `cilia policy import --wait` does) returns.
// With N endpoints (each its own identity) and, if N is below it, CIDR identities up to `--identities`
// (a background rule referencing that many prefixes, selecting no endpoint).
//
// Run: node dist/bench/policy-propagation.js [--endpoints=100,1000] [--imports=200] [--identities=1000] [--profile]
// --profile writes the agent's CPU profile of the import phase to bench/results/ (see policy-profiler.ts,
// and `node dist/bench/policy-hotspots.js FILE` for a summary).
// Goal: p99 (datapath) < 100 ms at 1,000 endpoints.

import { parseArgs } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EndpointCreateRequest } from '../pkg/api/index.js';
import { PodProcess } from '../test/lib/pod-process.js';
import type { BenchAgent } from './lib/agent.js';
import { RESULTS_DIR, machineInfo, printTable, round, writeResults } from './lib/report.js';
import { type Summary, summarize } from './lib/stats.js';
import { createEndpoints, startPolicyBenchAgent } from './policy-common.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const { values } = parseArgs({
  options: {
    endpoints: { type: 'string', default: '100,1000' },
    imports: { type: 'string', default: '200' },
    identities: { type: 'string', default: '1000' },
    profile: { type: 'boolean', default: false },
  },
});
const SIZES = values.endpoints.split(',').map(Number);
const IMPORTS = Number(values.imports);
const IDENTITIES = Number(values.identities);

/** The rule under test: the server lets `peer` in on UDP 53. Same labels every time, so each import replaces it. */
function flipRule(peer: string): string {
  return JSON.stringify([
    {
      labels: [{ key: 'name', value: 'bench-flip' }],
      endpointSelector: { matchLabels: { role: 'server' } },
      ingress: [{ fromEndpoints: [{ matchLabels: { role: peer } }], toPorts: [{ ports: [{ port: '53', protocol: 'UDP' }] }] }],
    },
  ]);
}

/** `count` distinct prefixes inside 10.250.0.0/16 (never routed: they only become CIDR identities). */
function backgroundRule(count: number): string {
  const cidrs: string[] = [];
  for (let i = 0; cidrs.length < count; i++) cidrs.push(`10.250.${Math.floor(i / 256) % 256}.${i % 256}/32`);
  return JSON.stringify([{ labels: [{ key: 'name', value: 'bench-background' }], endpointSelector: { matchLabels: { role: 'nobody' } }, egress: [{ toCIDR: cidrs }] }]);
}

interface SizeResult {
  endpoints: number;
  identities: number;
  imports: number;
  createSeconds: number;
  datapathMs: Summary;
  waitMs: Summary;
  /**
   * Imports without a usable flip: none within 15 s, or one "seen" before the call (two probe attempts
   * in a row lost on a busy machine look like a block). Should be 0 or close.
   */
  missed: { never: number; beforeCall: number };
}

async function importRule(agent: BenchAgent, text: string): Promise<void> {
  await agent.client.request('PUT', '/v1/policy?wait=true', undefined, text, 'application/json');
}

async function runSize(endpoints: number): Promise<SizeResult> {
  const profiler = fileURLToPath(new URL('./policy-profiler.js', import.meta.url));
  const agent = await startPolicyBenchAgent('policy-prop', values.profile ? { args: [`--extra-modules=${profiler}`] } : {});
  const pods: PodProcess[] = [];
  try {
    const t0 = performance.now();
    const [client, server] = await createEndpoints(agent.client, [
      { name: 'tqb-client', labels: { role: 'client' } },
      { name: 'tqb-server', labels: { role: 'server' } },
    ]);
    const fillers: EndpointCreateRequest[] = [];
    for (let i = 0; i < endpoints - 2; i++) fillers.push({ name: `tqb-f${i}`, labels: { role: 'filler', idx: String(i) } });
    await createEndpoints(agent.client, fillers, 4, (n) => process.stderr.write(`\r  ${n + 2}/${endpoints} endpoints`));
    const createSeconds = (performance.now() - t0) / 1000;
    process.stderr.write(`\r  ${endpoints} endpoints in ${createSeconds.toFixed(1)} s\n`);
    const cidrIdentities = Math.max(0, IDENTITIES - endpoints);
    if (cidrIdentities) await importRule(agent, backgroundRule(cidrIdentities));
    const ids = (await agent.client.get<{ kind: string }[]>('/v1/identity')).filter((i) => i.kind !== 'reserved').length;

    pods.push(await PodProcess.start(server.netns, { name: 'server', udp: [53] }));
    const probe = await PodProcess.start(client.netns, { name: 'client' });
    pods.push(probe);
    const target = { proto: 'udp' as const, host: server.ipv4, port: 53 };
    await importRule(agent, flipRule('nobody'));

    if (values.profile) await agent.client.post('/v1/bench/profile/start');
    const datapath: number[] = [];
    const wait: number[] = [];
    const missed = { never: 0, beforeCall: 0 };
    for (let i = 0; i < IMPORTS; i++) {
      const allow = i % 2 === 0;
      const watching = probe.watch(target, allow ? 'ok' : 'blocked', { attemptTimeoutMs: 5, deadlineMs: 15_000 });
      watching.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
      await sleep(20); // the watcher is probing the old verdict
      const start = process.hrtime.bigint();
      await importRule(agent, flipRule(allow ? 'client' : 'nobody'));
      const returned = process.hrtime.bigint();
      const w = await watching;
      wait.push(Number(returned - start) / 1e6);
      if (w.flippedAtNs === undefined) missed.never++;
      else if (w.flippedAtNs < start) missed.beforeCall++;
      else datapath.push(Number(w.flippedAtNs - start) / 1e6);
      if (process.env.CILIA_BENCH_VERBOSE) console.error(`import ${i} ${allow ? 'allow' : 'deny'}: wait ${wait.at(-1)?.toFixed(1)} ms, datapath ${w.flippedAtNs === undefined ? 'never' : (Number(w.flippedAtNs - start) / 1e6).toFixed(1)} ms, ${w.attempts} attempts`);
      else if ((i + 1) % 50 === 0) process.stderr.write(`\r  ${i + 1}/${IMPORTS} imports`);
    }
    process.stderr.write('\n');
    if (values.profile) {
      const file = path.join(RESULTS_DIR, `policy-propagation-${endpoints}.cpuprofile`);
      await agent.client.post(`/v1/bench/profile/stop?file=${encodeURIComponent(file)}`);
      console.error(`  agent CPU profile of the imports: ${file}`);
    }
    return { endpoints, identities: ids, imports: IMPORTS, createSeconds, datapathMs: summarize(datapath), waitMs: summarize(wait), missed };
  } finally {
    for (const p of pods) await p.stop();
    await agent.cleanup();
  }
}

const results: SizeResult[] = [];
for (const n of SIZES) {
  console.error(`policy propagation with ${n} endpoints:`);
  results.push(await runSize(n));
}
printTable(
  ['ENDPOINTS', 'IDENTITIES', 'IMPORTS', 'DATAPATH p50', 'p90', 'p99', 'max', 'WAIT p50', 'p90', 'p99', 'max', 'MISSED'],
  results.map((r) => [r.endpoints, r.identities, r.imports, ...[r.datapathMs, r.waitMs].flatMap((s) => [s.p50, s.p90, s.p99, s.max].map((x) => round(x, 1))), r.missed.never + r.missed.beforeCall]),
);
console.log('(milliseconds from the API call: DATAPATH = first probe with the new verdict, WAIT = `policy import --wait` returns)');
console.log(`results: ${writeResults('policy-propagation', machineInfo(), { unit: 'ms', goal: 'datapath p99 < 100 ms at 1,000 endpoints', results })}`);
