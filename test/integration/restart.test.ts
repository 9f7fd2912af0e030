// Restart without disruption (Cilium's promise): SIGKILL the agent while a TCP stream flows between
// two endpoints, start it again. Programs stay attached and maps pinned while it is down; the new
// agent restores endpoints, identities and leases, and reconciles without detaching anything.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { EndpointJSON } from '../../pkg/api/index.js';
import { type TestAgent, startAgent } from '../lib/agent.js';
import { ECHO_JS, type NsProcess, nsSpawn, pingOnce } from '../lib/netns.js';

/** The byte counts a stream process printed so far, with the time each was read. */
function samples(p: NsProcess): number[] {
  return p
    .output()
    .split('\n')
    .filter((l) => l.startsWith('bytes '))
    .map((l) => Number(l.slice(6)));
}

describe('restart without disruption', { timeout: 180_000 }, () => {
  let agent: TestAgent;
  let a: EndpointJSON;
  let b: EndpointJSON;
  const procs: NsProcess[] = [];

  before(async () => {
    agent = await startAgent('restart', { datapath: { prefix: 'tr', podCidr: '10.244.11.0/24' } });
    const policy = JSON.stringify([{ endpointSelector: { matchLabels: { app: 'tr-b' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'tr-a' } }] }] }]);
    for (const name of ['tr-a', 'tr-b']) {
      const r = await agent.cli(['endpoint', 'create', '--name', name, '--labels', `app=${name}`]);
      assert.equal(r.code, 0, r.stderr);
    }
    // A policy too, so that the restored datapath must keep enforcing it while the agent is down.
    assert.equal((await agent.cli(['policy', 'import', '-', '--wait'], policy)).code, 0);
    [a, b] = await Promise.all(['tr-a', 'tr-b'].map((n) => agent.client.get<EndpointJSON>(`/v1/endpoint/${n}`)));
  });
  after(async () => {
    for (const p of procs) p.stop();
    await agent?.cleanup();
  });

  test('SIGKILL while a TCP stream flows, start again: the stream never stops; endpoints keep id, IP and identity', async () => {
    const sink = nsSpawn(b.netns, process.execPath, [ECHO_JS, 'sink', '9000']);
    procs.push(sink);
    await sink.waitFor(/^listening/);
    const src = nsSpawn(a.netns, process.execPath, [ECHO_JS, 'stream', b.ipv4, '9000']);
    procs.push(src);
    await sink.waitFor(/^bytes [1-9]/);
    const tcBefore = execFileSync('tc', ['filter', 'show', 'dev', a.hostIfName, 'ingress']).toString();

    assert.equal(await agent.stop('SIGKILL'), -1);
    // The agent is gone: the datapath keeps forwarding and enforcing on its own.
    const whileDown = samples(sink).length;
    await new Promise((r) => setTimeout(r, 1500));
    const down = samples(sink).slice(whileDown);
    assert.ok(down.length >= 5 && down.at(-1)! > down[0], `bytes kept arriving while the agent was down: ${down.join(',')}`);
    assert.ok(await pingOnce(a.netns, b.ipv4), 'allowed traffic still flows');
    assert.equal(execFileSync('tc', ['filter', 'show', 'dev', a.hostIfName, 'ingress']).toString(), tcBefore, 'programs stayed attached');

    await agent.restart();
    const mark = samples(sink).length;
    await new Promise((r) => setTimeout(r, 2000));
    const afterRestart = samples(sink).slice(mark);
    // No stall: every 100 ms report after the restart saw new bytes (allowing one report of slack).
    const stalls = afterRestart.slice(1).filter((v, i) => v === afterRestart[i]).length;
    assert.ok(stalls <= 1, `the stream stalled after the restart: ${afterRestart.join(',')}`);
    assert.equal(/closed|error/.test(sink.output() + src.output()), false, `the connection broke: ${src.output().slice(-200)}`);

    const eps = await agent.client.get<EndpointJSON[]>('/v1/endpoint');
    for (const before of [a, b]) {
      const now = eps.find((e) => e.name === before.name);
      assert.ok(now, `${before.name} restored`);
      assert.equal(now.id, before.id);
      assert.equal(now.ipv4, before.ipv4);
      assert.equal(now.identity, before.identity);
      assert.equal(now.hostIfName, before.hostIfName);
      assert.equal(now.state, 'ready');
    }
    // The policy was restored too and is enforced again at a new revision.
    const pol = JSON.parse((await agent.cli(['policy', 'get', '--json'])).stdout) as { policies: unknown[] };
    assert.equal(pol.policies.length, 1);
    const bpol = await agent.cli(['bpf', 'policy', 'get', 'tr-b']);
    assert.match(bpol.stdout, new RegExp(`Allow\\s+Ingress\\s+${a.identity}\\s+ANY`));
  });
});
