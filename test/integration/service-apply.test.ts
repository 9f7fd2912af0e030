// Services as a user makes them, with a real agent: `cilia apply` of Kubernetes Services and
// EndpointSlices (--wait returns once the LB maps hold them), a Service with a selector served by the
// matching pods, the CLI refusing bad input, curl through a VIP alternating between two HTTP servers,
// and an agent restart that keeps ids, maps and established connections.
// Isolation (test/lib/ranges.md): links `tsa*`, pods 10.244.31.0/24, VIPs 10.96.31.0/24.

import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { EndpointJSON } from '../../pkg/api/index.js';
import type { BpfLbJSON, ServiceJSON } from '../../cells/service-lb/types.js';
import { type TestAgent, startAgent } from '../lib/agent.js';
import { PodProcess, tcp } from '../lib/pod-process.js';

const run = promisify(execFile);

describe('services from cilia apply and the CLI', { timeout: 240_000 }, () => {
  let agent: TestAgent;
  const eps: Record<string, EndpointJSON> = {};
  const pods: PodProcess[] = [];
  const servers: ChildProcess[] = [];
  let tmp: string;

  async function endpoint(name: string, labels: string, ...flags: string[]): Promise<EndpointJSON> {
    eps[name] = JSON.parse(await agent.cliOk(['endpoint', 'create', '--name', name, '--labels', labels, ...flags])) as EndpointJSON;
    return eps[name];
  }

  async function pod(name: string, labels: string, ...flags: string[]): Promise<PodProcess> {
    const ep = await endpoint(name, labels, ...flags);
    const p = await PodProcess.start(ep.netns, { name, tcp: [8080] });
    pods.push(p);
    return p;
  }

  async function services(): Promise<ServiceJSON[]> {
    return JSON.parse(await agent.cliOk(['service', 'list', '--json'])) as ServiceJSON[];
  }

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-ts-apply-'));
    agent = await startAgent('ts-apply', { datapath: { prefix: 'tsa', podCidr: '10.244.31.0/24' }, args: ['--enable-socket-lb=false'] });
    await pod('ts-aclient', 'role=client');
  });

  after(async () => {
    for (const p of pods) await p.stop();
    for (const s of servers) s.kill('SIGKILL');
    await agent?.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('cilia apply --wait returns once the LB maps hold the Services and EndpointSlices; cilia delete removes them', { timeout: 60_000 }, async () => {
    await pod('ts-web1', 'app=web');
    await pod('ts-web2', 'app=web');
    const manifest = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: 10.96.31.10
  ports:
  - name: http
    port: 80
    targetPort: 8080
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  labels:
    kubernetes.io/service-name: web
addressType: IPv4
ports:
- name: http
  port: 8080
endpoints:
- addresses: ["${eps['ts-web1'].ipv4}"]
- addresses: ["${eps['ts-web2'].ipv4}"]
  conditions: {ready: false, serving: true, terminating: true}
`;
    const out = await agent.cliOk(['apply', '-f', '-', '--wait'], manifest);
    assert.match(out, /Service\/default\/web applied/);
    assert.match(out, /EndpointSlice\/default\/web-1 applied/);
    // No waiting here: --wait promised the maps already hold it.
    const lb = JSON.parse(await agent.cliOk(['bpf', 'lb', 'list', '--json'])) as BpfLbJSON;
    const master = lb.services.find((s) => s.frontend === '10.96.31.10:80/TCP');
    assert.ok(master, JSON.stringify(lb.services));
    const byId = new Map(lb.backends.map((b) => [b.id, b]));
    assert.deepEqual(master.slots.map((id) => byId.get(id)?.address), [eps['ts-web1'].ipv4], 'the terminating endpoint gets no slot');
    assert.equal(lb.backends.find((b) => b.address === eps['ts-web2'].ipv4)?.state, 'terminating', 'but stays in the backends map');
    const text = await agent.cliOk(['bpf', 'lb', 'list']);
    assert.match(text, new RegExp(`10\\.96\\.31\\.10:80/TCP\\s+0\\.0\\.0\\.0:0 \\(${master.revNat}\\) \\(0\\) \\[ClusterIP\\]`));
    assert.deepEqual(new Set(await pods[0].whoAnswers(tcp('10.96.31.10', 80), 10)), new Set(['ts-web1']));

    await agent.cliOk(['delete', '-f', '-', '--wait'], manifest);
    const after = JSON.parse(await agent.cliOk(['bpf', 'lb', 'list', '--json'])) as BpfLbJSON;
    assert.equal(after.services.find((s) => s.frontend === '10.96.31.10:80/TCP'), undefined);
    assert.ok(!(await services()).some((s) => s.name === 'web'));
  });

  test('a Service with a selector and no EndpointSlice serves the pods it selects, and follows new and deleted ones', { timeout: 90_000 }, async () => {
    await pod('ts-sel1', 'app=sel', '--port', 'http=8080');
    await pod('ts-sel2', 'app=sel', '--port', 'http=8080');
    await pod('ts-other', 'app=other', '--port', 'http=8080');
    await agent.cliOk(['apply', '-f', '-', '--wait'], `apiVersion: v1
kind: Service
metadata: {name: sel}
spec:
  clusterIP: 10.96.31.20
  selector: {app: sel}
  ports:
  - port: 80
    targetPort: http
`);
    const svc = (await services()).find((s) => s.name === 'sel')!;
    assert.equal(svc.backendSource, 'selector');
    assert.deepEqual(svc.backends.map((b) => `${b.address}:${b.port}`).sort(), [`${eps['ts-sel1'].ipv4}:8080`, `${eps['ts-sel2'].ipv4}:8080`].sort());
    const client = pods[0];
    assert.deepEqual([...new Set(await client.whoAnswers(tcp('10.96.31.20', 80), 20))].sort(), ['ts-sel1', 'ts-sel2']);

    await pod('ts-sel3', 'app=sel', '--port', 'http=8080');
    let seen = new Set<string>();
    for (let i = 0; i < 50 && !seen.has('ts-sel3'); i++) seen = new Set([...seen, ...(await client.whoAnswers(tcp('10.96.31.20', 80), 5))]);
    assert.ok(seen.has('ts-sel3'), `the new pod is served: ${[...seen].join(', ')}`);
    assert.ok(!seen.has('ts-other'));

    await agent.cliOk(['endpoint', 'delete', 'ts-sel1']);
    for (let i = 0; i < 50 && (await services()).find((s) => s.name === 'sel')!.backends.length !== 2; i++) await new Promise((r) => setTimeout(r, 100));
    const now = await client.whoAnswers(tcp('10.96.31.20', 80), 15);
    assert.ok(!now.includes('ts-sel1') && new Set(now).size === 2, `answers after the delete: ${now.join(', ')}`);
  });

  test('cilia service upsert refuses bad input with exit 2, naming the field, and changes nothing', { timeout: 60_000 }, async () => {
    await agent.cliOk(['service', 'upsert', '--frontend', '10.96.31.30:80', '--backends', '10.244.31.250:80']);
    const before = await services();
    const cases: [string[], RegExp][] = [
      [['--frontend', '10.96.31.300:80', '--backends', ''], /--frontend: "10\.96\.31\.300" is not an IPv4 address/],
      [['--frontend', '10.96.31.31:0', '--backends', ''], /--frontend: port 0 is out of range/],
      [['--frontend', '10.96.31.31:80', '--backends', '10.244.31.1:0'], /--backends\[0\]: port 0 is out of range/],
      [['--frontend', '10.96.31.31:80'], /--backends is required; pass --backends '' for no backends/],
      [['--frontend', '10.96.31.30:80', '--backends', '', '--name', 'another'], /frontend 10\.96\.31\.30:80\/TCP already belongs to service default\/10-96-31-30-80-tcp \(field frontends\[0\]\)/],
      [['--frontend', '10.96.31.31:80/udp', '--backends', '10.244.31.1:80/tcp'], /backends\[0\]: .*serves no frontend/],
      [['--frontend', '10.96.31.31:80', '--backends', '', '--affinity', 'sticky'], /--affinity: "sticky" is not of the form/],
    ];
    for (const [args, message] of cases) {
      const r = await agent.cli(['service', 'upsert', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, message);
    }
    assert.deepEqual(await services(), before, 'nothing changed');
    const del = await agent.cli(['service', 'delete', '10.96.31.99:80']);
    assert.equal(del.code, 2);
    assert.match(del.stderr, /no service 10\.96\.31\.99:80/);
  });

  test('curl from a third pod alternates between two HTTP servers behind a VIP', { timeout: 60_000 }, async () => {
    for (const name of ['ts-http1', 'ts-http2']) {
      const ep = await endpoint(name, 'app=http');
      const dir = path.join(tmp, name);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'index.html'), `${name}\n`);
      servers.push(spawn('ip', ['netns', 'exec', ep.netns, 'python3', '-m', 'http.server', '8080', '--bind', ep.ipv4, '--directory', dir], { stdio: 'ignore' }));
    }
    await agent.cliOk(['service', 'upsert', '--frontend', '10.96.31.40:80', '--backends', `${eps['ts-http1'].ipv4}:8080,${eps['ts-http2'].ipv4}:8080`]);
    const curl = async (url: string): Promise<string> => {
      try {
        return (await run('ip', ['netns', 'exec', eps['ts-aclient'].netns, 'curl', '-s', '-m', '2', url])).stdout.trim();
      } catch {
        return '';
      }
    };
    for (const name of ['ts-http1', 'ts-http2']) {
      for (let i = 0; i < 50 && (await curl(`http://${eps[name].ipv4}:8080/`)) !== name; i++) await new Promise((r) => setTimeout(r, 100));
    }
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) answers.push(await curl('http://10.96.31.40/'));
    assert.deepEqual([...new Set(answers)].sort(), ['ts-http1', 'ts-http2'], `curl answers: ${answers.join(', ')}`);
  });

  test('an agent restart keeps ids and maps; an established connection and the VIP keep working while it is down', { timeout: 90_000 }, async () => {
    await pod('ts-keep', 'app=keep');
    await agent.cliOk(['service', 'upsert', '--frontend', '10.96.31.50:80', '--backends', `${eps['ts-keep'].ipv4}:8080`, '--name', 'keep']);
    const client = pods[0];
    const kept = await client.open(tcp('10.96.31.50', 80));
    assert.equal(kept.server, 'ts-keep');
    const before = { services: await services(), maps: await agent.cliOk(['bpf', 'lb', 'list', '--json']) };
    assert.equal(await agent.stop('SIGTERM'), 0);
    assert.equal((await kept.exchange('agent down')).reply, 'ts-keep agent down');
    assert.equal((await client.probe(tcp('10.96.31.50', 80))).server, 'ts-keep', 'new connections too: the datapath does not need the agent');
    await agent.restart();
    await agent.cliOk(['status']);
    for (let i = 0; i < 50 && (await services()).some((s) => s.status.kind !== 'Done'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await services(), before.services, 'same services, rev-NAT indexes and backend ids');
    assert.deepEqual(JSON.parse(await agent.cliOk(['bpf', 'lb', 'list', '--json'])), JSON.parse(before.maps), 'the same map content');
    assert.equal((await kept.exchange('agent back')).reply, 'ts-keep agent back');
    await kept.close();
  });
});
