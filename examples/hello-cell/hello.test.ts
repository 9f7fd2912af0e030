import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { ApiClient } from '../../pkg/api/index.js';
import { testHive } from '../../pkg/hive/hivetest/hivetest.js';
import { StateDBCell } from '../../pkg/statedb/index.js';
import { ApiServerCell } from '../../cells/api-server/cell.js';
import { IApiServerConfig } from '../../cells/api-server/types.js';
import { AGENT_JS, runNode, startAgent } from '../../test/lib/agent.js';
import { HelloCell } from './hello.js';

const HELLO_JS = fileURLToPath(new URL('./hello.js', import.meta.url));

describe('example: hello extension cell', () => {
  test('as a cell in a test hive: config, route, health', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-hello-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const h = testHive([StateDBCell, ApiServerCell, HelloCell], { t, argv: ['--hello-greeting=Hoi', '--log-level=debug'] });
    h.hive.addConfigOverride(IApiServerConfig, (c) => ({ ...c, apiSocket: path.join(dir, 's.sock') }));
    await h.start();
    const r = await new ApiClient(path.join(dir, 's.sock')).get<{ message: string }>('/v1/hello?name=cilia');
    assert.equal(r.message, 'Hoi, cilia!');
    assert.equal(h.hive.health.statuses.get('hello')?.level, 'OK');
  });

  test('loaded into a real agent with --extra-modules', { timeout: 60_000 }, async () => {
    const help = await runNode(AGENT_JS, [`--extra-modules=${HELLO_JS}`, '--help']);
    assert.match(help.stdout, /Module agent\.hello:\n {2}--hello-greeting/);
    const agent = await startAgent('hello', { args: [`--extra-modules=${HELLO_JS}`, '--hello-greeting=Hi', '--hello-interval-ms=10'] });
    try {
      const r = await agent.client.get<{ message: string; ticks: number }>('/v1/hello');
      assert.equal(r.message, 'Hi, world!');
      const status = await agent.cli(['status']);
      assert.match(status.stdout, /hello\s+OK\s+ready to say Hi/);
      assert.equal(await agent.stop(), 0);
      assert.match(agent.logs(), /hello module stopped/);
    } finally {
      await agent.cleanup();
    }
    const bad = await runNode(AGENT_JS, ['--extra-modules=/nonexistent/mod.js']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--extra-modules: cannot load \/nonexistent\/mod\.js/);
  });
});
