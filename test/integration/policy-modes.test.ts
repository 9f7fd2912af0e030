// Policy enforcement modes (`cilia-agent --enable-policy=always|never`) on a real agent with real
// traffic. The default mode is covered by policy.test.ts.
//
// Isolation (test/lib/ranges.md): names tqm-*/tqn-*, prefixes tqm/tqn, pod CIDRs 10.244.22.0/24 (always)
// and 10.244.23.0/24 (never).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EndpointJSON } from '../../pkg/api/index.js';
import { type TestAgent, startAgent } from '../lib/agent.js';
import { PodProcess, type ProbeTarget, type ReachCase, reachMismatches } from '../lib/pod-process.js';

/** An agent in one mode with two endpoints `a` and `b` (labels app=a / app=b) serving TCP 80, 22 and UDP 53. */
class ModeFixture {
  agent!: TestAgent;
  readonly ep: Record<'a' | 'b', EndpointJSON> = {} as never;
  readonly pod: Record<'a' | 'b', PodProcess> = {} as never;
  host!: PodProcess;
  private fileNo = 0;

  constructor(
    private readonly mode: 'always' | 'never',
    private readonly prefix: string,
    private readonly podCidr: string,
  ) {}

  async start(): Promise<void> {
    this.agent = await startAgent(`tq-${this.mode}`, { datapath: { prefix: this.prefix, podCidr: this.podCidr }, args: [`--enable-policy=${this.mode}`] });
    for (const n of ['a', 'b'] as const) {
      this.ep[n] = JSON.parse(await this.agent.cliOk(['endpoint', 'create', '--name', `${this.prefix}-${n}`, '--labels', `app=${n}`])) as EndpointJSON;
      this.pod[n] = await PodProcess.start(this.ep[n].netns, { name: n, tcp: [80, 22], udp: [53] });
    }
    this.host = await PodProcess.start(undefined, { name: 'host' });
  }

  async stop(): Promise<void> {
    for (const p of [...Object.values(this.pod), this.host]) await p?.stop();
    await this.agent?.cleanup();
  }

  async importPolicy(rules: unknown): Promise<void> {
    const file = path.join(this.agent.dir, `policy-${++this.fileNo}.json`);
    fs.writeFileSync(file, JSON.stringify(rules));
    await this.agent.cliOk(['policy', 'import', file, '--wait']);
  }

  to(n: 'a' | 'b', port: number, proto: 'tcp' | 'udp' = 'tcp'): ProbeTarget & { name: string } {
    return { proto, host: this.ep[n].ipv4, port, name: n };
  }

  async expectReach(cases: ReachCase[], what: string): Promise<void> {
    const bad = await reachMismatches(cases);
    assert.deepEqual(bad, [], `${what}:\n${bad.join('\n')}`);
  }
}

// Distinct labels: an import replaces the rules that carry the same label set.
const EGRESS_A_TO_B = { labels: [{ key: 'name', value: 'egress-a' }], endpointSelector: { matchLabels: { app: 'a' } }, egress: [{ toEndpoints: [{ matchLabels: { app: 'b' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }] }] }] };
const INGRESS_B_FROM_A = { labels: [{ key: 'name', value: 'ingress-b' }], endpointSelector: { matchLabels: { app: 'b' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'a' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }] }] }] };

describe('--enable-policy=always: every endpoint is enforced both ways, with or without rules', { timeout: 120_000 }, () => {
  const f = new ModeFixture('always', 'tqm', '10.244.22.0/24');
  before(() => f.start());
  after(() => f.stop());

  test('without rules nothing passes between endpoints; the host still reaches them', { timeout: 30_000 }, async () => {
    assert.match(await f.agent.cliOk(['endpoint', 'list']), new RegExp(`Enabled\\s+Enabled\\s+${f.ep.a.identity}\\s+default/tqm-a`));
    assert.match(await f.agent.cliOk(['policy', 'get']), /enforcement: always/);
    await f.expectReach(
      [
        { from: f.pod.a, to: f.to('b', 80), reach: false },
        { from: f.pod.b, to: f.to('a', 53, 'udp'), reach: false },
        { from: f.host, to: f.to('a', 22), reach: true },
        { from: f.host, to: f.to('b', 80), reach: true },
      ],
      'always, no rules',
    );
  });

  test('a flow needs both the sender\'s egress and the receiver\'s ingress allow', { timeout: 30_000 }, async () => {
    await f.importPolicy([INGRESS_B_FROM_A]);
    await f.expectReach([{ from: f.pod.a, to: f.to('b', 80), reach: false }], 'ingress allow only');
    await f.importPolicy([EGRESS_A_TO_B]);
    await f.expectReach(
      [
        { from: f.pod.a, to: f.to('b', 80), reach: true },
        { from: f.pod.a, to: f.to('b', 22), reach: false },
        { from: f.pod.b, to: f.to('a', 80), reach: false },
      ],
      'egress and ingress allows',
    );
    await f.agent.cliOk(['policy', 'delete', '--all', '--wait']);
    await f.expectReach([{ from: f.pod.a, to: f.to('b', 80), reach: false }], 'rules deleted');
  });
});

describe('--enable-policy=never: rules are stored but nothing is enforced', { timeout: 120_000 }, () => {
  const f = new ModeFixture('never', 'tqn', '10.244.23.0/24');
  before(() => f.start());
  after(() => f.stop());

  test('denying rules change nothing in the datapath', { timeout: 30_000 }, async () => {
    await f.importPolicy([
      { ...INGRESS_B_FROM_A, ingressDeny: [{ fromEndpoints: [{ matchLabels: { app: 'a' } }] }] },
      { endpointSelector: { matchLabels: { app: 'a' } }, egress: [{}] },
    ]);
    assert.match(await f.agent.cliOk(['policy', 'get']), /enforcement: never/);
    assert.match(await f.agent.cliOk(['endpoint', 'list']), new RegExp(`Disabled\\s+Disabled\\s+${f.ep.b.identity}\\s+default/tqn-b`));
    const bpf = await f.agent.cliOk(['bpf', 'policy', 'get', 'tqn-b']);
    assert.doesNotMatch(bpf, /^(Allow|Deny)/m, bpf);
    await f.expectReach(
      [
        { from: f.pod.a, to: f.to('b', 80), reach: true },
        { from: f.pod.a, to: f.to('b', 22), reach: true },
        { from: f.pod.a, to: f.to('b', 53, 'udp'), reach: true },
        { from: f.pod.b, to: f.to('a', 80), reach: true },
      ],
      'never',
    );
  });
});
