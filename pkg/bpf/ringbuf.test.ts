import assert from 'node:assert/strict';
import fs from 'node:fs';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { u32Codec, u64Codec } from './codec.js';
import { BpfError } from './errors.js';
import type { BpfMap } from './map.js';
import { BpfObject } from './object.js';
import { pinFd } from './pin.js';
import { RingBufferReader } from './ringbuf.js';
import { testRun } from './testrun.js';
import { scratchPinRoot, testObject } from './testenv.js';

const RECORD_MAGIC = 0x52494e47;

/** Checks one record of bpftest_ringbuf.c: {u64 seq, u32 len, u32 magic, bytes (seq + i) & 0xff}. Returns seq. */
function checkRecord(r: Buffer): bigint {
  const seq = r.readBigUInt64LE(0);
  assert.equal(r.length, r.readUInt32LE(8), `record ${seq}: length`);
  assert.equal(r.length, 16 + Number(seq & 7n) * 8, `record ${seq}: size follows seq`);
  assert.equal(r.readUInt32LE(12), RECORD_MAGIC, `record ${seq}: magic`);
  const low = Number(seq & 0xffn);
  for (let i = 16; i < r.length; i++) {
    if (r[i] !== ((low + i) & 0xff)) assert.fail(`record ${seq}: byte ${i} is ${r[i]}`);
  }
  return seq;
}

const openFds = (): number => fs.readdirSync('/proc/self/fd').length;

describe('RingBufferReader', () => {
  let obj: BpfObject;
  let emit: number;
  let stats: BpfMap<number, bigint>;
  let pins: ReturnType<typeof scratchPinRoot>;
  before(() => {
    pins = scratchPinRoot();
    obj = BpfObject.load(testObject('bpftest_ringbuf'));
    emit = obj.program('emit').fd;
    stats = obj.map('ring_stats', u32Codec, u64Codec);
  });
  after(() => {
    obj?.close();
    pins?.remove();
  });

  test('a flood from BPF_PROG_TEST_RUN arrives record by record, intact; stop is clean', { timeout: 120_000 }, async (t) => {
    stats.clear();
    const fdsBefore = openFds();
    const seqs = new Set<bigint>();
    let received = 0;
    const reader = RingBufferReader.open(obj.mapFd('events'), (records) => {
      for (const r of records) {
        const seq = checkRecord(r);
        assert.equal(seqs.has(seq), false, `record ${seq} delivered twice`);
        seqs.add(seq);
      }
      received += records.length;
    }, { onError: (e) => assert.fail(e) });
    await reader.ready;
    assert.equal(reader.running, true);
    const started = performance.now();
    const packet = Buffer.alloc(64);
    for (let i = 0; i < 10; i++) {
      testRun(emit, { data: packet, repeat: 100_000 });
      await nextTurn(); // let batches in between
    }
    const total = Number(stats.get(0));
    const dropped = Number(stats.get(1));
    while (received < total - dropped) await sleep(5);
    const elapsed = performance.now() - started;
    const stopStart = performance.now();
    await reader.stop();
    const stopMs = performance.now() - stopStart;
    t.diagnostic(`${total} emitted, ${dropped} dropped by a full ring, ${received} received in ${elapsed.toFixed(0)} ms ` +
      `(${Math.round(received / elapsed * 1000)}/s while the same thread produced and checked them); stop took ${stopMs.toFixed(1)} ms; ` +
      `${reader.stats.batches} batches`);

    assert.equal(total, 1_000_000);
    assert.equal(received + dropped, total, 'every record not dropped in BPF was received');
    assert.equal(seqs.size, received);
    assert.equal(reader.stats.records, received);
    await reader.stop(); // idempotent
    assert.equal(openFds(), fdsBefore, 'the reader closed its fd');
    assert.equal(reader.running, false, 'the worker thread has exited');
  });

  test('open by pin path; a record emitted while idle is delivered promptly', { timeout: 30_000 }, async () => {
    const pinPath = `${pins.path}/events`;
    pinFd(obj.mapFd('events'), pinPath);
    const got: Buffer[] = [];
    const reader = RingBufferReader.open(pinPath, (records) => got.push(...records.map((r) => Buffer.from(r))));
    try {
      await reader.ready;
      for (let i = 0; i < 3; i++) {
        testRun(emit, { data: Buffer.alloc(64) });
        while (got.length < i + 1) await sleep(5);
      }
      for (const r of got) checkRecord(r);
      assert.equal(got.length, 3);
    } finally {
      await reader.stop();
    }
  });

  test('open errors', { timeout: 15_000 }, () => {
    assert.throws(() => RingBufferReader.open(obj.mapFd('ring_stats'), () => undefined), /map ring_stats .* is not a ring buffer \(type 2\)/);
    assert.throws(() => RingBufferReader.open(`${pins.path}/missing`, () => undefined),
      (e: unknown) => e instanceof BpfError && e.code === 'ENOENT');
  });
});
