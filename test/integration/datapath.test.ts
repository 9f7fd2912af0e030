// The datapath's lifecycle as the agent drives it: the alignment check refuses a mismatching object,
// and a datapath setting changed at runtime reloads the programs on every endpoint atomically.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EndpointJSON } from '../../pkg/api/index.js';
import { AGENT_JS, REPO, type TestAgent, runNode, startAgent } from '../lib/agent.js';
import { nsExec, nsSpawn } from '../lib/netns.js';

function ingressProgId(dev: string): string {
  const m = /\bid (\d+)/.exec(execFileSync('tc', ['filter', 'show', 'dev', dev, 'ingress']).toString());
  return m?.[1] ?? '';
}

describe('datapath lifecycle', { timeout: 120_000 }, () => {
  test('the agent refuses to start when a codec does not match the object, naming struct and field', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-abi-'));
    try {
      fs.copyFileSync(path.join(REPO, 'bpf/test/bpftest_abi_mismatch.o'), path.join(dir, 'bpf_lxc.o'));
      const r = await runNode(AGENT_JS, [`--api-socket=${dir}/s.sock`, `--state-dir=${dir}/state`, `--bpf-root=/sys/fs/bpf/cilia-test-abi`, `--bpf-object-dir=${dir}`, '--pod-cidr=10.244.14.0/24', '--host-device=tdh', '--host-device-peer=tdn', '--endpoint-ifname-prefix=td']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /struct endpoint_info: field lxc_id: offset 4 in TS, 8 in C/);
      assert.match(r.stderr, /start failed in module agent\.datapath\.loader/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync('/sys/fs/bpf/cilia-test-abi', { recursive: true, force: true });
      try {
        execFileSync('ip', ['link', 'del', 'tdh'], { stdio: 'ignore' });
      } catch {
        /* the agent stopped before creating it */
      }
    }
  });

  describe('runtime reload', () => {
    let agent: TestAgent;
    let a: EndpointJSON;
    let b: EndpointJSON;
    before(async () => {
      agent = await startAgent('reload', { datapath: { prefix: 'td', podCidr: '10.244.14.0/24' } });
      for (const n of ['td-a', 'td-b']) assert.equal((await agent.cli(['endpoint', 'create', '--name', n])).code, 0);
      [a, b] = await Promise.all(['td-a', 'td-b'].map((n) => agent.client.get<EndpointJSON>(`/v1/endpoint/${n}`)));
    });
    after(async () => {
      await agent?.cleanup();
    });

    test('`cilia config` changes a datapath setting: programs are swapped on every endpoint, no packet lost', async () => {
      const before = ingressProgId(a.hostIfName);
      assert.ok(before);
      // 400 pings, 10 ms apart, while the datapath is reloaded three times.
      const ping = nsSpawn(a.netns, 'ping', ['-i', '0.01', '-c', '400', '-W', '1', b.ipv4]);
      await new Promise((r) => setTimeout(r, 500));
      for (const v of ['none', 'medium', 'none']) {
        const r = await agent.cli(['config', `MonitorAggregation=${v}`]);
        assert.equal(r.code, 0, r.stderr);
        await new Promise((res) => setTimeout(res, 500));
      }
      await new Promise<void>((res) => ping.proc.once('exit', () => res()));
      assert.match(ping.output(), /400 packets transmitted, 400 received, 0% packet loss/);
      const afterId = ingressProgId(a.hostIfName);
      assert.notEqual(afterId, before, 'a new program is attached');
      assert.equal(ingressProgId(b.hostIfName), afterId, 'every endpoint moved to the same new program');
      const cfg = JSON.parse((await agent.cli(['config', '--json'])).stdout) as { MonitorAggregation: string };
      assert.equal(cfg.MonitorAggregation, 'none');
      const bad = await agent.cli(['config', 'MonitorAggregation=loud']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /MonitorAggregation must be none or medium/);
      assert.equal(ingressProgId(a.hostIfName), afterId, 'a rejected change reloads nothing');
      await nsExec(a.netns, 'true', []);
    });
  });
});
