// Benchmark: issue 5, Cilia's BPF service load balancing against kube-proxy in iptables mode, with
// 100, 1,000 and 10,000 ClusterIP services of 3 backends each, in one run on this machine:
//   - programming every service: one `PUT /v1/apply?wait=true` of the user's manifest (YAML; JSON too)
//     until the response, sent once the LB maps hold them — against one `iptables-restore --noflush`
//     of kube-proxy's full ruleset (pkg/lb/iptables) into an empty node;
//   - one more service with N present: `PUT /v1/service` (and `cilia apply` of one Service +
//     EndpointSlice) until the maps hold it — against kube-proxy's partial-sync `iptables-restore
//     --noflush` (KUBE-SERVICES rewritten, plus the new chains);
//   - sequential TCP connect + first byte from a client pod to the first and the last VIP (and, as a
//     control, straight to a backend): p50/p99 and connections per second, through Cilia's socket LB,
//     Cilia's per-packet LB and kube-proxy's DNAT.
// Prints tables with the ratios the issue sets as goals and writes bench/results/lb-scale.json.
//
// Usage (root, after `npx tsc -b && make -C bpf`):
//   node dist/bench/lb-scale.js [--sizes 100,1000,10000] [--reps 3] [--adds 10] [--rounds 10]
//                               [--connects 2000] [--warmup 200] [--no-legacy] [--out lb-scale]
//   node dist/bench/lb-scale.js --clean      # remove what an interrupted run left behind
// Isolation (test/lib/ranges.md): netns and links `bl*`, pods 10.244.104.0/24 (Cilia) and
// 10.244.105.0/24 (the kube-proxy node), VIPs from 10.96.104.1 up (skipping apply-scale's
// 10.96.120.0/22), cgroup `cilia-bench-bl-<pid>`, bpffs `cilia-bench-bl-*`.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { findCgroup2Mount, removeCgroup } from '../pkg/bpf/index.js';
import { renderKubeProxyFullSync, renderKubeProxyJumpRules, renderKubeProxyServiceAddition, type KubeProxyOptions } from '../pkg/lb/iptables/index.js';
import type { Service } from '../pkg/lb/model/index.js';
import { removeLinks } from '../test/lib/agent.js';
import { type CiliaNode, startCiliaNode } from './lb-cilia-node.js';
import { type Placement, measureConnect } from './lb-connect.js';
import { minimalServiceAddition } from './lb-iptables-rules.js';
import { type KubeProxyNode, createLegacyNetns, deleteNetns, startKubeProxyNode } from './lb-kube-proxy-node.js';
import { EMPTY_TABLES, timedRestore } from './lib/iptables.js';
import { SERVICE_PORT, TARGET_PORT, benchService, benchServices, manifestJson, manifestYaml, modelService, serviceName, upsertRequest, vipOf } from './lb-manifest.js';
import { processCpuMs } from './lib/agent.js';
import { waitQuiet } from './lib/quiet.js';
import { machineInfo, round, writeResults } from './lib/report.js';
import { median } from './lib/stats.js';
import { type AddSample, type ConnectSample, type Path, type ProgramSample, type RunSettings, type SizeResult, type Target, PATHS, TARGETS, connectStats, printReport } from './lb-scale-report.js';

const CILIA_POD_CIDR = '10.244.104.0/24';
const KUBE_PROXY_SUBNET = '10.244.105';
const BACKENDS = 3;
/** kube-proxy as deployed by kubeadm: --cluster-cidr = the pod range, so pod→VIP traffic is not masqueraded. */
const KUBE_PROXY: KubeProxyOptions = { clusterCidr: '10.244.0.0/16', filterTable: true };

const { values: flags } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100,1000,10000' },
    reps: { type: 'string', default: '3' },
    adds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '10' },
    connects: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '200' },
    'no-legacy': { type: 'boolean', default: false },
    'no-noflush-full': { type: 'boolean', default: false },
    out: { type: 'string', default: 'lb-scale' },
    'quiet-busy': { type: 'string', default: '0.2' },
    'quiet-wait-s': { type: 'string', default: '20' },
    clean: { type: 'boolean', default: false },
  },
});
const sizes = flags.sizes.split(',').map(Number);
const reps = Number(flags.reps);
const adds = Number(flags.adds);
const rounds = Number(flags.rounds);
const connects = Number(flags.connects);
const warmup = Number(flags.warmup);
const quietBusy = Number(flags['quiet-busy']);
const quietWaitMs = Number(flags['quiet-wait-s']) * 1000;

/** Waits (bounded) until the CPUs are quiet; the busy fraction seen just before measuring. */
function quiet(): Promise<number> {
  return waitQuiet(quietBusy, quietWaitMs);
}

/** Everything this benchmark may have left behind, found by name. */
function cleanLeftovers(): void {
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith('bl-'));
  for (const n of netns) deleteNetns(n);
  removeLinks('bl');
  const mount = findCgroup2Mount();
  if (mount !== undefined) for (const d of fs.readdirSync(mount).filter((d) => d.startsWith('cilia-bench-bl-'))) removeCgroup(path.join(mount, d));
  for (const d of fs.readdirSync('/sys/fs/bpf').filter((d) => d.startsWith('cilia-bench-bl-'))) fs.rmSync(path.join('/sys/fs/bpf', d), { recursive: true, force: true });
}

function log(text: string): void {
  process.stderr.write(`[lb-scale ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
}

async function main(): Promise<void> {
  if (flags.clean) {
    cleanLeftovers();
    return;
  }
  if (fs.existsSync('/run/netns/bl-node')) throw new Error('bl-node exists: another lb-scale runs, or one was interrupted (run with --clean)');
  const machine = machineInfo();
  const iptables = execFileSync('iptables-restore', ['--version'], { encoding: 'utf8' }).trim();
  log(`load average ${machine.loadavg1}; ${iptables}`);

  let cilia: CiliaNode | undefined;
  let kp: KubeProxyNode | undefined;
  let legacy: string | undefined;
  const cleanup = async (): Promise<void> => {
    kp?.destroy();
    if (legacy !== undefined) deleteNetns(legacy);
    await cilia?.cleanup();
  };
  const onSignal = (): void => {
    log('interrupted: cleaning up');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const results: SizeResult[] = [];
  try {
    cilia = await startCiliaNode(CILIA_POD_CIDR, BACKENDS);
    kp = await startKubeProxyNode(KUBE_PROXY_SUBNET, BACKENDS, TARGET_PORT);
    if (!flags['no-legacy']) {
      try {
        legacy = createLegacyNetns();
      } catch (err) {
        log(`iptables-legacy not usable, measuring nf_tables only: ${(err as Error).message}`);
      }
    }
    log(`agent pid ${cilia.agent.pid}; Cilia backends ${cilia.backends.map((b) => b.ipv4).join(', ')}; kube-proxy backends ${kp.backends.map((b) => b.address).join(', ')}`);
    const execOverhead = median(await Promise.all([0, 1, 2, 3, 4].map(async () => (await kp!.restore('*nat\nCOMMIT\n', { noflush: true })).ms)));
    log(`nsenter + iptables-restore of an empty nat section: ${execOverhead.toFixed(1)} ms`);
    for (const n of sizes) results.push(await measureSize(n, cilia, kp, legacy));
    const settings: RunSettings = { iptables, sizes, reps, adds, rounds, connects, warmup, quietBusy, quietWaitMs, backends: BACKENDS, kubeProxy: KUBE_PROXY, execOverheadMs: round(execOverhead) };
    const goals = printReport(results, machine, settings);
    const file = writeResults(flags.out, machine, {
      settings,
      goals,
      sizes: results.map((r) => ({ ...r, connectSummary: PATHS.flatMap((p) => TARGETS.map((t) => ({ path: p, target: t, ...connectStats(r.connect, p, t) }))) })),
    });
    console.log(`\nwrote ${file}`);
  } finally {
    await cleanup();
  }
}

async function measureSize(n: number, cilia: CiliaNode, kp: KubeProxyNode, legacy: string | undefined): Promise<SizeResult> {
  const ciliaBackends = cilia.backends.map((b) => b.ipv4);
  const kpBackends = kp.backends.map((b) => b.address);
  const services = benchServices(n, ciliaBackends);
  const yaml = manifestYaml(services);
  const json = manifestJson(services);
  const kpServices: Service[] = benchServices(n, kpBackends).map(modelService);
  const rules = renderKubeProxyFullSync(kpServices, KUBE_PROXY);
  log(`${n} services: YAML ${(yaml.length / 1e6).toFixed(2)} MB, JSON ${(json.length / 1e6).toFixed(2)} MB, ruleset ${rules.split('\n').length - 1} lines`);

  // 1. Programming every service, `reps` times, Cilia and iptables interleaved. Each repetition starts
  // empty: Cilia deletes what it applied (timed too), iptables restores into emptied tables.
  const program: ProgramSample[] = [];
  for (let r = 0; r < reps; r++) {
    const busyBefore = await quiet();
    const ciliaApplyYamlMs = await cilia.apply(yaml, 'application/yaml');
    await quiet();
    const ciliaDeleteMs = await cilia.deleteManifest(yaml);
    await quiet();
    const ciliaApplyJsonMs = await cilia.apply(json, 'application/json');
    let nftNoflushMs: number | undefined;
    if (r === 0 && !flags['no-noflush-full']) {
      await kp.reset();
      await quiet();
      nftNoflushMs = (await kp.restore(rules, { noflush: true })).ms;
    }
    await kp.reset();
    await quiet();
    const nftRestoreMs = (await kp.restore(rules, { noflush: false })).ms;
    let legacyNoflushMs: number | undefined;
    if (legacy !== undefined) {
      await timedRestore(legacy, EMPTY_TABLES, { noflush: false, backend: 'legacy' });
      await quiet();
      legacyNoflushMs = (await timedRestore(legacy, rules, { noflush: true, backend: 'legacy' })).ms;
    }
    const sample: ProgramSample = { busyBefore, ciliaApplyYamlMs, ciliaDeleteMs, ciliaApplyJsonMs, nftRestoreMs, ...(nftNoflushMs === undefined ? {} : { nftNoflushMs }), ...(legacyNoflushMs === undefined ? {} : { legacyNoflushMs }) };
    program.push(sample);
    log(`  program #${r + 1}: ${Object.entries(sample).map(([k, v]: [string, number]) => `${k} ${v.toFixed(k === 'busyBefore' ? 2 : 0)}`).join(', ')}`);
    if (r < reps - 1) await cilia.deleteManifest(json);
  }
  await kp.restore(renderKubeProxyJumpRules({ filterTable: KUBE_PROXY.filterTable }), { noflush: true });
  const held = await cilia.serviceCount();
  if (held !== n) throw new Error(`the agent holds ${held} services, expected ${n}`);
  const natRules = kp.natRuleCount();

  // 2. Connect + first byte, with exactly N services: rounds of every (path, target), in a rotating
  // order so that load from elsewhere on the machine spreads over all of them.
  const targets: Record<Path, Record<Target, string>> = {
    'cilia-socket-lb': { 'first-vip': vipOf(0), 'last-vip': vipOf(n - 1), 'pod-ip': ciliaBackends[0] },
    'cilia-packet-lb': { 'first-vip': vipOf(0), 'last-vip': vipOf(n - 1), 'pod-ip': ciliaBackends[0] },
    'kube-proxy': { 'first-vip': vipOf(0), 'last-vip': vipOf(n - 1), 'pod-ip': kpBackends[0] },
  };
  // A fresh Cilia client per (path, target): per-packet DNAT keeps the client's source port, so a
  // client that reaches one backend both as a VIP and directly (or as two VIPs) reuses 4-tuples the
  // backend still holds in TIME_WAIT, with TCP timestamps from another offset (Linux derives it from
  // the address pair); the backend answers the SYN with an ACK for the old connection and the client
  // waits for its SYN retransmission (1 s; ~5 % of connections stall ≥ 5 ms once ports wrap).
  // kube-proxy's conntrack NAT picks another source port on such a clash; Cilia's BPF DNAT does not
  // (docs/services.md, "Limits"), so one shared client would measure that clash, not the paths.
  const combos = PATHS.flatMap((p) => TARGETS.map((t) => ({ path: p, target: t })));
  const placement = new Map<string, Placement>();
  const clients: string[] = [];
  for (const [i, c] of combos.entries()) {
    if (c.path === 'kube-proxy') placement.set(`${c.path}/${c.target}`, { netns: kp.client.netns });
    else {
      const name = `c${n}-${i}`;
      const ep = await cilia.newClient(name);
      clients.push(name);
      placement.set(`${c.path}/${c.target}`, c.path === 'cilia-socket-lb' ? { netns: ep.netns, cgroup: cilia.cgroup } : { netns: ep.netns });
    }
  }
  const connect: ConnectSample[] = [];
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < combos.length; i++) {
      const { path: p, target: t } = combos[(i + round * 4) % combos.length];
      const port = t === 'pod-ip' ? TARGET_PORT : SERVICE_PORT;
      const busyBefore = await quiet();
      const cpu0 = processCpuMs(cilia.agent.pid);
      const r = await measureConnect(placement.get(`${p}/${t}`)!, targets[p][t], port, connects, warmup);
      const agentCpuMs = processCpuMs(cilia.agent.pid) - cpu0;
      const backendsSeen = Object.keys(r.answers).length;
      const expected = t === 'pod-ip' ? 1 : BACKENDS;
      if (backendsSeen !== expected) throw new Error(`${p} → ${t}: ${backendsSeen} backend(s) answered, expected ${expected} (${JSON.stringify(r.answers)})`);
      connect.push({ ...r, path: p, target: t, round, busyBefore, agentCpuMs, connections: connects + warmup });
    }
    log(`  connect round ${round + 1}/${rounds} done`);
  }
  for (const name of clients) await cilia.deleteClient(name);

  // 3. One more service with N present, `adds` times (each a new service; N grows by a few).
  const add: AddSample[] = [];
  const nftServices = [...kpServices];
  const legacyServices = [...kpServices];
  const putNames: string[] = [];
  let appliedYaml = '';
  for (let k = 0; k < adds; k++) {
    await quiet();
    const viaPut = benchService(serviceName(k, 'put'), vipOf(n + 4 * k), ciliaBackends);
    const ciliaPutMs = await cilia.upsert(upsertRequest(viaPut));
    putNames.push(viaPut.name);
    const oneYaml = manifestYaml([benchService(serviceName(k, 'apply'), vipOf(n + 4 * k + 1), ciliaBackends)]);
    const ciliaApplyOneMs = await cilia.apply(oneYaml, 'application/yaml');
    appliedYaml += `---\n${oneYaml}`;

    const minimal = modelService(benchService(serviceName(k, 'min'), vipOf(n + 4 * k + 2), kpBackends));
    const nftMinimalMs = (await kp.restore(minimalServiceAddition(minimal, nftServices.length, nftServices.length * BACKENDS, KUBE_PROXY), { noflush: true })).ms;
    nftServices.push(minimal);
    const partial = modelService(benchService(serviceName(k, 'sync'), vipOf(n + 4 * k + 3), kpBackends));
    const nftPartialMs = (await kp.restore(renderKubeProxyServiceAddition(nftServices, partial, KUBE_PROXY), { noflush: true })).ms;
    nftServices.push(partial);
    let legacyPartialMs: number | undefined;
    if (legacy !== undefined) {
      legacyPartialMs = (await timedRestore(legacy, renderKubeProxyServiceAddition(legacyServices, partial, KUBE_PROXY), { noflush: true, backend: 'legacy' })).ms;
      legacyServices.push(partial);
    }
    add.push({ ciliaPutMs, ciliaApplyOneMs, nftMinimalMs, nftPartialMs, ...(legacyPartialMs === undefined ? {} : { legacyPartialMs }) });
  }
  if (add.length) {
    const m = (f: (s: AddSample) => number | undefined): string => {
      const v = add.flatMap((s) => f(s) ?? []);
      return v.length ? median(v).toFixed(1) : '-'; // no legacy samples with --no-legacy
    };
    log(`  add one (medians): Cilia PUT ${m((s) => s.ciliaPutMs)} ms, apply ${m((s) => s.ciliaApplyOneMs)} ms; nft minimal ${m((s) => s.nftMinimalMs)} ms, partial sync ${m((s) => s.nftPartialMs)} ms, legacy ${m((s) => s.legacyPartialMs)} ms`);
  }

  // Back to nothing for the next size.
  for (const name of putNames) await cilia.deleteService(name);
  if (appliedYaml) await cilia.deleteManifest(appliedYaml);
  await cilia.deleteManifest(yaml);
  await kp.reset();
  if (legacy !== undefined) await timedRestore(legacy, EMPTY_TABLES, { noflush: false, backend: 'legacy' });
  return { services: n, manifestBytes: { yaml: yaml.length, json: json.length }, ruleset: { lines: rules.split('\n').length - 1, natRules }, program, add, connect };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

