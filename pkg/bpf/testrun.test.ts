import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { struct, u32, u32Codec, u64Codec } from './codec.js';
import { BpfError } from './errors.js';
import { ifindexOf, withNetns } from '../netns/index.js';
import { BpfObject } from './object.js';
import { testRun } from './testrun.js';
import { scratchVethPair, testObject } from './testenv.js';

const ctxSeen = struct('ctx_seen', { ifindex: u32, ingress_ifindex: u32, mark: u32, priority: u32, cb0: u32, len: u32 });

/** Ethernet + IPv4 + TCP SYN from 10.244.251.5:40000 to 10.244.251.6:80, with a valid IPv4 header checksum. */
function tcpSyn(): Buffer {
  const eth = Buffer.from('02000000000b' + '02000000000a' + '0800', 'hex');
  const ip = Buffer.from('45000028' + '00010000' + '40060000' + '0af4fb05' + '0af4fb06', 'hex');
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(40000, 0);
  tcp.writeUInt16BE(80, 2);
  tcp.writeUInt8(0x50, 12); // data offset 5 words
  tcp.writeUInt8(0x02, 13); // SYN
  return Buffer.concat([eth, ip, tcp]);
}

describe('testRun (BPF_PROG_TEST_RUN)', () => {
  let obj: BpfObject;
  let fd: number;
  before(() => {
    obj = BpfObject.load(testObject('bpftest_testrun'));
    fd = obj.program('echo_ctx').fd;
  });
  after(() => obj.close());

  test('round trip of a crafted packet: verdict and rewritten output packet', { timeout: 15_000 }, () => {
    const pkt = tcpSyn();
    const r = testRun(fd, { data: pkt });
    assert.equal(r.retval, 1, 'without a context the skb sits on lo (ifindex 1)');
    assert.equal(r.data.length, pkt.length);
    assert.equal(r.data.subarray(0, 12).toString('hex'), '02000000000a' + '02000000000b', 'MACs swapped');
    assert.deepEqual(r.data.subarray(12), pkt.subarray(12), 'the rest is untouched');
    assert.equal(r.ctx, undefined);
    assert.equal(obj.map('seen', u32Codec, ctxSeen).get(0)?.len, pkt.length);
  });

  test('context in and out: mark, priority, cb, ingress_ifindex', { timeout: 15_000 }, () => {
    const r = testRun(fd, { data: tcpSyn(), ctx: { mark: 7, priority: 3, cb: [9], ingress_ifindex: 1 } });
    assert.deepEqual(obj.map('seen', u32Codec, ctxSeen).get(0), {
      ifindex: 1, ingress_ifindex: 1, mark: 7, priority: 3, cb0: 9, len: 54,
    });
    assert.equal(r.ctx?.mark, 8, 'the program incremented the mark');
    assert.deepEqual(r.ctx?.cb, [9, 0xabcd, 0, 0, 0]);
    assert.equal(r.ctx?.priority, 3);
  });

  test('ctx.ifindex is honoured: skb->ifindex becomes that device (lo, or a veth in a netns)', { timeout: 30_000 }, () => {
    assert.equal(testRun(fd, { data: tcpSyn(), ctx: { ifindex: 1 } }).retval, 1);
    const pair = scratchVethPair();
    try {
      const veth = ifindexOf(pair.a.dev, pair.a.ns);
      // The kernel resolves the ifindex in the caller's netns, so run inside the veth's namespace.
      const r = withNetns(pair.a.ns, () => testRun(fd, { data: tcpSyn(), ctx: { ifindex: veth } }));
      assert.equal(r.retval, veth);
      assert.equal(r.ctx?.ifindex, veth);
    } finally {
      pair.remove();
    }
    assert.throws(() => testRun(fd, { data: tcpSyn(), ctx: { ifindex: 999_999 } }),
      (e: unknown) => e instanceof BpfError && e.code === 'ENODEV' && /^bpf_prog_test_run_opts\(prog fd \d+\): ENODEV/.test(e.message));
  });

  test('errors: short packet, too many cb slots', { timeout: 15_000 }, () => {
    assert.throws(() => testRun(fd, { data: Buffer.alloc(10) }), (e: unknown) => e instanceof BpfError && e.code === 'EINVAL');
    assert.throws(() => testRun(fd, { data: tcpSyn(), ctx: { cb: [1, 2, 3, 4, 5, 6] } }), /ctx.cb has 6 slots/);
  });

  test('repeat runs the program that many times', { timeout: 15_000 }, () => {
    const tc = BpfObject.load(testObject('bpftest_tc'));
    try {
      const r = testRun(tc.program('count_v1').fd, { data: tcpSyn(), repeat: 1000 });
      assert.equal(r.retval, 0);
      assert.equal(tc.map('tc_counts', u32Codec, u64Codec).get(0), 1000n);
    } finally {
      tc.close();
    }
  });
});
