// `cilia-agent cleanup`: with the flags of a stopped agent it removes what that agent left on the node
// (endpoint veths and the netns it made, the host device, socket LB programs on --cgroup-root, pins,
// state); it refuses while the agent runs, and --dry-run changes nothing.
// Isolation (test/lib/ranges.md): links `tcu*`, pods 10.244.15.0/24, cgroup <cgroup2>/cilia-test-tcu-*.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EndpointJSON } from '../../pkg/api/index.js';
import { findCgroup2Mount, removeCgroup } from '../../pkg/bpf/index.js';
import { querySockLb } from '../../pkg/datapath/index.js';
import { Netlink } from '../../pkg/netlink/index.js';
import { AGENT_JS, type TestAgent, runNode, startAgent } from '../lib/agent.js';

const PREFIX = 'tcu';

function linkNames(): string[] {
  const nl = Netlink.open();
  try {
    return nl.listLinks().map((l) => l.name);
  } finally {
    nl.close();
  }
}

function socketLbPrograms(cgroup: string): number {
  return Object.values(querySockLb(cgroup)).reduce((n, h) => n + h.ours.length, 0);
}

describe('cilia-agent cleanup', { timeout: 120_000 }, () => {
  const cgroup = path.join(findCgroup2Mount() ?? '/sys/fs/cgroup/unified', `cilia-test-tcu-${process.pid}`);
  let agent: TestAgent;
  let ep: EndpointJSON;
  const cleanup = (...extra: string[]) => runNode(AGENT_JS, ['cleanup', ...extra, ...agent.args]);

  before(async () => {
    agent = await startAgent('tcu', { datapath: { prefix: PREFIX, podCidr: '10.244.15.0/24' }, args: ['--enable-socket-lb=true', `--cgroup-root=${cgroup}`] });
    ep = JSON.parse(await agent.cliOk(['endpoint', 'create', '--name', 'tcu-a'])) as EndpointJSON;
  });

  after(async () => {
    await agent?.cleanup();
    try {
      removeCgroup(cgroup);
    } catch {
      /* already gone */
    }
  });

  test('refuses while the agent runs and removes nothing', async () => {
    const r = await cleanup();
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /an agent is running .* stop it first/);
    assert.ok(fs.existsSync(`/run/netns/${ep.netns}`));
    assert.ok(fs.existsSync(agent.bpfRoot));
  });

  test('--dry-run lists everything and changes nothing', async () => {
    assert.equal(await agent.stop(), 0);
    const r = await cleanup('--dry-run');
    assert.equal(r.code, 0, r.stderr);
    for (const want of [`network namespace ${ep.netns}`, `link ${PREFIX}h (host device)`, `socket LB programs from ${cgroup}`, `pinned programs and maps ${agent.bpfRoot}`, `state directory ${agent.stateDir}`]) {
      assert.ok(r.stdout.includes(want), `dry run mentions "${want}":\n${r.stdout}`);
    }
    assert.ok(fs.existsSync(`/run/netns/${ep.netns}`));
    assert.ok(linkNames().includes(`${PREFIX}h`));
    assert.equal(socketLbPrograms(cgroup), 8);
  });

  test('removes the endpoint, its netns, the host device, socket LB, pins and state', async () => {
    const hostVeth = linkNames().filter((n) => n.startsWith(PREFIX) && n !== `${PREFIX}h` && n !== `${PREFIX}n`);
    assert.equal(hostVeth.length, 1, `one endpoint veth: ${hostVeth.join(', ')}`);
    const r = await cleanup();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /detached 8 socket LB program\(s\)/);
    assert.ok(!fs.existsSync(`/run/netns/${ep.netns}`), 'netns removed');
    assert.deepEqual(linkNames().filter((n) => n.startsWith(PREFIX)), [], 'no link with the prefix is left');
    assert.equal(socketLbPrograms(cgroup), 0);
    assert.ok(fs.existsSync(cgroup), 'a cgroup the agent did not mount stays');
    assert.ok(!fs.existsSync(agent.bpfRoot), 'pins removed');
    assert.ok(!fs.existsSync(agent.stateDir), 'state removed');
    const again = await cleanup();
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /removing/, 'a second run finds nothing');
  });

  test('a bad flag exits 2 and names it; a shallow --state-dir is refused', async () => {
    const bad = await runNode(AGENT_JS, ['cleanup', '--no-such-flag']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown flag --no-such-flag/);
    const shallow = await runNode(AGENT_JS, ['cleanup', '--state-dir=/var']);
    assert.equal(shallow.code, 2);
    assert.match(shallow.stderr, /refusing to delete --state-dir \/var/);
  });
});
