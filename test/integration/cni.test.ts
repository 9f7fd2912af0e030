// The CNI plugin driven as a runtime drives it: our own small driver executes cilia-cni with the
// CNI_* environment and a network configuration on stdin (podman, tested separately, never calls CHECK).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { EndpointJSON } from '../../pkg/api/index.js';
import { DIST, type RunResult, type TestAgent, removeNetns, runNode, startAgent } from '../lib/agent.js';
import { nsExec, pingOnce } from '../lib/netns.js';

const CNI_JS = `${DIST}/daemon/cni.js`;

interface Invocation {
  command: string;
  containerId?: string;
  netns?: string;
  ifName?: string;
  args?: string;
  conf?: unknown;
  stdin?: string;
}

function cni(inv: Invocation): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, CNI_COMMAND: inv.command, CNI_PATH: '/opt/cni/bin' };
  if (inv.containerId !== undefined) env.CNI_CONTAINERID = inv.containerId;
  if (inv.netns !== undefined) env.CNI_NETNS = inv.netns;
  if (inv.ifName !== undefined) env.CNI_IFNAME = inv.ifName;
  if (inv.args !== undefined) env.CNI_ARGS = inv.args;
  return runNode(CNI_JS, [], { env, input: inv.stdin ?? JSON.stringify(inv.conf) });
}

describe('cilia-cni driven by a CNI runtime', { timeout: 120_000 }, () => {
  let agent: TestAgent;
  const pods = ['tc-pod1', 'tc-pod2'];
  let conf: Record<string, unknown>;

  before(async () => {
    agent = await startAgent('cni', { datapath: { prefix: 'tc', podCidr: '10.244.12.0/24' } });
    for (const p of pods) execFileSync('ip', ['netns', 'add', p]);
    conf = { cniVersion: '1.0.0', name: 'cilia', type: 'cilia-cni', socket: agent.socket, args: { cni: { labels: { app: 'cni-test' }, ports: ['http=8080/TCP'] } } };
  });
  after(async () => {
    await agent?.cleanup();
    for (const p of pods) removeNetns(`/run/netns/${p}`);
  });

  const add = (pod: string, extra: Partial<Invocation> = {}) =>
    cni({ command: 'ADD', containerId: `cid-${pod}`, netns: `/run/netns/${pod}`, ifName: 'eth0', args: `IgnoreUnknown=1;K8S_POD_NAME=${pod};K8S_POD_NAMESPACE=default`, conf, ...extra });

  test('VERSION lists the supported versions', async () => {
    const r = await cni({ command: 'VERSION', stdin: '{"cniVersion":"1.0.0"}' });
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.stdout), { cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] });
  });

  test('ADD wires the pod and returns a CNI 1.0.0 result; traffic flows at once', async () => {
    const r1 = await add('tc-pod1');
    assert.equal(r1.code, 0, r1.stdout + r1.stderr);
    const res = JSON.parse(r1.stdout) as { cniVersion: string; interfaces: { name: string; mac: string; sandbox?: string }[]; ips: { address: string; gateway: string; interface: number }[]; routes: { dst: string; gw: string }[] };
    assert.equal(res.cniVersion, '1.0.0');
    assert.equal(res.interfaces[1].name, 'eth0');
    assert.equal(res.interfaces[1].sandbox, '/run/netns/tc-pod1');
    assert.match(res.ips[0].address, /^10\.244\.12\.\d+\/32$/);
    assert.equal(res.ips[0].gateway, '10.244.12.1');
    assert.equal(res.ips[0].interface, 1);
    assert.deepEqual(res.routes, [{ dst: '0.0.0.0/0', gw: '10.244.12.1' }]);
    // The interface inside the pod has the address and MAC the result claims.
    const link = await nsExec('tc-pod1', 'ip', ['-j', 'addr', 'show', 'eth0']);
    const [info] = JSON.parse(link.stdout) as { address: string; addr_info: { local: string }[] }[];
    assert.equal(info.address, res.interfaces[1].mac);
    assert.equal(`${info.addr_info[0].local}/32`, res.ips[0].address);
    const r2 = await add('tc-pod2');
    assert.equal(r2.code, 0, r2.stdout);
    const ip2 = (JSON.parse(r2.stdout) as { ips: { address: string }[] }).ips[0].address.split('/')[0];
    assert.ok(await pingOnce('tc-pod1', ip2), 'pod1 → pod2 right after ADD returned');
    // Labels and named ports from the network config's args reached the endpoint.
    const ep = await agent.client.get<EndpointJSON>('/v1/endpoint/default%2Ftc-pod1');
    assert.deepEqual(ep.labels, { app: 'cni-test' });
    assert.deepEqual(ep.namedPorts, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
    assert.equal(ep.containerId, 'cid-tc-pod1');
  });

  test('ADD again for the same container is idempotent', async () => {
    const before = await agent.client.get<EndpointJSON>('/v1/endpoint/default%2Ftc-pod1');
    const r = await add('tc-pod1');
    assert.equal(r.code, 0, r.stdout);
    const after = await agent.client.get<EndpointJSON>('/v1/endpoint/default%2Ftc-pod1');
    assert.equal(after.id, before.id);
    assert.equal(after.ipv4, before.ipv4);
  });

  test('CHECK passes on a healthy pod and fails, saying why, on a broken one', async () => {
    const ok = await cni({ command: 'CHECK', containerId: 'cid-tc-pod1', netns: '/run/netns/tc-pod1', ifName: 'eth0', conf });
    assert.equal(ok.code, 0, ok.stdout);
    await nsExec('tc-pod1', 'ip', ['route', 'del', 'default']);
    const bad = await cni({ command: 'CHECK', containerId: 'cid-tc-pod1', netns: '/run/netns/tc-pod1', ifName: 'eth0', conf });
    assert.notEqual(bad.code, 0);
    const err = JSON.parse(bad.stdout) as { code: number; msg: string };
    assert.equal(err.code, 101);
    assert.match(err.msg, /no default route/);
    const unknown = await cni({ command: 'CHECK', containerId: 'cid-nope', netns: '/run/netns/tc-pod1', ifName: 'eth0', conf });
    assert.equal((JSON.parse(unknown.stdout) as { code: number }).code, 3, 'unknown container');
  });

  test('DEL removes the endpoint and is idempotent', async () => {
    const ep = await agent.client.get<EndpointJSON>('/v1/endpoint/default%2Ftc-pod1');
    const d1 = await cni({ command: 'DEL', containerId: 'cid-tc-pod1', netns: '/run/netns/tc-pod1', ifName: 'eth0', conf });
    assert.equal(d1.code, 0, d1.stdout);
    assert.equal(execFileSync('ip', ['-o', 'link']).toString().includes(ep.hostIfName), false);
    const d2 = await cni({ command: 'DEL', containerId: 'cid-tc-pod1', netns: '/run/netns/tc-pod1', ifName: 'eth0', conf });
    assert.equal(d2.code, 0, 'second DEL succeeds');
    const d3 = await cni({ command: 'DEL', containerId: 'cid-tc-pod1', ifName: 'eth0', conf });
    assert.equal(d3.code, 0, 'DEL without a netns succeeds');
    await assert.rejects(agent.client.get('/v1/endpoint/default%2Ftc-pod1'));
  });

  test('malformed input gets a CNI error with the spec code and leaves nothing behind', async () => {
    const before = (await agent.client.get<unknown[]>('/v1/endpoint')).length;
    // Only this test's devices (prefix tc): other tests create and delete veths at the same time.
    const ourLinks = () => execFileSync('ip', ['-o', 'link']).toString().split('\n').filter((l) => / tc[0-9a-f]/.test(l)).length;
    const links = ourLinks();
    const cases: [string, Invocation, number, RegExp][] = [
      ['not JSON', { command: 'ADD', containerId: 'x1', netns: '/run/netns/tc-pod1', ifName: 'eth0', stdin: '{cniVersion: 1.0.0' }, 6, /not valid JSON/],
      ['unsupported version', { command: 'ADD', containerId: 'x1', netns: '/run/netns/tc-pod1', ifName: 'eth0', conf: { ...conf, cniVersion: '9.9.9' } }, 1, /cniVersion 9\.9\.9 is not supported/],
      ['no CNI_NETNS', { command: 'ADD', containerId: 'x1', ifName: 'eth0', conf }, 4, /CNI_NETNS is not set/],
      ['no CNI_CONTAINERID', { command: 'ADD', netns: '/run/netns/tc-pod1', ifName: 'eth0', conf }, 4, /CNI_CONTAINERID is not set/],
      ['bad CNI_IFNAME', { command: 'ADD', containerId: 'x1', netns: '/run/netns/tc-pod1', ifName: 'way-too-long-interface', conf }, 4, /CNI_IFNAME/],
      ['unknown command', { command: 'FROB', containerId: 'x1', netns: '/run/netns/tc-pod1', ifName: 'eth0', conf }, 4, /unknown command "FROB"/],
      ['bad labels', { command: 'ADD', containerId: 'x1', netns: '/run/netns/tc-pod1', ifName: 'eth0', conf: { ...conf, args: { cni: { labels: ['a=b'] } } } }, 7, /args\.cni\.labels/],
      ['bad named port', { command: 'ADD', containerId: 'x1', netns: '/run/netns/tc-pod1', ifName: 'eth0', args: 'K8S_POD_NAME=x1', conf: { ...conf, args: { cni: { ports: ['web=0/TCP'] } } } }, 100, /port 0 must be 1-65535/],
      ['netns that does not exist', { command: 'ADD', containerId: 'x1', netns: '/run/netns/tc-missing', ifName: 'eth0', args: 'K8S_POD_NAME=x1', conf }, 100, /does not exist/],
    ];
    for (const [what, inv, code, msg] of cases) {
      const r = await cni(inv);
      assert.notEqual(r.code, 0, what);
      const e = JSON.parse(r.stdout) as { cniVersion: string; code: number; msg: string };
      assert.equal(e.code, code, `${what}: ${r.stdout}`);
      assert.match(e.msg, msg, what);
      assert.ok(e.cniVersion, what);
    }
    assert.equal((await agent.client.get<unknown[]>('/v1/endpoint')).length, before, 'no endpoint created');
    assert.equal(ourLinks(), links, 'no veth left behind');
    const ipam = await agent.client.get<{ leases: Record<string, string> }>('/v1/ipam');
    assert.equal(Object.keys(ipam.leases).length, before, 'no address leaked');
  });

  test('an unreachable agent is "try again later" (code 11)', async () => {
    const r = await add('tc-pod1', { conf: { ...conf, socket: '/tmp/cilia-no-such-agent.sock' } });
    assert.equal((JSON.parse(r.stdout) as { code: number }).code, 11);
  });
});
