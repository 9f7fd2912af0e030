// Benchmark: the agent with 1,000 endpoints. Creates them through PUT /v1/endpoint (netns made
// beforehand in one `ip -batch`, as a runtime would), `--concurrency` requests in flight, and reports the
// create rate, the latency of each create as the count grows (first vs last hundred: anything O(n) per
// endpoint shows here), the agent's RSS (VmRSS from /proc/<pid>/status) idle, every 100 endpoints and
// after deleting them all again, its CPU time, and the delete rate.
//
// Usage: node dist/bench/endpoint-scale.js [--count 1000] [--concurrency 1]
// Writes bench/results/endpoint-scale.json (endpoint-scale-c<N>.json for a concurrency N > 1).

import { parseArgs } from 'node:util';
import { cleanupOnSignal, processCpuMs, processMemoryKiB, startBenchAgent } from './lib/agent.js';
import { addNetns, delNetns } from './lib/netns.js';
import { machineInfo, printTable, round, writeResults } from './lib/report.js';
import { msBetween, summarize } from './lib/stats.js';

/** The whole benchmark range: 1021 pod addresses besides the router's. Run no other benchmark meanwhile. */
const POD_CIDR = '10.244.100.0/22';

const { values: opts } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '1' },
  },
});
const COUNT = Number(opts.count);
const CONCURRENCY = Number(opts.concurrency);
if (!Number.isInteger(COUNT) || COUNT < 100 || COUNT > 1020) throw new Error('--count must be an integer in 100..1020');
if (!Number.isInteger(CONCURRENCY) || CONCURRENCY < 1 || CONCURRENCY > 64) throw new Error('--concurrency must be an integer in 1..64');

/** Runs `fn(i)` for i in [0, count) with at most `width` calls in flight, in index order. */
async function pool(count: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker));
}

const mib = (kib: number): number => round(kib / 1024, 1);

async function main(): Promise<void> {
  const machine = machineInfo();
  console.log(`endpoint-scale: ${COUNT} endpoints, ${CONCURRENCY} request(s) in flight, ${machine.cpus} CPUs, load ${machine.loadavg1}`);
  const netns = Array.from({ length: COUNT }, (_, i) => `bns${String(i).padStart(4, '0')}`);
  const agent = await startBenchAgent('scale', POD_CIDR);
  const cleanup = async (): Promise<void> => {
    await agent.cleanup();
    delNetns(netns);
  };
  const unregister = cleanupOnSignal(cleanup);
  try {
    const tNs = process.hrtime.bigint();
    addNetns(netns);
    const netnsMs = msBetween(tNs, process.hrtime.bigint());
    // Let start-up work (JIT, first GCs) settle before the idle reading.
    await new Promise((r) => setTimeout(r, 2000));
    const idle = processMemoryKiB(agent.pid);
    const cpu0 = processCpuMs(agent.pid);

    const latency: number[] = new Array<number>(COUNT);
    /** Per hundred endpoints created: RSS at its end, the agent's CPU time during it, its latency median. */
    const every100: { endpoints: number; rssKiB: number; agentCpuMsPerCreate: number; p50Ms: number }[] = [];
    let cpuMark = cpu0;
    let done = 0;
    const t0 = process.hrtime.bigint();
    await pool(COUNT, CONCURRENCY, async (i) => {
      const s = process.hrtime.bigint();
      await agent.client.put('/v1/endpoint', { name: `bn-s${i}`, labels: { app: 'bn-scale' }, netns: netns[i], containerId: `bn-s${i}` });
      latency[i] = msBetween(s, process.hrtime.bigint());
      if (++done % 100 === 0) {
        const cpu = processCpuMs(agent.pid);
        // With requests in flight the last hundred finished are not exactly indexes done-100..done-1; close enough.
        const recent = latency.slice(done - 100, done).filter((x) => x !== undefined);
        every100.push({ endpoints: done, rssKiB: processMemoryKiB(agent.pid).rss, agentCpuMsPerCreate: round((cpu - cpuMark) / 100), p50Ms: round(recent.length ? summarize(recent).p50 : NaN) });
        cpuMark = cpu;
      }
    });
    const createS = msBetween(t0, process.hrtime.bigint()) / 1000;
    const createCpuMs = processCpuMs(agent.pid) - cpu0;
    const full = processMemoryKiB(agent.pid);
    await new Promise((r) => setTimeout(r, 2000));
    const fullSettled = processMemoryKiB(agent.pid);
    const list = await agent.client.get<{ state: string }[]>('/v1/endpoint');
    const ready = list.filter((e) => e.state === 'ready').length;

    const cpu1 = processCpuMs(agent.pid);
    const t1 = process.hrtime.bigint();
    await pool(COUNT, CONCURRENCY, async (i) => {
      await agent.client.delete(`/v1/endpoint?containerId=bn-s${i}&ifName=eth0`);
    });
    const deleteS = msBetween(t1, process.hrtime.bigint()) / 1000;
    const deleteCpuMs = processCpuMs(agent.pid) - cpu1;
    await new Promise((r) => setTimeout(r, 2000));
    const afterDelete = processMemoryKiB(agent.pid);

    const first = summarize(latency.slice(0, 100));
    const last = summarize(latency.slice(-100));
    const all = summarize(latency);
    console.log('');
    printTable(
      ['measure', 'value'],
      [
        ['endpoints created (ready)', `${COUNT} (${ready})`],
        ['create rate', `${round(COUNT / createS, 1)} endpoints/s (${round(createS, 2)} s)`],
        ['create latency p50 / p99, all', `${round(all.p50)} / ${round(all.p99)} ms`],
        ['create latency p50 / p99, first 100', `${round(first.p50)} / ${round(first.p99)} ms`],
        ['create latency p50 / p99, last 100', `${round(last.p50)} / ${round(last.p99)} ms`],
        ['agent CPU per create', `${round(createCpuMs / COUNT)} ms`],
        ['agent RSS idle (0 endpoints)', `${mib(idle.rss)} MiB`],
        [`agent RSS with ${COUNT} endpoints`, `${mib(full.rss)} MiB (2 s later ${mib(fullSettled.rss)} MiB, peak ${mib(fullSettled.hwm)} MiB)`],
        ['agent RSS per endpoint', `${round((fullSettled.rss - idle.rss) / COUNT, 1)} KiB`],
        ['delete rate', `${round(COUNT / deleteS, 1)} endpoints/s (agent CPU ${round(deleteCpuMs / COUNT)} ms each)`],
        ['agent RSS after deleting all', `${mib(afterDelete.rss)} MiB`],
        [`ip -batch: create ${COUNT} netns`, `${round(netnsMs)} ms`],
      ],
    );
    console.log('\nWhile creating, per hundred endpoints:');
    printTable(['endpoints', 'create p50 ms', 'agent CPU ms/create', 'VmRSS MiB'], every100.map((r) => [r.endpoints, r.p50Ms, r.agentCpuMsPerCreate, mib(r.rssKiB)]));
    const file = writeResults(CONCURRENCY === 1 ? 'endpoint-scale' : `endpoint-scale-c${CONCURRENCY}`, machine, {
      config: { count: COUNT, concurrency: CONCURRENCY, podCidr: POD_CIDR },
      create: { seconds: round(createS, 3), perSecond: round(COUNT / createS, 1), ready, latencyMs: { all, first100: first, last100: last }, agentCpuMsPerEndpoint: round(createCpuMs / COUNT, 3) },
      delete: { seconds: round(deleteS, 3), perSecond: round(COUNT / deleteS, 1), agentCpuMsPerEndpoint: round(deleteCpuMs / COUNT, 3) },
      rssKiB: { idle: idle.rss, full: full.rss, fullSettled: fullSettled.rss, peak: fullSettled.hwm, afterDelete: afterDelete.rss, perEndpoint: round((fullSettled.rss - idle.rss) / COUNT, 2), every100 },
      netnsCreateMs: round(netnsMs),
    });
    console.log(`wrote ${file}`);
  } finally {
    unregister();
    await cleanup();
  }
}

await main();
