// Per-packet service load balancing with a real agent and real traffic between pods: a client pod
// connects to virtual IPs served by three backend pods. Checks spreading, session affinity, backend
// removal (no new connections, established ones keep working), UDP through the VIP, the drop of a VIP
// without backends, and that policy applies to the backend after DNAT.
// Isolation (test/lib/ranges.md): links `tst*`, pods 10.244.30.0/24, VIPs 10.96.30.0/24.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { EndpointJSON } from '../../pkg/api/index.js';
import { type TestAgent, startAgent } from '../lib/agent.js';
import { Monitor } from '../lib/monitor.js';
import { PodProcess, tcp, udp } from '../lib/pod-process.js';

describe('per-packet service load balancing between pods', { timeout: 180_000 }, () => {
  let agent: TestAgent;
  const eps: Record<string, EndpointJSON> = {};
  const pods: Record<string, PodProcess> = {};

  /** `cilia service upsert` with these backends (pod names with a port). */
  async function upsert(frontend: string, backends: [string, number][], ...flags: string[]): Promise<void> {
    await agent.cliOk(['service', 'upsert', '--frontend', frontend, '--backends', backends.map(([p, port]) => `${eps[p].ipv4}:${port}`).join(','), ...flags]);
  }

  before(async () => {
    agent = await startAgent('ts-traffic', { datapath: { prefix: 'tst', podCidr: '10.244.30.0/24' }, args: ['--enable-socket-lb=false'] });
    for (const [name, labels] of [['ts-client', 'role=client'], ['ts-b1', 'role=backend,pod=b1'], ['ts-b2', 'role=backend,pod=b2'], ['ts-b3', 'role=backend,pod=b3']]) {
      eps[name] = JSON.parse(await agent.cliOk(['endpoint', 'create', '--name', name, '--labels', labels])) as EndpointJSON;
      pods[name] = await PodProcess.start(eps[name].netns, { name, ...(name === 'ts-client' ? {} : { tcp: [8080], udp: [5353] }) });
    }
  });

  after(async () => {
    for (const p of Object.values(pods)) await p.stop();
    await agent?.cleanup();
  });

  test('new connections to a VIP spread over its three backends', { timeout: 60_000 }, async () => {
    await upsert('10.96.30.10:80', [['ts-b1', 8080], ['ts-b2', 8080], ['ts-b3', 8080]]);
    const got = await pods['ts-client'].whoAnswers(tcp('10.96.30.10', 80), 30);
    assert.deepEqual([...new Set(got)].sort(), ['ts-b1', 'ts-b2', 'ts-b3'], `answers: ${got.join(', ')}`);
  });

  test('session affinity keeps a client on one backend', { timeout: 60_000 }, async () => {
    await upsert('10.96.30.11:80', [['ts-b1', 8080], ['ts-b2', 8080], ['ts-b3', 8080]], '--affinity', 'clientip:60');
    const got = await pods['ts-client'].whoAnswers(tcp('10.96.30.11', 80), 15);
    assert.equal(new Set(got).size, 1, `answers: ${got.join(', ')}`);
    assert.match(got[0], /^ts-b[123]$/);
  });

  test('a removed backend gets no new connections, while a connection it already has keeps working', { timeout: 60_000 }, async () => {
    await upsert('10.96.30.12:80', [['ts-b1', 8080], ['ts-b2', 8080], ['ts-b3', 8080]]);
    const client = pods['ts-client'];
    const kept = await client.open(tcp('10.96.30.12', 80));
    const chosen = kept.server;
    await upsert('10.96.30.12:80', (['ts-b1', 'ts-b2', 'ts-b3'] as const).filter((p) => p !== chosen).map((p) => [p, 8080] as [string, number]));
    const got = await client.whoAnswers(tcp('10.96.30.12', 80), 20);
    assert.ok(!got.includes(chosen), `a new connection went to the removed ${chosen}: ${got.join(', ')}`);
    assert.equal(new Set(got).size, 2, `the other two share the new connections: ${got.join(', ')}`);
    const r = await kept.exchange('still there?');
    assert.deepEqual([r.outcome, r.reply], ['ok', `${chosen} still there?`], 'the established connection is still served by the removed backend');
    await kept.close();
  });

  test('Maglev: a service with --algorithm maglev serves through its table; cilia bpf lb maglev list shows it', { timeout: 60_000 }, async () => {
    await upsert('10.96.30.17:80', [['ts-b1', 8080], ['ts-b2', 8080], ['ts-b3', 8080]], '--algorithm', 'maglev', '--name', 'ts-maglev');
    const got = await pods['ts-client'].whoAnswers(tcp('10.96.30.17', 80), 30);
    assert.deepEqual([...new Set(got)].sort(), ['ts-b1', 'ts-b2', 'ts-b3'], `different source ports hash to different backends: ${got.join(', ')}`);
    const text = await agent.cliOk(['bpf', 'lb', 'maglev', 'list', 'ts-maglev']);
    assert.match(text, /10\.96\.30\.17:80\/TCP \(ID \d+\): 16381 slots/);
    for (const p of ['ts-b1', 'ts-b2', 'ts-b3']) assert.match(text, new RegExp(`${eps[p].ipv4.replace(/\./g, '\\.')}:8080/TCP\\s+(5460|5461)\\s+33\\.3%`));
  });

  test('UDP through a VIP: the reply reaches the client from the VIP', { timeout: 60_000 }, async () => {
    await upsert('10.96.30.13:53/udp', [['ts-b1', 5353], ['ts-b2', 5353]]);
    // The client's socket is connected to the VIP: a reply without reverse NAT would not even reach it.
    const r = await pods['ts-client'].probe(udp('10.96.30.13', 53));
    assert.equal(r.outcome, 'ok', r.detail);
    assert.match(r.reply!, /^ts-b[12] probe$/);
    assert.equal(r.from, '10.96.30.13:53', 'reverse NAT: the client sees the service address, not the backend');
  });

  test('a VIP without backends drops new connections with "Service backend not found"', { timeout: 60_000 }, async () => {
    const out = await agent.cli(['service', 'upsert', '--frontend', '10.96.30.14:80', '--backends', '']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /Warning: a service without backends drops new connections/);
    const monitor = await Monitor.start(agent, ['--type', 'drop']);
    try {
      const r = await pods['ts-client'].probe(tcp('10.96.30.14', 80), 1000);
      assert.equal(r.outcome, 'timeout');
      const line = await monitor.waitFor(/Service backend not found/);
      assert.match(line, new RegExp(`${eps['ts-client'].ipv4.replace(/\./g, '\\.')}:\\d+ -> 10\\.96\\.30\\.14:80 tcp SYN`));
    } finally {
      await monitor.stop();
    }
  });

  test('policy applies to the backend behind the VIP: denying client → backend blocks the service connection', { timeout: 90_000 }, async () => {
    await upsert('10.96.30.15:80', [['ts-b1', 8080]]);
    await upsert('10.96.30.16:80', [['ts-b2', 8080]]);
    const client = pods['ts-client'];
    assert.equal((await client.probe(tcp('10.96.30.15', 80))).server, 'ts-b1');
    const policy = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: ts-deny-client
spec:
  endpointSelector:
    matchLabels: {pod: b1}
  ingress:
  - fromEntities: [all]
  ingressDeny:
  - fromEndpoints:
    - matchLabels: {role: client}
`;
    await agent.cliOk(['apply', '-f', '-', '--wait'], policy);
    const monitor = await Monitor.start(agent, ['--type', 'drop']);
    try {
      const blocked = await client.probe(tcp('10.96.30.15', 80), 1000);
      assert.equal(blocked.outcome, 'timeout', 'the service connection to the denied backend is dropped');
      const line = await monitor.waitFor(/Policy denied by denylist/);
      // The verdict is about the backend: its address and identity, after DNAT.
      assert.match(line, new RegExp(`identity ${eps['ts-client'].identity}->${eps['ts-b1'].identity}: .* -> ${eps['ts-b1'].ipv4.replace(/\./g, '\\.')}:8080 tcp SYN`));
      assert.equal((await client.probe(tcp('10.96.30.16', 80))).server, 'ts-b2', 'a service on another backend is not affected');
    } finally {
      await monitor.stop();
      await agent.cliOk(['delete', '-f', '-', '--wait'], policy);
    }
    assert.equal((await client.probe(tcp('10.96.30.15', 80))).server, 'ts-b1', 'allowed again without the policy');
  });
});
