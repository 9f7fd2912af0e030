import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { u32Codec, u64Codec } from './codec.js';
import { progIdOf, progInfo, progInfoById } from './info.js';
import type { BpfMap } from './map.js';
import { ifindexOf } from '../netns/index.js';
import { BpfObject } from './object.js';
import { tcAttach, tcDetach, tcQuery, tcRemoveClsact, type TcTarget } from './tc.js';
import { scratchVethPair, testObject } from './testenv.js';

const PORT = 7007;

/** A UDP echo server in `ns` on ip:PORT (a child process); resolves once it listens. */
async function startUdpEcho(ns: string, ip: string): Promise<ChildProcess> {
  const script = `const d = require('dgram').createSocket('udp4');
    d.on('message', (m, r) => d.send(m, r.port, r.address));
    d.bind(${PORT}, ${JSON.stringify(ip)}, () => process.stdout.write('ready\\n'));`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout, 'data');
  return child;
}

/**
 * Sends `n` numbered datagrams from `ns` to ip:PORT one after the other, each waiting for its echo (1 s at
 * most: then it counts as lost). Like a ping flood, but needs nothing beyond node.
 */
async function udpFlood(ns: string, ip: string, n: number): Promise<{ sent: number; received: number; lost: number }> {
  const script = `const d = require('dgram').createSocket('udp4');
    let seq = 0, received = 0, lost = 0, timer;
    const send = () => {
      if (seq >= ${n}) { process.stdout.write(JSON.stringify({ sent: seq, received, lost })); d.close(); return; }
      const b = Buffer.alloc(8); b.writeUInt32BE(seq);
      d.send(b, ${PORT}, ${JSON.stringify(ip)});
      timer = setTimeout(() => { lost++; seq++; send(); }, 1000);
    };
    d.on('message', (m) => { if (m.readUInt32BE(0) !== seq) return; clearTimeout(timer); received++; seq++; send(); });
    d.bind(() => send());`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  const [code] = await once(child, 'exit') as [number];
  assert.equal(code, 0, 'udp flood client failed');
  return JSON.parse(out) as { sent: number; received: number; lost: number };
}

describe('tc attach', () => {
  let pair: ReturnType<typeof scratchVethPair>;
  let obj: BpfObject;
  let counts: BpfMap<number, bigint>;
  let server: ChildProcess;
  let ingress: TcTarget;

  before(async () => {
    pair = scratchVethPair();
    obj = BpfObject.load(testObject('bpftest_tc'));
    counts = obj.map('tc_counts', u32Codec, u64Codec);
    server = await startUdpEcho(pair.a.ns, pair.a.ip);
    ingress = { ifindex: ifindexOf(pair.a.dev, pair.a.ns), direction: 'ingress', netns: pair.a.ns };
  });
  after(() => {
    server?.kill();
    obj?.close();
    pair?.remove();
  });

  test('attach counts packets, query reports the program, detach stops it', { timeout: 30_000 }, async () => {
    const v1 = obj.program('count_v1');
    assert.equal(tcQuery(ingress), undefined);
    const id = tcAttach({ ...ingress, progFd: v1.fd });
    assert.equal(id, v1.id);
    assert.equal(tcQuery(ingress), progIdOf(v1.fd));
    assert.equal(progInfo(v1.fd).name, 'count_v1');
    // A fresh load of the same object gives another id but the same tag: how a restarted agent can tell
    // that the attached program is already the one it wants.
    const again = BpfObject.load(testObject('bpftest_tc'));
    try {
      const attached = progInfoById(tcQuery(ingress)!)!;
      assert.notEqual(attached.id, again.program('count_v1').id);
      assert.equal(attached.tag, again.program('count_v1').tag);
      assert.notEqual(attached.tag, again.program('count_v2').tag);
    } finally {
      again.close();
    }

    counts.clear();
    const r = await udpFlood(pair.b.ns, pair.a.ip, 20);
    assert.deepEqual(r, { sent: 20, received: 20, lost: 0 });
    assert.ok(counts.get(0)! >= 20n, `count_v1 saw ${counts.get(0)} packets`);

    assert.equal(tcDetach(ingress), true);
    assert.equal(tcQuery(ingress), undefined);
    assert.equal(tcDetach(ingress), false);
    const seen = counts.get(0)!;
    await udpFlood(pair.b.ns, pair.a.ip, 5);
    assert.equal(counts.get(0), seen, 'nothing counted after detach');
  });

  test('attaching again at the same priority/handle replaces atomically: no packet lost under a flood', { timeout: 60_000 }, async (t) => {
    const v1 = obj.program('count_v1');
    const v2 = obj.program('count_v2');
    counts.clear();
    tcAttach({ ...ingress, progFd: v1.fd });
    let replaces = 0;
    let failure: unknown;
    const timer = setInterval(() => {
      try {
        const want = replaces % 2 === 0 ? v2 : v1;
        assert.equal(tcAttach({ ...ingress, progFd: want.fd }), want.id);
        replaces++;
      } catch (e) {
        failure = e;
      }
    }, 5);
    // Flood in rounds until enough replaces happened mid-flood (how many per round depends on machine speed).
    const total = { sent: 0, received: 0, lost: 0 };
    try {
      for (let round = 0; round < 20 && replaces < 50; round++) {
        const r = await udpFlood(pair.b.ns, pair.a.ip, 3000);
        total.sent += r.sent;
        total.received += r.received;
        total.lost += r.lost;
      }
    } finally {
      clearInterval(timer);
    }
    assert.equal(failure, undefined);
    assert.equal(total.lost, 0);
    assert.equal(total.received, total.sent);
    assert.ok(replaces >= 50, `only ${replaces} replaces happened during the flood`);
    const c1 = counts.get(0)!;
    const c2 = counts.get(1)!;
    t.diagnostic(`${total.sent} requests, ${total.received} echoed, ${replaces} replaces; count_v1 ${c1}, count_v2 ${c2}`);
    assert.ok(c1 > 0n && c2 > 0n, `both programs handled packets (${c1} + ${c2})`);
    assert.ok(c1 + c2 >= BigInt(total.sent), `every request passed one of them (${c1} + ${c2})`);
    assert.equal(tcQuery(ingress), [v1.id, v2.id][replaces % 2]);
    assert.equal(tcDetach(ingress), true);
  });

  test('egress and several priorities coexist; removing clsact removes them all', { timeout: 30_000 }, async () => {
    const v1 = obj.program('count_v1');
    const v2 = obj.program('count_v2');
    const egress: TcTarget = { ...ingress, direction: 'egress' };
    tcAttach({ ...egress, progFd: v2.fd });
    tcAttach({ ...ingress, priority: 5, progFd: v1.fd });
    assert.equal(tcQuery(egress), v2.id);
    assert.equal(tcQuery({ ...ingress, priority: 5 }), v1.id);
    assert.equal(tcQuery(ingress), undefined, 'priority 1 is free');
    counts.clear();
    await udpFlood(pair.b.ns, pair.a.ip, 10);
    assert.ok(counts.get(1)! >= 10n, 'egress program saw the replies');
    assert.equal(tcRemoveClsact(ingress.ifindex, pair.a.ns), true);
    assert.equal(tcQuery(egress), undefined);
    assert.equal(tcQuery({ ...ingress, priority: 5 }), undefined);
    assert.equal(tcRemoveClsact(ingress.ifindex, pair.a.ns), false);
  });

  test('errors name the call and the target', { timeout: 15_000 }, () => {
    assert.throws(() => tcAttach({ ifindex: 999_999, direction: 'ingress', progFd: obj.program('count_v1').fd, netns: pair.a.ns }),
      new RegExp(`^BpfError: bpf_tc_hook_create\\(ifindex 999999 in ${pair.a.ns} ingress prio 1 handle 1\\): ENODEV`));
    assert.throws(() => tcQuery({ ...ingress, netns: 'cb-does-not-exist' }), /open netns \/run\/netns\/cb-does-not-exist: ENOENT/);
  });
});
