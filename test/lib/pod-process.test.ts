// The pod process helper on its own, over loopback in the host's network namespace (no pods needed):
// replies name the server, outcomes are told apart, kept connections, and reachMismatches.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PodProcess, reachMismatches, tcp, udp } from './pod-process.js';

// Fixed high ports on 127.0.0.1, unlikely to be in use; CLOSED has no server.
const TCP_PORT = 47811;
const UDP_PORT = 47812;
const CLOSED = 47813;

describe('PodProcess over loopback', { timeout: 60_000 }, () => {
  let server: PodProcess;
  let client: PodProcess;

  before(async () => {
    server = await PodProcess.start(undefined, { name: 'srv', tcp: [TCP_PORT], udp: [UDP_PORT] });
    client = await PodProcess.start(undefined, { name: 'cli' });
  });

  after(async () => {
    await server?.stop();
    await client?.stop();
  });

  test('a probe names the pod that answered; UDP says where the reply came from', { timeout: 10_000 }, async () => {
    const t = await client.probe(tcp('127.0.0.1', TCP_PORT));
    assert.deepEqual([t.outcome, t.reply, t.server], ['ok', 'srv', 'srv']);
    const u = await client.probe(udp('127.0.0.1', UDP_PORT));
    assert.deepEqual([u.outcome, u.reply, u.server, u.from], ['ok', 'srv probe', 'srv', `127.0.0.1:${UDP_PORT}`]);
    assert.deepEqual(await client.whoAnswers(tcp('127.0.0.1', TCP_PORT), 3), ['srv', 'srv', 'srv']);
  });

  test('a closed port is refused (TCP RST, UDP port unreachable), not a timeout', { timeout: 10_000 }, async () => {
    for (const target of [tcp('127.0.0.1', CLOSED), udp('127.0.0.1', CLOSED)]) {
      const r = await client.probe(target);
      assert.equal(r.outcome, 'refused', `${target.proto}: ${r.detail}`);
      assert.equal(r.server, undefined);
    }
    assert.deepEqual(await client.whoAnswers(tcp('127.0.0.1', CLOSED), 1), [`(refused: connect ECONNREFUSED 127.0.0.1:${CLOSED})`]);
  });

  test('a kept connection exchanges lines until closed; open throws when nothing answers', { timeout: 10_000 }, async () => {
    const conn = await client.open(tcp('127.0.0.1', TCP_PORT));
    assert.equal(conn.server, 'srv');
    for (const text of ['one', 'two words']) assert.equal((await conn.exchange(text)).reply, `srv ${text}`);
    await conn.close();
    assert.equal((await conn.exchange('after close')).outcome, 'error');
    await assert.rejects(client.open(tcp('127.0.0.1', CLOSED)), /refused/);
  });

  test('reachMismatches: a wrong answerer, a refusal and an unexpected reach are mismatches', { timeout: 10_000 }, async () => {
    const to = { ...tcp('127.0.0.1', TCP_PORT), name: 'srv' };
    assert.deepEqual(await reachMismatches([{ from: client, to, reach: true }]), []);
    const bad = await reachMismatches([
      { from: client, to: { ...to, name: 'other' }, reach: true },
      { from: client, to: { ...tcp('127.0.0.1', CLOSED), name: 'srv' }, reach: false },
      { from: client, to, reach: false },
    ]);
    assert.equal(bad.length, 3, bad.join('\n'));
    assert.match(bad[0], /got an answer from srv/);
    assert.match(bad[1], /expected blocked, got refused/);
    assert.match(bad[2], /expected blocked, got ok/);
  });

  test('start refuses a name with white space, and reports a port in use', { timeout: 15_000 }, async () => {
    await assert.rejects(PodProcess.start(undefined, { name: 'two words' }), /without white space/);
    await assert.rejects(PodProcess.start(undefined, { name: 'dup', tcp: [TCP_PORT] }), /exited.*EADDRINUSE/s);
  });

  test('a stopped process fails its pending and later actions instead of hanging', { timeout: 10_000 }, async () => {
    const p = await PodProcess.start(undefined, { name: 'short' });
    const pending = p.watch(udp('127.0.0.1', CLOSED), 'ok', { deadlineMs: 5_000 });
    await p.stop();
    assert.equal((await pending).flippedAtNs, undefined);
    await assert.rejects(p.probe(tcp('127.0.0.1', TCP_PORT)), /is gone/);
  });
});
