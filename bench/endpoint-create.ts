// Benchmark: endpoint creation latency, "CNI ADD to traffic flowing", measured two ways on one agent:
//   (a) cni  the real CNI path: execute `node dist/daemon/cni.js` with CNI_COMMAND=ADD on a netns made
//            beforehand with `ip netns add`, as a container runtime does; includes Node's own start-up;
//   (b) api  the agent's part: the same request as PUT /v1/endpoint on the API socket.
// The clock starts right before the exec / the request and stops when a UDP packet sent from inside the
// new pod reaches a peer pod (udp_probe.py holds a socket made in the pod's netns beforehand). By default
// the probe starts when ADD returned, as the pod's own process would; `--probe-from add` starts it with
// ADD to see when traffic could flow at the earliest. The two ways alternate, one endpoint at a time,
// with a pause between creations. Also times `node -e 0` and the plugin's VERSION command, and the
// probe's own latency from a pod that is already up (the floor of the measurement).
//
// Usage: node dist/bench/endpoint-create.js [--count 100] [--pause-ms 20] [--probe-from return|add]
//        [--agent-node-arg=--perf-basic-prof]
// Writes bench/results/endpoint-create.json (endpoint-create-probe-add.json with --probe-from add).

import path from 'node:path';
import { parseArgs } from 'node:util';
import type { EndpointJSON } from '../pkg/api/index.js';
import { DIST } from '../test/lib/agent.js';
import { type BenchAgent, cleanupOnSignal, processCpuMs, processMemoryKiB, startBenchAgent } from './lib/agent.js';
import { addNetns, delNetns } from './lib/netns.js';
import { UdpProber } from './lib/probe.js';
import { timedRun } from './lib/process.js';
import { machineInfo, printTable, round, writeResults } from './lib/report.js';
import { type Summary, msBetween, summarize } from './lib/stats.js';

const CNI_JS = path.join(DIST, 'daemon/cni.js');
/** The agent's pod CIDR: room for 2 × 250 endpoints and the peer (bench range, test/lib/ranges.md). */
const POD_CIDR = '10.244.100.0/23';
const PROBE_PORT = 9999;
const GOAL = { p50: 30, p99: 100 };
/** Pod labels of every benchmark endpoint (one shared identity, as the replicas of a deployment). */
const LABELS = { app: 'bn-bench' };

const { values: opts } = parseArgs({
  options: {
    count: { type: 'string', default: '100' },
    'pause-ms': { type: 'string', default: '20' },
    'probe-from': { type: 'string', default: 'return' },
    /**
     * Node flags for the agent, e.g. `--agent-node-arg=--perf-basic-prof` to profile it with `perf record -p`.
     * Not --cpu-prof: its SIGPROF ticks interrupt the BPF verifier, which then fails the load with EAGAIN.
     */
    'agent-node-arg': { type: 'string', multiple: true },
  },
});
const COUNT = Number(opts.count);
const PAUSE_MS = Number(opts['pause-ms']);
/**
 * When the probe starts sending. `return`: once ADD returned, as the pod's own process would. `add`:
 * from the start of ADD (diagnostic: a packet sent while the agent still wires the pod can lose its
 * ARP reply — creating the clsact qdisc on the host veth drops packets for a moment — and then waits
 * for the kernel's 1 s ARP retry).
 */
const PROBE_FROM = opts['probe-from'];
if (!Number.isInteger(COUNT) || COUNT < 1 || COUNT > 250) throw new Error('--count must be an integer in 1..250');
if (!Number.isFinite(PAUSE_MS) || PAUSE_MS < 0) throw new Error('--pause-ms must be a number >= 0');
if (PROBE_FROM !== 'return' && PROBE_FROM !== 'add') throw new Error('--probe-from must be return or add');

type Way = 'cni' | 'api';

/** One endpoint creation, in ms from the start of the exec (cni) or of the request (api). */
interface Sample {
  readonly way: Way;
  readonly i: number;
  /** The plugin exited / the API answered. */
  readonly returnMs: number;
  /** The first probe packet reached the peer. */
  readonly firstPacketMs: number;
  /** max(returnMs, firstPacketMs): the pod can run and its traffic flows. */
  readonly readyMs: number;
  readonly probeSends: number;
}

const netconf = (socket: string): string => JSON.stringify({ cniVersion: '1.0.0', name: 'bn-bench', type: 'cilia-cni', socket, args: { cni: { labels: LABELS } } });

/**
 * The environment the plugin runs with: PATH and the CNI_* variables only. A runtime passes its own
 * environment too; this machine's shell exports NODE_EXTRA_CA_CERTS, which makes every Node start
 * read a CA bundle (~40 ms here), so the shell's environment is timed separately and not used.
 */
const pluginEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, ...extra });

/** Node's own start-up: `node -e 0` (plugin environment and this shell's), the plugin's VERSION command. */
async function nodeStartup(rounds: number): Promise<{ nodeE0: Summary; nodeE0ShellEnv: Summary; cniVersion: Summary }> {
  const e0: number[] = [];
  const e0Shell: number[] = [];
  const version: number[] = [];
  for (let i = 0; i < rounds; i++) {
    e0.push((await timedRun([process.execPath, '-e', '0'], { env: pluginEnv({}) })).ms);
    e0Shell.push((await timedRun([process.execPath, '-e', '0'], { env: process.env })).ms);
    const v = await timedRun([process.execPath, CNI_JS], { env: pluginEnv({ CNI_COMMAND: 'VERSION' }), input: '{"cniVersion":"1.0.0"}' });
    if (v.code !== 0) throw new Error(`cni VERSION failed: ${v.stdout}${v.stderr}`);
    version.push(v.ms);
  }
  return { nodeE0: summarize(e0), nodeE0ShellEnv: summarize(e0Shell), cniVersion: summarize(version) };
}

/** Creates endpoint `i` one `way` and measures it; the probe socket sits in `netns` already. */
async function createOne(agent: BenchAgent, prober: UdpProber, way: Way, i: number, netns: string, probeId: number, runId: string): Promise<Sample> {
  const pod = `bn-${way}-${i}`;
  const containerId = `bn-${way}-${i}-${runId}`;
  const early = PROBE_FROM === 'add' ? prober.go(probeId) : undefined;
  let t0: bigint;
  let tRet: bigint;
  if (way === 'cni') {
    const env = pluginEnv({
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: containerId,
      CNI_NETNS: `/run/netns/${netns}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: path.dirname(CNI_JS),
      CNI_ARGS: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod}`,
    });
    const r = await timedRun([process.execPath, CNI_JS], { env, input: netconf(agent.socket) });
    if (r.code !== 0) throw new Error(`CNI ADD ${pod} failed (${r.code}): ${r.stdout}${r.stderr}`);
    t0 = r.startNs;
    tRet = r.endNs;
  } else {
    t0 = process.hrtime.bigint();
    await agent.client.put<EndpointJSON>('/v1/endpoint', { name: pod, namespace: 'default', labels: LABELS, netns, ifName: 'eth0', containerId });
    tRet = process.hrtime.bigint();
  }
  const a = await (early ?? prober.go(probeId));
  const returnMs = msBetween(t0, tRet);
  const firstPacketMs = msBetween(t0, a.arrivalNs);
  return { way, i, returnMs, firstPacketMs, readyMs: Math.max(returnMs, firstPacketMs), probeSends: a.sends };
}

async function main(): Promise<void> {
  const machine = machineInfo();
  console.log(`endpoint-create: ${COUNT} endpoints each way, probe from ${PROBE_FROM}, ${PAUSE_MS} ms pause, ${machine.cpus} CPUs, load ${machine.loadavg1}`);
  const startup = await nodeStartup(20);

  const agent = await startBenchAgent('create', POD_CIDR, { nodeArgs: opts['agent-node-arg'] ?? [] });
  console.log(`agent pid ${agent.pid}`);
  const prober = UdpProber.start();
  const netnsOf = (way: Way, i: number): string => `bn${way[0]}${String(i).padStart(3, '0')}`;
  const allNetns = ['bnpeer'];
  for (let i = 0; i < COUNT; i++) allNetns.push(netnsOf('cni', i), netnsOf('api', i));
  const cleanup = async (): Promise<void> => {
    await prober.close().catch(() => undefined);
    await agent.cleanup();
    delNetns(allNetns);
  };
  const unregister = cleanupOnSignal(cleanup);
  try {
    addNetns(allNetns);
    const peer = await agent.client.put<EndpointJSON>('/v1/endpoint', { name: 'bn-peer', labels: { app: 'bn-peer' }, netns: 'bnpeer', containerId: 'bn-peer' });
    await prober.listen('/run/netns/bnpeer', PROBE_PORT);
    const cpuBefore = processCpuMs(agent.pid);

    const samples: Sample[] = [];
    const runId = Date.now().toString(36);
    let probeId = 0;
    for (let i = 0; i < COUNT; i++) {
      // Alternate which way goes first, so neither always follows the other's background work.
      for (const way of (i % 2 ? ['api', 'cni'] : ['cni', 'api']) as Way[]) {
        await prober.arm(++probeId, `/run/netns/${netnsOf(way, i)}`, peer.ipv4, PROBE_PORT);
        samples.push(await createOne(agent, prober, way, i, netnsOf(way, i), probeId, runId));
        await new Promise((r) => setTimeout(r, PAUSE_MS));
      }
    }
    const agentCpuMs = processCpuMs(agent.pid) - cpuBefore;
    const memory = processMemoryKiB(agent.pid);

    // The floor: the probe's own latency from a pod that is up (its socket, python, the datapath).
    const floor: number[] = [];
    for (let k = 0; k < 20; k++) {
      await prober.arm(++probeId, `/run/netns/${netnsOf('api', 0)}`, peer.ipv4, PROBE_PORT);
      const t0 = process.hrtime.bigint();
      floor.push(msBetween(t0, (await prober.go(probeId)).arrivalNs));
    }

    const of = (way: Way, f: (s: Sample) => number): Summary => summarize(samples.filter((s) => s.way === way).map(f));
    const results = {
      cni: { ready: of('cni', (s) => s.readyMs), return: of('cni', (s) => s.returnMs), firstPacket: of('cni', (s) => s.firstPacketMs) },
      api: { ready: of('api', (s) => s.readyMs), return: of('api', (s) => s.returnMs), firstPacket: of('api', (s) => s.firstPacketMs) },
      probeFloor: summarize(floor),
    };
    const fmt = (s: Summary): (string | number)[] => [round(s.p50), round(s.p90), round(s.p99), round(s.min), round(s.max)];
    const packet = PROBE_FROM === 'add' ? 'first packet (probe sent from ADD on)' : 'probe (sent at return) at peer';
    console.log('\nLatency in ms (nearest-rank percentiles):');
    printTable(
      ['measure', 'p50', 'p90', 'p99', 'min', 'max'],
      [
        ['(a) CNI ADD exec → traffic flowing', ...fmt(results.cni.ready)],
        ['    CNI ADD exec → plugin exited', ...fmt(results.cni.return)],
        [`    CNI ADD exec → ${packet}`, ...fmt(results.cni.firstPacket)],
        ['(b) PUT /v1/endpoint → traffic flowing', ...fmt(results.api.ready)],
        ['    PUT /v1/endpoint → response', ...fmt(results.api.return)],
        [`    PUT /v1/endpoint → ${packet}`, ...fmt(results.api.firstPacket)],
        ['probe latency from a ready pod (floor)', ...fmt(results.probeFloor)],
        ['node -e 0 (plugin environment)', ...fmt(startup.nodeE0)],
        ['node -e 0 (this shell\'s environment)', ...fmt(startup.nodeE0ShellEnv)],
        ['node cni.js, CNI_COMMAND=VERSION', ...fmt(startup.cniVersion)],
      ],
    );
    const verdict = (s: Summary): string => (s.p50 < GOAL.p50 && s.p99 < GOAL.p99 ? 'met' : 'missed');
    console.log(`\nGoal p50 < ${GOAL.p50} ms, p99 < ${GOAL.p99} ms: (a) ${verdict(results.cni.ready)}, (b) ${verdict(results.api.ready)}`);
    console.log(`Agent CPU during the ${2 * COUNT} creations: ${Math.round(agentCpuMs)} ms (${round(agentCpuMs / (2 * COUNT))} ms per endpoint); agent RSS ${Math.round(memory.rss / 1024)} MiB`);
    const file = writeResults(PROBE_FROM === 'add' ? 'endpoint-create-probe-add' : 'endpoint-create', machine, {
      config: { count: COUNT, pauseMs: PAUSE_MS, probeFrom: PROBE_FROM, podCidr: POD_CIDR, probeIntervalMs: 0.2 },
      goal: GOAL,
      unit: 'ms',
      results,
      nodeStartup: startup,
      agent: { cpuMs: Math.round(agentCpuMs), cpuMsPerEndpoint: round(agentCpuMs / (2 * COUNT)), rssKiB: memory.rss },
      samples: samples.map((s) => ({ ...s, returnMs: round(s.returnMs, 3), firstPacketMs: round(s.firstPacketMs, 3), readyMs: round(s.readyMs, 3) })),
    });
    console.log(`wrote ${file}`);
  } finally {
    unregister();
    await cleanup();
  }
}

await main();
