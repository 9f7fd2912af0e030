// Benchmark: `cilia apply --wait` of a big manifest, end to end against a real agent with its
// datapath. N ClusterIP Services (default 10,000), each with one EndpointSlice of 3 endpoints, as one
// JSON List and as multi-document YAML; every rep starts a fresh agent (an empty node, as kube-proxy's
// full iptables-restore it is compared with starts from empty tables), sends
// `PUT /v1/apply?wait=true` and times it until the whole response is read: the agent answers once
// the LB maps hold every service. The agent's debug log line `applied` splits the time into its phases
// (read = manifest parsing, validate, commit = tables, store = building the object journal's line,
// whose write to disk overlaps the next phase, wait = LB maps written and the journal line on disk);
// `http` is the rest (body transfer, response). Then, on the same agent: the same manifest again
// (nothing changes), one more Service + EndpointSlice, `cilia delete` of it all, and the manifest once
// more (`warmApply`: the first apply's work with V8's optimized code already in place). Optionally (`--cli`) also the wall time of
// `cilia apply -f FILE --wait` as a process (Node start-up and printing one line per object included).
// With `--kube-proxy`, the same services as kube-proxy's full iptables sync (pkg/lb/iptables), timed
// into the empty tables of a fresh namespace `ap-kp`: with `iptables-legacy-restore --noflush` (as
// kube-proxy restores; the baseline the goal is set against, 5x faster, here measured under the same
// machine load) and with nf_tables' `iptables-restore` without --noflush (with --noflush, 1.8.9 takes
// minutes for 150,000 lines here).
// Prints a table and writes bench/results/apply-scale.json.
//
// Usage (root, after `npx tsc -b && make -C bpf`):
//   node dist/bench/apply-scale.js [--services 10000] [--reps 5] [--backends distinct|shared] [--cli] [--kube-proxy]
// Isolation (test/lib/ranges.md): prefix `ap` (host device aph/apn), pod CIDR 10.244.120.0/24 (backend
// addresses; no traffic is sent), services in 10.96.120.0/22 (ten services per address, ports 80-89).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import jsyaml from 'js-yaml';
import { renderKubeProxyFullSync } from '../pkg/lb/iptables/index.js';
import { type K8sEndpointSlice, type K8sService, backendsFromEndpointSlices, serviceFromK8s } from '../pkg/lb/k8s/index.js';
import { CLI_JS, REPO, type TestAgent, removeNetns, runNode, startAgent } from '../test/lib/agent.js';
import { EMPTY_TABLES, timedRestore } from './lib/iptables.js';
import { machineInfo, printTable, writeResults } from './lib/report.js';
import { median } from './lib/stats.js';

const PREFIX = 'ap';
const POD_CIDR = '10.244.120.0/24';

const { values: flags } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' },
    reps: { type: 'string', default: '5' },
    backends: { type: 'string', default: 'distinct' },
    cli: { type: 'boolean', default: false },
    'kube-proxy': { type: 'boolean', default: false },
    out: { type: 'string', default: 'apply-scale' },
    'node-options': { type: 'string', default: '' },
  },
});
const N = Number(flags.services);
const REPS = Number(flags.reps);
const DISTINCT = flags.backends !== 'shared';
if (!Number.isInteger(N) || N < 1 || N > 10_240) throw new Error('--services must be 1..10240 (10.96.120.0/22 with ten ports per address)');

/** The service address of service i: ten services (ports 80..89) per address of 10.96.120.0/22. */
function vip(i: number): { ip: string; port: number } {
  const a = Math.floor(i / 10) + 1;
  return { ip: `10.96.${120 + (a >> 8)}.${a & 255}`, port: 80 + (i % 10) };
}

/**
 * Service i and its EndpointSlice. Distinct backends: 3 per service, none shared (30,000 for 10,000
 * services; 240 addresses × ports 8000+), as in a cluster where every service has its own pods.
 * Shared: every service has the same 3 backends.
 */
function objects(i: number): object[] {
  const { ip, port } = vip(i);
  const targetPort = DISTINCT ? 8000 + Math.floor(i / 80) : 8080;
  const addresses = [0, 1, 2].map((k) => (DISTINCT ? `10.244.120.${((i * 3 + k) % 240) + 1}` : `10.244.120.${k + 2}`));
  return [
    { apiVersion: 'v1', kind: 'Service', metadata: { name: `ap-svc-${i}`, namespace: 'default' }, spec: { type: 'ClusterIP', clusterIP: ip, ports: [{ name: 'http', port, targetPort, protocol: 'TCP' }] } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `ap-svc-${i}-abc`, namespace: 'default', labels: { 'kubernetes.io/service-name': `ap-svc-${i}` } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: targetPort, protocol: 'TCP' }],
      endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })),
    },
  ];
}

/** Manifests of `n` services: a JSON List and multi-document YAML (block style, as kubectl writes it). */
function manifests(n: number, first = 0): { json: string; yaml: string } {
  const docs: object[] = [];
  for (let i = first; i < first + n; i++) docs.push(...objects(i));
  return { json: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs }), yaml: docs.map((d) => jsyaml.dump(d)).join('---\n') };
}

/** PUT `body` to the agent's socket and read the whole answer; the time is until the last byte. */
function put(agent: TestAgent, urlPath: string, body: string): Promise<{ status: number; ms: number; text: string }> {
  return request(agent, 'PUT', urlPath, body);
}

/** A request with a manifest body (sent as the CLI sends it), timed until the last byte of the answer. */
function request(agent: TestAgent, method: string, urlPath: string, body: string): Promise<{ status: number; ms: number; text: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(
      { socketPath: agent.socket, path: urlPath, method, headers: { 'content-type': 'application/yaml', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * CPU time (user + system) the agent has used so far, in ms (10 ms resolution): all its threads, or
 * with `mainThread` only the JavaScript thread (its pid), whose time does not count waiting for a CPU.
 */
function agentCpuMs(agent: TestAgent, mainThread = false): number {
  const pid = agent.proc.pid;
  const stat = fs.readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at ") "; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** Phase times (ms) of the agent's last `applied` log line. */
interface Phases {
  readMs: number;
  validateMs: number;
  commitMs: number;
  storeMs: number;
  waitMs: number;
}
const PHASES = ['readMs', 'validateMs', 'commitMs', 'storeMs', 'waitMs'] as const;

function lastPhases(agent: TestAgent): Phases | undefined {
  let found: Phases | undefined;
  for (const line of agent.logs().split('\n')) {
    if (!line.includes('"applied"')) continue;
    try {
      const rec = JSON.parse(line) as Record<string, unknown>;
      if (rec.msg === 'applied') found = rec as unknown as Phases;
    } catch {
      /* not a log record */
    }
  }
  return found;
}

interface Sample extends Phases {
  format: 'json' | 'yaml';
  /** PUT /v1/apply?wait=true until the response is read. */
  totalMs: number;
  /** totalMs minus the agent's phases: body transfer, routing, response. */
  httpMs: number;
  /** CPU time the agent used for the apply (all its threads: the garbage collector's too). */
  agentCpuMs: number;
  /** CPU time of the agent's JavaScript thread for the apply: about the apply's time on an otherwise idle machine. */
  mainCpuMs: number;
  /** The same manifest again on the same agent (nothing changes). */
  reapplyMs: number;
  /** One more Service + EndpointSlice with N present. */
  oneMoreMs: number;
  /** `cilia delete` of the manifest (the N services and the one more). */
  deleteMs: number;
  /** The manifest applied again after the delete: the same work as the first apply, on an agent whose code V8 has optimized. */
  warmApplyMs: number;
  /** `cilia apply -f FILE --wait` as a process (with --cli). */
  cliMs?: number;
}

/** The agent of the rep in progress, so that Ctrl-C still removes it. */
let current: TestAgent | undefined;

async function withAgent<T>(fn: (agent: TestAgent) => Promise<T>): Promise<T> {
  const agent = await startAgent(PREFIX, { datapath: { prefix: PREFIX, podCidr: POD_CIDR }, env: { ...process.env, ...(flags['node-options'] ? { NODE_OPTIONS: flags['node-options'] } : {}) } });
  current = agent;
  try {
    return await fn(agent);
  } finally {
    current = undefined;
    await agent.cleanup();
  }
}

async function run(format: 'json' | 'yaml', body: string, oneMore: string): Promise<Sample> {
  return withAgent(async (agent) => {
    const cpu0 = agentCpuMs(agent);
    const main0 = agentCpuMs(agent, true);
    const r = await put(agent, '/v1/apply?wait=true', body);
    const cpu = agentCpuMs(agent) - cpu0;
    const mainCpu = agentCpuMs(agent, true) - main0;
    if (r.status !== 200) throw new Error(`apply: HTTP ${r.status}: ${r.text.slice(0, 300)}`);
    const count = (JSON.parse(r.text) as { objects: unknown[] }).objects.length;
    if (count !== 2 * N) throw new Error(`apply stored ${count} objects, expected ${2 * N}`);
    const phases = lastPhases(agent);
    if (!phases) throw new Error('no "applied" line in the agent log (is it logging at debug?)');
    const again = await put(agent, '/v1/apply?wait=true', body);
    if (again.status !== 200) throw new Error(`re-apply: HTTP ${again.status}`);
    const one = await put(agent, '/v1/apply?wait=true', oneMore);
    if (one.status !== 200) throw new Error(`one more: HTTP ${one.status}: ${one.text.slice(0, 300)}`);
    const del = await request(agent, 'POST', '/v1/apply/delete?wait=true', body);
    if (del.status !== 200) throw new Error(`delete: HTTP ${del.status}: ${del.text.slice(0, 300)}`);
    const warm = await put(agent, '/v1/apply?wait=true', body);
    if (warm.status !== 200) throw new Error(`warm apply: HTTP ${warm.status}: ${warm.text.slice(0, 300)}`);
    const sum = PHASES.reduce((s, k) => s + phases[k], 0);
    return {
      format,
      totalMs: r.ms,
      ...(Object.fromEntries(PHASES.map((k) => [k, phases[k]])) as unknown as Phases),
      httpMs: r.ms - sum,
      agentCpuMs: cpu,
      mainCpuMs: mainCpu,
      reapplyMs: again.ms,
      oneMoreMs: one.ms,
      deleteMs: del.ms,
      warmApplyMs: warm.ms,
    };
  });
}

/** `cilia apply -f FILE --wait` on a fresh agent, as a process: wall time from spawn to exit. */
async function runCli(file: string): Promise<number> {
  return withAgent(async (agent) => {
    const t0 = performance.now();
    const res = await runNode(CLI_JS, ['--socket', agent.socket, 'apply', '-f', file, '--wait'], { timeoutMs: 120_000 });
    const ms = performance.now() - t0;
    if (res.code !== 0) throw new Error(`cilia apply: exit ${res.code}: ${res.stderr.slice(0, 300)}`);
    return ms;
  });
}

const KP_NETNS = 'ap-kp';

/** Removes the kube-proxy baseline's namespace (absent is fine). */
function deleteKubeProxyNetns(): void {
  removeNetns(`/run/netns/${KP_NETNS}`);
}

/** kube-proxy's full sync of the same services restored into empty tables, once per rep and way (ms each). */
async function kubeProxyBaseline(reps: number): Promise<{ legacyNoflushMs: number[]; nftMs: number[]; lines: number }> {
  const services = [];
  for (let i = 0; i < N; i++) {
    const [svc, slice] = objects(i) as [K8sService, K8sEndpointSlice];
    services.push(serviceFromK8s(svc, backendsFromEndpointSlices(svc, [slice])));
  }
  const rules = renderKubeProxyFullSync(services, { clusterCidr: '10.244.0.0/16', filterTable: true });
  deleteKubeProxyNetns();
  execFileSync('ip', ['netns', 'add', KP_NETNS]);
  try {
    const legacyNoflushMs: number[] = [];
    const nftMs: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      await timedRestore(KP_NETNS, EMPTY_TABLES, { noflush: false, backend: 'legacy' });
      legacyNoflushMs.push((await timedRestore(KP_NETNS, rules, { noflush: true, backend: 'legacy' })).ms);
      await timedRestore(KP_NETNS, EMPTY_TABLES, { noflush: false, backend: 'legacy' });
      await timedRestore(KP_NETNS, EMPTY_TABLES, { noflush: false });
      nftMs.push((await timedRestore(KP_NETNS, rules, { noflush: false })).ms);
      await timedRestore(KP_NETNS, EMPTY_TABLES, { noflush: false });
    }
    return { legacyNoflushMs, nftMs, lines: rules.split('\n').length - 1 };
  } finally {
    deleteKubeProxyNetns();
  }
}

async function main(): Promise<void> {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      deleteKubeProxyNetns();
      void (current?.cleanup() ?? Promise.resolve()).finally(() => process.exit(130));
    });
  }
  const { json, yaml } = manifests(N);
  const extra = manifests(1, N).json;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-bench-ap-'));
  const files = { json: path.join(dir, 'services.json'), yaml: path.join(dir, 'services.yaml') };
  fs.writeFileSync(files.json, json);
  fs.writeFileSync(files.yaml, yaml);
  console.log(`${N} services + ${N} EndpointSlices (${DISTINCT ? 'distinct' : 'shared'} backends): JSON ${(json.length / 2 ** 20).toFixed(1)} MiB, YAML ${(yaml.length / 2 ** 20).toFixed(1)} MiB; ${REPS} reps, a fresh agent each`);
  const samples: Sample[] = [];
  try {
    for (let rep = 0; rep < REPS; rep++) {
      for (const format of ['json', 'yaml'] as const) {
        const s = await run(format, format === 'json' ? json : yaml, extra);
        if (flags.cli) s.cliMs = await runCli(files[format]);
        samples.push(s);
        console.log(`  rep ${rep + 1} ${format}: ${s.totalMs.toFixed(0)} ms`);
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const cols = ['totalMs', ...PHASES, 'httpMs', 'agentCpuMs', 'mainCpuMs', 'reapplyMs', 'oneMoreMs', 'deleteMs', 'warmApplyMs', ...(flags.cli ? ['cliMs'] : [])] as const;
  const summary = Object.fromEntries(
    (['json', 'yaml'] as const).map((f) => {
      const of = samples.filter((s) => s.format === f);
      return [f, Object.fromEntries(cols.map((c) => [c, { median: Math.round(median(of.map((s) => s[c as keyof Sample] as number))), min: Math.round(Math.min(...of.map((s) => s[c as keyof Sample] as number))) }]))];
    }),
  ) as Record<'json' | 'yaml', Record<string, { median: number; min: number }>>;
  console.log("\nmedian (min) in ms; read..wait are the agent's phases, http the rest of the request; agentCpu: CPU time of all the agent's threads, mainCpu: of its JavaScript thread");
  printTable(
    ['format', ...cols.map((c) => c.replace(/Ms$/, ''))],
    (['json', 'yaml'] as const).map((f) => [f, ...cols.map((c) => `${summary[f][c].median} (${summary[f][c].min})`)]),
  );
  let kubeProxy: { legacyNoflushMs: number[]; nftMs: number[]; lines: number; speedupVsNft: number; speedupVsLegacy: number } | undefined;
  if (flags['kube-proxy']) {
    const kp = await kubeProxyBaseline(REPS);
    const legacy = median(kp.legacyNoflushMs);
    const nft = median(kp.nftMs);
    const ratio = (ms: number) => Math.round((10 * ms) / summary.json.totalMs.median) / 10;
    kubeProxy = { ...kp, speedupVsNft: ratio(nft), speedupVsLegacy: ratio(legacy) };
    console.log(`\nkube-proxy baseline, ${kp.lines} lines: nf_tables iptables-restore median ${Math.round(nft)} ms, iptables-legacy-restore --noflush median ${Math.round(legacy)} ms`);
    console.log(`Cilia's JSON apply (median) is ${kubeProxy.speedupVsNft}x as fast as the nf_tables restore, ${kubeProxy.speedupVsLegacy}x the legacy one (goal: 5x)`);
  }
  const out = writeResults(flags.out, machineInfo(), { services: N, backends: DISTINCT ? 'distinct' : 'shared', reps: REPS, summary, kubeProxy, samples });
  console.log(`\nwritten ${path.relative(REPO, out)}`);
}

await main();
