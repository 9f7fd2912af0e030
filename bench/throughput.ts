// Benchmark: TCP between two pods through Cilia's datapath, as a ratio to a bare veth pair.
// Four pairs of namespaces exist side by side, all MTU 1500 with the kernel's default veth offloads:
//   veth          one veth pair, no BPF: the baseline (one veth crossing);
//   redirect      eBPF host routing reduced to its mechanism: tc ingress on the host-side veth running a
//                 program that only calls bpf_redirect_peer() (bench/lib/pairs.ts);
//   cilia         two endpoints of one agent, no policy: cil_from_container on the sender's host veth
//                 (endpoint and conntrack lookups, MAC/TTL rewrite, metrics) and bpf_redirect_peer;
//   cilia-policy  the same with an L4 ingress policy enforced on the server.
// Tests: stream (iperf3, one flow), rr (one connection, 1-byte ping-pong), crr (connect, 1-byte request
// and response, close) — see bench/lib/tcp-tests.ts. Each round runs every test on every pair, the
// pairs in rotating order; results are medians over rounds, ratios median(pair) / median(veth), and
// "paired" ratios the median of per-round ratios (robust to drift of a shared machine). Afterwards, with
// the kernel's BPF run-time accounting on, one more rr/crr/stream on the BPF pairs tells how much of
// each transaction the programs take. It also records proof of the path: the datapath's counters and the
// server's host veth not transmitting (bpf_redirect_peer skips it).
//
// Usage: node dist/bench/throughput.js [--rounds 5] [--stream-seconds 5] [--rr-seconds 3]
//        [--pin same|split|none] [--quiet-busy 0.15] [--quiet-wait-s 20] [--bpf-stats on|off]
// Writes bench/results/throughput.json.

import { type ChildProcess, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import type { EndpointJSON } from '../pkg/api/index.js';
import { type BenchAgent, cleanupOnSignal, processCpuMs, startBenchAgent } from './lib/agent.js';
import { type ProgramRuns, tcProgramIds, withBpfStats } from './lib/bpf-stats.js';
import { addNetns, delNetns } from './lib/netns.js';
import { makeRedirectPair, makeVethPair } from './lib/pairs.js';
import { waitQuiet } from './lib/quiet.js';
import { machineInfo, printTable, round, writeResults } from './lib/report.js';
import { median } from './lib/stats.js';
import { IPERF_PORT, type NetnsPair, RR_PORT, TCP_TESTS, TCP_UNIT, type TcpTest, type TcpTestConfig, offloads, runTcpTest, startServers } from './lib/tcp-tests.js';

/** The agent's pod CIDR; the reference pairs use 10.244.103.0/24 inside their own namespaces only. */
const POD_CIDR = '10.244.102.0/24';
const GOALS: Record<TcpTest, number> = { stream: 0.97, rr: 0.95, crr: 0.93 };

const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    'stream-seconds': { type: 'string', default: '5' },
    'rr-seconds': { type: 'string', default: '3' },
    /**
     * CPU placement. `same` (default): client and server both on CPU 0, so every test is a one-core
     * test whose rate is set by the CPU cost per byte / transaction — reproducible, and a second CPU is
     * left for other work. `split`: clients on CPU 0, servers on CPU 1. `none`: the scheduler decides,
     * and puts a ping-pong pair on one CPU or two from run to run (rr rates then differ by 5x).
     */
    pin: { type: 'string', default: 'same' },
    /** Before each test wait (up to --quiet-wait-s) until the CPUs are less than this busy; 1 = never wait. */
    'quiet-busy': { type: 'string', default: '0.15' },
    'quiet-wait-s': { type: 'string', default: '20' },
    /** Measure the programs' run time afterwards (turns kernel.bpf_stats_enabled on for that, then back). */
    'bpf-stats': { type: 'string', default: 'on' },
  },
});
const ROUNDS = Number(opts.rounds);
const PIN = opts.pin;
const QUIET_BUSY = Number(opts['quiet-busy']);
const QUIET_WAIT_MS = Number(opts['quiet-wait-s']) * 1000;
const BPF_STATS = opts['bpf-stats'];
const CFG: TcpTestConfig = {
  streamSeconds: Number(opts['stream-seconds']),
  rrSeconds: Number(opts['rr-seconds']),
  clientCpu: PIN === 'none' ? [] : ['taskset', '-c', '0'],
  serverCpu: PIN === 'none' ? [] : ['taskset', '-c', PIN === 'split' ? '1' : '0'],
};
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds must be a positive integer');
if (PIN !== 'split' && PIN !== 'same' && PIN !== 'none') throw new Error('--pin must be same, split or none');
if (!(CFG.streamSeconds >= 1) || !(CFG.rrSeconds >= 1)) throw new Error('--stream-seconds and --rr-seconds must be >= 1');
if (!(QUIET_BUSY > 0 && QUIET_BUSY <= 1) || !(QUIET_WAIT_MS >= 0)) throw new Error('--quiet-busy must be in (0, 1], --quiet-wait-s >= 0');
if (BPF_STATS !== 'on' && BPF_STATS !== 'off') throw new Error('--bpf-stats must be on or off');

type PairName = 'veth' | 'redirect' | 'cilia' | 'cilia-policy';
const PAIRS: readonly PairName[] = ['veth', 'redirect', 'cilia', 'cilia-policy'];
const NETNS = ['bntva', 'bntvb', 'bntrh', 'bntra', 'bntrb', 'bntpa', 'bntpb', 'bntpc', 'bntpd'];

/** A pair and the BPF programs that carry its traffic (for the run-time diagnostics). */
interface BenchPair extends NetnsPair {
  readonly name: PairName;
  readonly programIds: readonly number[];
  /** Cilia pairs: the client's and the server's host-side veth. */
  readonly hostIfs?: readonly [string, string];
}

/** The server lets the policy client in on the test ports, and nobody else (a CNP, as users write them). */
const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: bn-tp-server
  namespace: default
spec:
  endpointSelector:
    matchLabels:
      app: bn-tp-pserver
  ingress:
    - fromEndpoints:
        - matchLabels:
            app: bn-tp-pclient
      toPorts:
        - ports:
            - port: "${IPERF_PORT}"
              protocol: TCP
            - port: "${RR_PORT}"
              protocol: TCP
`;

async function setUpPairs(agent: BenchAgent): Promise<BenchPair[]> {
  const ep = (name: string, netns: string): Promise<EndpointJSON> => agent.client.put<EndpointJSON>('/v1/endpoint', { name, labels: { app: name }, netns, containerId: name });
  const a = await ep('bn-tp-client', 'bntpa');
  const b = await ep('bn-tp-server', 'bntpb');
  const c = await ep('bn-tp-pclient', 'bntpc');
  const d = await ep('bn-tp-pserver', 'bntpd');
  await agent.client.request('PUT', '/v1/policy?wait=true', undefined, POLICY, 'application/yaml');
  const ciliaIds = [...tcProgramIds(a.hostIfName, 'ingress'), ...tcProgramIds(a.hostIfName, 'egress')];
  return [
    { ...makeVethPair('veth', 'bntva', 'bntvb', '10.244.103.1', '10.244.103.2'), name: 'veth', programIds: [] },
    { ...makeRedirectPair('redirect', 'bntrh', 'bntra', 'bntrb', '10.244.103.17', '10.244.103.18'), name: 'redirect', programIds: tcProgramIds('ha', 'ingress', 'bntrh') },
    { name: 'cilia', client: 'bntpa', server: 'bntpb', serverIp: b.ipv4, programIds: ciliaIds, hostIfs: [a.hostIfName, b.hostIfName] },
    { name: 'cilia-policy', client: 'bntpc', server: 'bntpd', serverIp: d.ipv4, programIds: ciliaIds, hostIfs: [c.hostIfName, d.hostIfName] },
  ];
}

function linkStat(ifName: string, stat: string): number {
  return Number(fs.readFileSync(`/sys/class/net/${ifName}/statistics/${stat}`, 'utf8'));
}

/** Output of a command in the host netns, or why it failed (for the record, never fatal). */
function execText(argv: readonly string[]): string {
  try {
    return execFileSync(argv[0], argv.slice(1), { encoding: 'utf8' }).trim();
  } catch (err) {
    return `(${argv.join(' ')} failed: ${err instanceof Error ? err.message : String(err)})`;
  }
}

type Sample = { round: number; test: TcpTest; pair: PairName; value: number; busyBefore: number; detail: Record<string, unknown> };

async function measureRounds(pairs: readonly BenchPair[], agentPid: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const order = PAIRS.map((_, k) => PAIRS[(k + r) % PAIRS.length]);
    for (const test of TCP_TESTS) {
      for (const name of order) {
        const busyBefore = QUIET_BUSY < 1 ? await waitQuiet(QUIET_BUSY, QUIET_WAIT_MS) : 0;
        const cpu0 = processCpuMs(agentPid);
        const res = await runTcpTest(pairs.find((p) => p.name === name)!, test, CFG);
        // The agent's CPU time during the test: it reads the datapath's events (crr: several per connection).
        const agentCpuMs = processCpuMs(agentPid) - cpu0;
        samples.push({ round: r, test, pair: name, busyBefore: round(busyBefore, 2), value: res.value, detail: { ...res.detail, agentCpuMs } });
      }
    }
    const line = TCP_TESTS.map((t) => `${t} ${PAIRS.map((p) => round(samples.find((s) => s.round === r && s.test === t && s.pair === p)!.value, t === 'stream' ? 2 : 0)).join('/')}`);
    console.log(`round ${r + 1}/${ROUNDS} (${PAIRS.join('/')}): ${line.join(', ')}`);
  }
  return samples;
}

/** Program run time per packet and per transaction, for each BPF pair and test. */
async function programCost(pairs: readonly BenchPair[]): Promise<{ pair: PairName; test: TcpTest; rate: number; programs: ProgramRuns[]; bpfUsPerTransaction: number }[]> {
  const out = [];
  for (const pair of pairs.filter((p) => p.programIds.length)) {
    for (const test of TCP_TESTS) {
      await waitQuiet(QUIET_BUSY, QUIET_WAIT_MS);
      const { result, programs } = await withBpfStats(pair.programIds, () => runTcpTest(pair, test, CFG));
      const seconds = test === 'stream' ? CFG.streamSeconds : CFG.rrSeconds;
      // Transactions in the run: rr/crr count them; a stream's "transaction" is a GB here.
      const transactions = test === 'stream' ? (result.value * seconds) / 8 : result.value * seconds;
      const ns = programs.reduce((a, p) => a + p.runs * p.avgNs, 0);
      out.push({ pair: pair.name, test, rate: result.value, programs, bpfUsPerTransaction: round(ns / 1000 / transactions, 3) });
    }
  }
  return out;
}

async function main(): Promise<void> {
  const machine = machineInfo();
  console.log(`throughput: ${ROUNDS} rounds, stream ${CFG.streamSeconds} s, rr/crr ${CFG.rrSeconds} s, pin ${PIN}, ${machine.cpus} CPUs, load ${machine.loadavg1}`);
  if (PIN === 'split' && machine.cpus < 2) throw new Error('--pin split needs 2 CPUs');
  const agent = await startBenchAgent('tput', POD_CIDR);
  const servers: ChildProcess[] = [];
  const cleanup = async (): Promise<void> => {
    for (const s of servers) s.kill('SIGKILL');
    await agent.cleanup();
    delNetns(NETNS, { kill: true });
  };
  const unregister = cleanupOnSignal(cleanup);
  try {
    addNetns(NETNS);
    const pairs = await setUpPairs(agent);
    for (const p of pairs) servers.push(...(await startServers(p, CFG)));
    const [clientHostIf, serverHostIf] = pairs.find((p) => p.name === 'cilia')!.hostIfs!;
    const before = { clientHostRx: linkStat(clientHostIf, 'rx_bytes'), serverHostTx: linkStat(serverHostIf, 'tx_bytes') };

    const samples = await measureRounds(pairs, agent.pid);

    // Proof of the path: the programs' counters, and the server's host veth idle while the client's
    // received everything (bpf_redirect_peer hands packets to the server pod without transmitting them
    // on the server's host veth).
    const datapathCheck = {
      ciliaClientHostVethRxBytes: linkStat(clientHostIf, 'rx_bytes') - before.clientHostRx,
      ciliaServerHostVethTxBytes: linkStat(serverHostIf, 'tx_bytes') - before.serverHostTx,
      metrics: await agent.client.get<{ reasonName: string; direction: string; packets: string; bytes: string }[]>('/v1/bpf/metrics'),
      clientHostVethIngressFilter: execText(['tc', 'filter', 'show', 'dev', clientHostIf, 'ingress']),
    };
    const cost = BPF_STATS === 'on' ? await programCost(pairs) : [];

    const results = {} as Record<TcpTest, { pairs: Record<PairName, { median: number; samples: number[] }>; ratio: Record<string, number>; pairedRatio: Record<string, number> }>;
    for (const test of TCP_TESTS) {
      const per = {} as Record<PairName, { median: number; samples: number[] }>;
      for (const p of PAIRS) {
        const xs = samples.filter((s) => s.test === test && s.pair === p).map((s) => s.value);
        per[p] = { median: median(xs), samples: xs.map((x) => round(x, 3)) };
      }
      const ratio: Record<string, number> = {};
      const pairedRatio: Record<string, number> = {};
      for (const p of PAIRS.filter((x) => x !== 'veth')) {
        ratio[p] = round(per[p].median / per.veth.median, 3);
        pairedRatio[p] = round(median(per[p].samples.map((x, i) => x / per.veth.samples[i])), 3);
      }
      results[test] = { pairs: per, ratio, pairedRatio };
    }

    console.log('\nMedians over rounds; ratio = median(pair) / median(veth), (paired = median of per-round ratios):');
    printTable(
      ['test', 'unit', 'veth', ...PAIRS.filter((p) => p !== 'veth'), 'goal for cilia'],
      TCP_TESTS.map((t) => {
        const x = results[t];
        const d = t === 'stream' ? 2 : 0;
        return [t, TCP_UNIT[t], round(x.pairs.veth.median, d), ...PAIRS.filter((p) => p !== 'veth').map((p) => `${round(x.pairs[p].median, d)}  ${x.ratio[p]} (${x.pairedRatio[p]})`), `≥ ${GOALS[t]}`];
      }),
    );
    const crrCpu = samples.filter((s) => s.test === 'crr' && s.pair === 'cilia');
    const cpuPerConn = median(crrCpu.map((s) => (s.detail.agentCpuMs as number) / (s.value * CFG.rrSeconds)));
    console.log(`Agent CPU during cilia crr: median ${round(cpuPerConn * 1000, 1)} µs per connection (${round(median(crrCpu.map((s) => s.detail.agentCpuMs as number)) / 10 / CFG.rrSeconds, 1)} % of a CPU)`);
    const o = { veth: offloads('bntva'), redirect: offloads('bntra'), cilia: offloads('bntpa') };
    if (JSON.stringify(o.veth) !== JSON.stringify(o.cilia) || JSON.stringify(o.veth) !== JSON.stringify(o.redirect)) console.log(`Offloads differ between pairs: ${JSON.stringify(o)}`);
    const busy = samples.map((s) => s.busyBefore);
    console.log(`Machine busy before a test (other work): median ${round(median(busy) * 100)} %, max ${round(Math.max(...busy) * 100)} % (waited for < ${QUIET_BUSY * 100} %, up to ${QUIET_WAIT_MS / 1000} s)`);
    if (cost.length) {
      console.log('\nBPF program run time (kernel.bpf_stats_enabled, one extra run each):');
      printTable(
        ['pair', 'test', 'rate', 'program runs, avg ns', 'BPF µs per transaction (stream: per GB)'],
        cost.map((c) => [c.pair, c.test, round(c.rate, c.test === 'stream' ? 2 : 0), c.programs.filter((p) => p.runs).map((p) => `${p.name} ${p.runs}×${p.avgNs}`).join(', '), c.bpfUsPerTransaction]),
      );
    }
    const streamBytes = samples.filter((s) => s.test === 'stream' && s.pair === 'cilia').reduce((a, s) => a + (s.value * 1e9 * CFG.streamSeconds) / 8, 0);
    console.log(`\nPath check (cilia pair): client's host veth received ${round(datapathCheck.ciliaClientHostVethRxBytes / 2 ** 30, 2)} GiB (its streams ≈ ${round(streamBytes / 2 ** 30, 2)} GiB); server's host veth transmitted ${datapathCheck.ciliaServerHostVethTxBytes} bytes (bpf_redirect_peer skips it)`);
    const m = datapathCheck.metrics;
    console.log(`Datapath counters: ${m.filter((x) => x.reasonName === 'Forwarded').map((x) => `Forwarded ${x.direction} ${x.packets} pkts`).join(', ')}; drops: ${m.filter((x) => x.reasonName !== 'Forwarded').map((x) => `${x.reasonName} ${x.direction} ${x.packets}`).join(', ') || 'none'}`);
    const file = writeResults('throughput', machine, {
      config: { rounds: ROUNDS, ...CFG, pin: PIN, quietBusy: QUIET_BUSY, quietWaitS: QUIET_WAIT_MS / 1000, mtu: 1500, podCidr: POD_CIDR },
      goals: GOALS,
      units: TCP_UNIT,
      results,
      programCost: cost,
      offloads: o,
      datapathCheck,
      samples: samples.map((s) => ({ ...s, value: round(s.value, 4) })),
    });
    console.log(`wrote ${file}`);
  } finally {
    unregister();
    await cleanup();
  }
}

await main();
