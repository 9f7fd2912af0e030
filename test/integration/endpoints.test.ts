// Endpoints as a user creates them: three pods through `cilia endpoint create`, real traffic between
// them through Cilia's tc programs, conntrack and monitor views, and a clean delete.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { EndpointJSON } from '../../pkg/api/index.js';
import { type TestAgent, startAgent } from '../lib/agent.js';
import { Monitor } from '../lib/monitor.js';
import { echoOnce, echoServer, nsExec, pingOnce, type NsProcess } from '../lib/netns.js';

const PREFIX = 'te';
const CIDR = '10.244.10.0/24';

describe('endpoints: create, talk, inspect, delete', { timeout: 180_000 }, () => {
  let agent: TestAgent;
  const eps: EndpointJSON[] = [];
  const servers: NsProcess[] = [];

  before(async () => {
    agent = await startAgent('endpoints', { datapath: { prefix: PREFIX, podCidr: CIDR } });
    for (const name of ['te-a', 'te-b', 'te-c']) {
      const r = await agent.cli(['endpoint', 'create', '--name', name, '--labels', `app=${name}`]);
      assert.equal(r.code, 0, r.stderr + agent.logs());
      eps.push(JSON.parse(r.stdout) as EndpointJSON);
    }
  });
  after(async () => {
    for (const s of servers) s.stop();
    await agent?.cleanup();
  });

  test('the CLI prints each endpoint with id, name, namespace, labels, identity, ipv4 and netns', () => {
    const [a] = eps;
    assert.ok(a);
    assert.equal(a.name, 'te-a');
    assert.equal(a.namespace, 'default');
    assert.deepEqual(a.labels, { app: 'te-a' });
    assert.ok(a.identity >= 256);
    assert.match(a.ipv4, /^10\.244\.10\.\d+$/);
    assert.equal(a.netns, 'default-te-a');
    assert.ok(fs.existsSync('/run/netns/default-te-a'));
    assert.equal(a.state, 'ready');
    assert.equal(new Set(eps.map((e) => e.identity)).size, 3, 'different labels, different identities');
  });

  test('all three ping each other and the gateway', async () => {
    for (const from of eps) {
      assert.ok(await pingOnce(from.netns, from.gateway!), `${from.name} → gateway`);
      for (const to of eps) if (to !== from) assert.ok(await pingOnce(from.netns, to.ipv4), `${from.name} → ${to.name}`);
    }
  });

  test('TCP and UDP conversations between endpoints', async () => {
    for (const e of eps) {
      servers.push(await echoServer(e.netns, 'tcp', 8080, e.name));
      servers.push(await echoServer(e.netns, 'udp', 5353, e.name));
    }
    for (const from of eps) {
      for (const to of eps) {
        if (to === from) continue;
        assert.equal(await echoOnce(from.netns, 'tcp', to.ipv4, 8080), to.name, `tcp ${from.name} → ${to.name}`);
        assert.equal(await echoOnce(from.netns, 'udp', to.ipv4, 5353), to.name, `udp ${from.name} → ${to.name}`);
      }
    }
  });

  test('`cilia bpf ct list global` shows the flows, both directions of a local connection', async () => {
    const [a, b] = eps as [EndpointJSON, EndpointJSON];
    const r = await agent.cli(['bpf', 'ct', 'list', 'global']);
    assert.equal(r.code, 0, r.stderr);
    // a → b TCP 8080: an egress entry owned by a and an ingress entry owned by b.
    assert.match(r.stdout, new RegExp(`TCP OUT ${a.ipv4}:\\d+ -> ${b.ipv4}:8080 .*SourceSecurityID=${b.identity}`));
    assert.match(r.stdout, new RegExp(`TCP IN ${a.ipv4}:\\d+ -> ${b.ipv4}:8080 .*SourceSecurityID=${a.identity}`));
    assert.match(r.stdout, new RegExp(`UDP OUT ${a.ipv4}:\\d+ -> ${b.ipv4}:5353`));
    assert.match(r.stdout, new RegExp(`ICMP OUT ${a.ipv4}:\\d+ -> ${b.ipv4}:0`));
    const js = JSON.parse((await agent.cli(['bpf', 'ct', 'list', 'global', '--json'])).stdout) as { proto: string; txPackets: number; rxPackets: number }[];
    assert.ok(js.some((e) => e.proto === 'TCP' && e.txPackets > 0 && e.rxPackets > 0), 'counters in both directions');
  });

  test('`cilia monitor --type drop` reports a spoofed source with its reason', async () => {
    const [a, b] = eps as [EndpointJSON, EndpointJSON];
    const m = await Monitor.start(agent, ['--type', 'drop']);
    try {
      // A second address inside pod a that the agent never gave it: its packets are spoofed.
      await nsExec(a.netns, 'ip', ['addr', 'add', '10.244.10.250/32', 'dev', 'eth0']);
      await nsExec(a.netns, 'ping', ['-c', '1', '-W', '1', '-I', '10.244.10.250', b.ipv4]);
      await m.waitFor(new RegExp(`xx drop \\(Invalid source ip\\) .*10\\.244\\.10\\.250 -> ${b.ipv4.replace(/\./g, '\\.')}`));
      const metrics = await agent.cli(['bpf', 'metrics', 'list']);
      assert.match(metrics.stdout, /Invalid source ip\s+EGRESS\s+\d+/);
      assert.match(metrics.stdout, /Forwarded\s+EGRESS\s+\d+/);
    } finally {
      await m.stop();
      await nsExec(a.netns, 'ip', ['addr', 'del', '10.244.10.250/32', 'dev', 'eth0']);
    }
  });

  test('deleting an endpoint removes its veth, address lease, map entries, identity reference and netns', async () => {
    const c = eps[2];
    const before = JSON.parse((await agent.cli(['identity', 'get', String(c.identity), '--json'])).stdout) as { refs: number };
    assert.equal(before.refs, 1);
    const r = await agent.cli(['endpoint', 'delete', c.name]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(execFileSync('ip', ['-o', 'link', 'show']).toString().includes(c.hostIfName), false, 'host veth gone');
    assert.equal(fs.existsSync('/run/netns/default-te-c'), false, 'netns the agent created is gone');
    const ipam = await agent.client.get<{ leases: Record<string, string> }>('/v1/ipam');
    assert.equal(ipam.leases[c.ipv4], undefined, 'lease released');
    const lxc = (await agent.cli(['bpf', 'endpoint', 'list'])).stdout;
    assert.equal(lxc.includes(`${c.ipv4}:0`), false, 'cilia_lxc entry removed');
    const ipcache = (await agent.cli(['bpf', 'ipcache', 'list'])).stdout;
    assert.equal(ipcache.includes(`${c.ipv4}/32`), false, 'ipcache entry removed');
    const id = await agent.cli(['identity', 'get', String(c.identity)]);
    assert.equal(id.code, 2, 'identity released (no other holder)');
    assert.match(id.stderr, /not allocated/);
    // Deleting again is an error for a user, but the CNI path (by container) is idempotent.
    assert.equal((await agent.cli(['endpoint', 'delete', c.name])).code, 2);
    const cni = await agent.client.delete<{ deleted: boolean }>(`/v1/endpoint?containerId=${c.containerId}&ifName=eth0`);
    assert.equal(cni.deleted, false);
  });

  test('bad input is a clear error that changes nothing', async () => {
    const before = (await agent.client.get<unknown[]>('/v1/endpoint')).length;
    const bad = await agent.cli(['endpoint', 'create', '--name', 'Bad_Name']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /name "Bad_Name" must be a DNS subdomain.*\(field name\)/);
    const port = await agent.cli(['endpoint', 'create', '--name', 'te-x', '--port', 'web=99999/TCP']);
    assert.equal(port.code, 2);
    assert.match(port.stderr, /port 99999 must be 1-65535/);
    const label = await agent.cli(['endpoint', 'create', '--name', 'te-x', '--labels', 'bad key=v']);
    assert.equal(label.code, 2);
    assert.match(label.stderr, /label key "bad key"/);
    const dup = await agent.cli(['endpoint', 'create', '--name', 'te-a']);
    assert.equal(dup.code, 2);
    assert.match(dup.stderr, /already exists/);
    assert.equal((await agent.client.get<unknown[]>('/v1/endpoint')).length, before);
    assert.equal(fs.existsSync('/run/netns/default-te-x'), false);
  });
});
