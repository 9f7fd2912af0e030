// Summarizes a V8 CPU profile (.cpuprofile, e.g. from `policy-propagation --profile`): the functions
// with the most self time, and the most inclusive time, as a table.
//
// Run: node dist/bench/policy-hotspots.js FILE.cpuprofile [--top=25]

import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { printTable } from './lib/report.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
if (positionals.length !== 1) {
  console.error('usage: policy-hotspots FILE.cpuprofile [--top=N]');
  process.exit(2);
}
const profile = JSON.parse(fs.readFileSync(positionals[0], 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url ? `${path.basename(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : ''}`.trim();

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const us = profile.timeDeltas[i] ?? 0;
  total += us;
  const node = byId.get(id)!;
  self.set(label(node), (self.get(label(node)) ?? 0) + us);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!);
    if (!seen.has(l)) inclusive.set(l, (inclusive.get(l) ?? 0) + us);
    seen.add(l);
  }
});
const top = Number(values.top);
const rows = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => [(us / 1000).toFixed(1), ((100 * us) / total).toFixed(1), k]);
console.log(`profile: ${(total / 1e6).toFixed(2)} s sampled`);
console.log('\nSELF');
printTable(['MS', '%', 'FUNCTION'], rows(self));
console.log('\nINCLUSIVE');
printTable(['MS', '%', 'FUNCTION'], rows(inclusive));
