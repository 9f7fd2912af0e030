// Socket load balancing wired into the agent: with --enable-socket-lb and --cgroup-root set to a test
// cgroup, a pod process in that cgroup reaches a service at connect() (no per-packet translation
// happens), a service without backends refuses connect() with ECONNREFUSED and a drop event, and a
// restarted agent replaces its programs in place.
// Isolation (test/lib/ranges.md): links `tsk*`, pods 10.244.32.0/24, VIPs 10.96.33.0/24, cgroup
// <cgroup2>/cilia-test-ts-sock-*.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EndpointJSON } from '../../pkg/api/index.js';
import { findCgroup2Mount, removeCgroup } from '../../pkg/bpf/index.js';
import { querySockLb } from '../../pkg/datapath/index.js';
import { type TestAgent, startAgent } from '../lib/agent.js';
import { Monitor } from '../lib/monitor.js';
import { PodProcess, tcp } from '../lib/pod-process.js';

describe('socket load balancing in the agent', { timeout: 180_000 }, () => {
  const cgroup = path.join(findCgroup2Mount() ?? '/sys/fs/cgroup/unified', `cilia-test-ts-sock-${process.pid}`);
  let agent: TestAgent;
  const eps: Record<string, EndpointJSON> = {};
  const pods: Record<string, PodProcess> = {};

  before(async () => {
    agent = await startAgent('ts-sock', { datapath: { prefix: 'tsk', podCidr: '10.244.32.0/24' }, args: ['--enable-socket-lb=true', `--cgroup-root=${cgroup}`] });
    for (const name of ['ts-sclient', 'ts-sb1', 'ts-sb2']) {
      eps[name] = JSON.parse(await agent.cliOk(['endpoint', 'create', '--name', name])) as EndpointJSON;
      pods[name] = await PodProcess.start(eps[name].netns, { name, ...(name === 'ts-sclient' ? { cgroup } : { tcp: [8080] }) });
    }
  });

  after(async () => {
    for (const p of Object.values(pods)) await p.stop();
    await agent?.cleanup();
    // Removing the cgroup detaches the programs; wait until the killed client has left it.
    for (let i = 0; i < 50; i++) {
      try {
        removeCgroup(cgroup);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });

  test('the agent attaches socket LB to --cgroup-root; cilia status says so', { timeout: 30_000 }, async () => {
    const hooks = querySockLb(cgroup);
    for (const [hook, state] of Object.entries(hooks)) assert.equal(state.ours.length, 1, `one socket LB program at ${hook}`);
    assert.match(await agent.cliOk(['status']), new RegExp(`Services:.*socket LB on \\(${cgroup.replace(/[/.]/g, '\\$&')}\\)`));
  });

  test('a pod process in the cgroup reaches the VIP at connect(): spread over backends, no per-packet translation', { timeout: 60_000 }, async () => {
    await agent.cliOk(['service', 'upsert', '--frontend', '10.96.33.10:80', '--backends', `${eps['ts-sb1'].ipv4}:8080,${eps['ts-sb2'].ipv4}:8080`]);
    const got = await pods['ts-sclient'].whoAnswers(tcp('10.96.33.10', 80), 20);
    assert.deepEqual([...new Set(got)].sort(), ['ts-sb1', 'ts-sb2'], `answers: ${got.join(', ')}`);
    const ct = await agent.cliOk(['bpf', 'ct', 'list', 'global']);
    assert.doesNotMatch(ct, /SERVICE .* -> 10\.96\.33\.10:80/, 'the packets already went to the backend: no per-packet service entry');
    assert.match(ct, new RegExp(`TCP OUT ${eps['ts-sclient'].ipv4.replace(/\./g, '\\.')}:\\d+ -> ${eps['ts-sb1'].ipv4.replace(/\./g, '\\.')}:8080`));
  });

  test('a VIP without backends: connect() fails with ECONNREFUSED, and the drop is in cilia monitor', { timeout: 60_000 }, async () => {
    await agent.cliOk(['service', 'upsert', '--frontend', '10.96.33.11:80', '--backends', '']);
    const monitor = await Monitor.start(agent, ['--type', 'drop']);
    try {
      const r = await pods['ts-sclient'].probe(tcp('10.96.33.11', 80), 2000);
      assert.equal(r.outcome, 'refused', r.detail); // ECONNREFUSED
      await monitor.waitFor(/drop \(Service backend not found\).*bpf_sock\.c.*-> 10\.96\.33\.11:80/);
    } finally {
      await monitor.stop();
    }
  });

  test('a restarted agent replaces its socket LB programs in place; services keep working', { timeout: 60_000 }, async () => {
    const before = querySockLb(cgroup).connect4.ours;
    assert.equal(await agent.stop('SIGTERM'), 0);
    assert.match((await pods['ts-sclient'].probe(tcp('10.96.33.10', 80))).server ?? '', /^ts-sb[12]$/, 'served while the agent is down');
    await agent.restart();
    const after = querySockLb(cgroup).connect4;
    assert.equal(after.ours.length, 1);
    assert.notDeepEqual(after.ours, before, 'a new program took the place of the old one');
    assert.match((await pods['ts-sclient'].probe(tcp('10.96.33.10', 80))).server ?? '', /^ts-sb[12]$/);
  });
});
