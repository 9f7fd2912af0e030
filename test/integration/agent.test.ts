// The agent as a user runs it: a real process, its CLI, its flags, its signals.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AGENT_JS, type TestAgent, runNode, startAgent } from '../lib/agent.js';
import type { StatusResponse } from '../../pkg/api/index.js';

describe('cilia-agent process', () => {
  let agent: TestAgent;
  before(async () => {
    agent = await startAgent('proc');
  });
  after(async () => {
    await agent?.cleanup();
  });

  test('cilia status answers, as text and as JSON', { timeout: 30_000 }, async () => {
    const text = await agent.cli(['status']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^Cilia:\s+Ok/m);
    assert.match(text.stdout, /Modules Health:/);
    assert.match(text.stdout, /api-server\s+OK\s+listening on/);
    const js = await agent.cli(['status', '--json']);
    const s = JSON.parse(js.stdout) as StatusResponse;
    assert.equal(s.cilia.state, 'Ok');
    assert.equal(s.health.name, 'agent');
    assert.ok(s.uptimeSeconds >= 0);
  });

  test('the API socket is mode 0600', async () => {
    const { statSync } = await import('node:fs');
    assert.equal(statSync(agent.socket).mode & 0o777, 0o600);
  });

  test('cilia statedb lists tables; an unknown table is a clear error', { timeout: 30_000 }, async () => {
    const list = await agent.cli(['statedb']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^TABLE\s+OBJECTS\s+REVISION\s+INITIALIZED/);
    const bad = await agent.cli(['statedb', 'no-such-table']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no table no-such-table/);
  });

  test('unknown CLI commands and flags exit 2 with usage', { timeout: 30_000 }, async () => {
    const r = await agent.cli(['status', '--bogus']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Unknown option '--bogus'/);
    assert.match(r.stderr, /Usage: cilia status/);
    const c = await agent.cli(['frobnicate']);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /unknown command "frobnicate"/);
  });
});

describe('cilia-agent entry point', () => {
  test('--help lists every module and flag with defaults', { timeout: 30_000 }, async () => {
    const r = await runNode(AGENT_JS, ['--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const flag of ['--api-socket', '--state-dir', '--bpf-root', '--log-level', '--backend', '--extra-modules', '--config-file']) {
      assert.match(r.stdout, new RegExp(`  ${flag} \\(`), `${flag} missing from --help`);
    }
    assert.match(r.stdout, /Module agent\.infra\.api-server:/);
    assert.match(r.stdout, /--api-socket \(abs-path, default "\/var\/run\/cilia\/cilia\.sock", env CILIA_API_SOCKET\)/);
  });

  test('`cilia-agent hive` prints modules, providers, invokes, flags and hooks', { timeout: 30_000 }, async () => {
    const r = await runNode(AGENT_JS, ['hive', '--state-dir=/tmp/x', '--bpf-root=/sys/fs/bpf/x']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /module agent: Cilia agent/);
    assert.match(r.stdout, /module api-server: REST API on a unix socket/);
    assert.match(r.stdout, /provide ApiServer <- ApiServerConfig, ApiRoutes, Logger, Lifecycle, Health/);
    assert.match(r.stdout, /--state-dir="\/tmp\/x"/);
    assert.match(r.stdout, /Start hooks:[\s\S]*agent\.infra\.api-server\/api-server/);
    assert.match(r.stdout, /Stop hooks \(jobs first, then in reverse\):/);
  });

  test('a bad flag value exits 2 and names the flag, the value and what was expected', { timeout: 30_000 }, async () => {
    const r = await runNode(AGENT_JS, ['--log-level=loud']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid value for --log-level \(env CILIA_LOG_LEVEL\): "loud"/);
    assert.match(r.stderr, /expected one of debug, info, warn, error/);
    const p = await runNode(AGENT_JS, ['--api-socket=relative/path']);
    assert.equal(p.code, 2);
    assert.match(p.stderr, /--api-socket.*must be an absolute path/);
    const u = await runNode(AGENT_JS, ['--no-such-flag']);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /unknown flag --no-such-flag/);
    const e = await runNode(AGENT_JS, [], { env: { ...process.env, CILIA_BACKEND: 'consul' } });
    assert.equal(e.code, 2);
    assert.match(e.stderr, /invalid value for --backend \(env CILIA_BACKEND\): "consul"/);
  });

  test('SIGTERM stops the hive cleanly: exit 0, stop hooks in reverse order in the log', { timeout: 30_000 }, async () => {
    const agent = await startAgent('sigterm');
    try {
      const code = await agent.stop('SIGTERM');
      assert.equal(code, 0, agent.logs());
      const stopped = agent
        .logs()
        .split('\n')
        .filter((l) => l.includes('"msg":"stopped","hook"'))
        .map((l) => (JSON.parse(l) as { hook: string }).hook);
      // Jobs stop first (pre-stop), then hooks in reverse start order: the API server (started after
      // the state directory) stops before anything it depends on.
      assert.equal(stopped[0], 'jobs');
      assert.ok(stopped.includes('api-server'));
      const startOrder = agent
        .logs()
        .split('\n')
        .filter((l) => l.includes('"msg":"start hook done"'))
        .map((l) => (JSON.parse(l) as { hook: string }).hook)
        .filter((h) => stopped.includes(h));
      assert.deepEqual(stopped.slice(1), [...startOrder].reverse().filter((h) => h !== 'jobs'));
    } finally {
      await agent.cleanup();
    }
  });

  test('SIGINT also exits 0', { timeout: 30_000 }, async () => {
    const agent = await startAgent('sigint');
    try {
      assert.equal(await agent.stop('SIGINT'), 0);
    } finally {
      await agent.cleanup();
    }
  });
});
