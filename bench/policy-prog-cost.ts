// Benchmark: what policy costs inside the datapath program, measured by the kernel. bpf_lxc.o's
// cil_from_container runs on test packets through BPF_PROG_TEST_RUN (`repeat` runs, the kernel reports
// the mean time per run), for a packet from endpoint A delivered locally to endpoint B, whose ingress
// side runs in the same program:
//   - established: a TCP ACK of a connection conntrack knows (no policy lookup, revision unchanged);
//   - new, denied: a SYN that B's policy does not allow (three LPM lookups, a drop, a drop event);
// with B not enforced, enforced with one entry, and enforced with 10,000 entries (1,000 identities ×
// 10 ports). Not scheduling-sensitive like the traffic benchmark (policy-datapath.ts).
//
// The kernel runs the repeats on one skb without restoring it, and local delivery decrements the TTL:
// a packet starts with TTL 255 and each sample repeats it 250 times; many samples make up for the
// short batches (the kernel's clock brackets the whole batch).
//
// Run: node dist/bench/policy-prog-cost.js [--samples=2000]

import { parseArgs } from 'node:util';
import { TcpFlag, tcpPacket } from '../pkg/datapath/packet.js';
import { LxcTestbed, TC_ACT_REDIRECT, TC_ACT_SHOT, testEndpoint } from '../pkg/datapath/testbed.js';
import { machineInfo, printTable, writeResults } from './lib/report.js';
import { summarize } from './lib/stats.js';

const { values } = parseArgs({ options: { samples: { type: 'string', default: '2000' } } });
const REPEAT = 250;
const SAMPLES = Number(values.samples);
const TCP = 6;

type Config = 'none' | 'one entry' | '10,000 entries';
const A = testEndpoint(1);
const B = testEndpoint(2);

const tb = await LxcTestbed.open();
try {
  const rows: { config: Config; entries: number; case: string; nsPerPacket: ReturnType<typeof summarize> }[] = [];
  for (const config of ['none', 'one entry', '10,000 entries'] as Config[]) {
    tb.reset();
    const b = { ...B, ingressEnforced: config !== 'none' };
    tb.addEndpoint(A);
    tb.addEndpoint(b);
    tb.as(A);
    let entries = 0;
    if (config !== 'none') {
      tb.policy({ epId: B.id, dir: 'ingress', identity: A.identity, proto: TCP, port: 80 });
      entries++;
    }
    if (config === '10,000 entries') {
      for (let id = 0; id < 1000; id++) for (let port = 0; port < 10; port++) tb.policy({ epId: B.id, dir: 'ingress', identity: 20_000 + id, proto: TCP, port: 6000 + port });
      entries += 10_000;
    }
    // The connection A:40000 → B:80 is allowed (or not enforced) and becomes established.
    const syn = tb.fromContainer(tcpPacket(A.ip, 40000, B.ip, 80, TcpFlag.SYN));
    if (syn.retval !== TC_ACT_REDIRECT) throw new Error(`${config}: the allowed SYN got ${syn.retval}`);
    const cases: { name: string; pkt: Buffer; want: number }[] = [{ name: 'established', pkt: tcpPacket(A.ip, 40000, B.ip, 80, TcpFlag.ACK, { ttl: 255 }), want: TC_ACT_REDIRECT }];
    if (config !== 'none') cases.push({ name: 'new, denied', pkt: tcpPacket(A.ip, 40001, B.ip, 81, TcpFlag.SYN, { ttl: 255 }), want: TC_ACT_SHOT });
    for (const c of cases) {
      const ns: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const r = tb.fromContainer(c.pkt, REPEAT);
        if (r.retval !== c.want) throw new Error(`${config} ${c.name}: verdict ${r.retval}, expected ${c.want}`);
        ns.push(r.durationNs);
      }
      rows.push({ config, entries, case: c.name, nsPerPacket: summarize(ns) });
    }
  }
  const base = rows.find((r) => r.config === 'none' && r.case === 'established')!.nsPerPacket.p50;
  printTable(
    ['POLICY ON B', 'ENTRIES', 'PACKET', 'ns/packet p50', 'min', 'max', 'vs none (established)'],
    rows.map((r) => [r.config, r.entries, r.case, r.nsPerPacket.p50, r.nsPerPacket.min, r.nsPerPacket.max, r.case === 'established' ? `${Math.round((1000 * (r.nsPerPacket.p50 - base)) / base) / 10}%` : '-']),
  );
  console.log(`(cil_from_container with local delivery, BPF_PROG_TEST_RUN: ${SAMPLES} samples of ${REPEAT} runs each; the kernel's mean per run)`);
  console.log(`results: ${writeResults('policy-prog-cost', machineInfo(), { unit: 'ns per packet', repeat: REPEAT, samples: SAMPLES, results: rows })}`);
} finally {
  await tb.close();
}
