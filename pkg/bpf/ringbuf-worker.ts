// The ring buffer worker: a worker_thread that blocks in ring_buffer__poll, copies each record into a
// batch buffer and transfers full batches to the main thread. Started by RingBufferReader (ringbuf.ts).
//
// Why a worker (recipe §6 mode c): libbpf 1.1 has no ring_buffer__consume_n, so consuming on the main
// thread either blocks the event loop under a flood or needs polling; a worker keeps draining while the
// main thread is busy and hands over records in batches.
import koffi from 'koffi';
import { parentPort, workerData } from 'node:worker_threads';
import { errnoName } from './errors.js';
import { libbpf, libc, type CPtr } from './libbpf.js';
import { BUDGET_EXHAUSTED, type RingWorkerData, type RingWorkerMessage } from './ringbuf-protocol.js';

const EINTR = 4;
const data = workerData as RingWorkerData;
const port = parentPort!;
const stopFlag = new Int32Array(data.stop);
const post = (m: RingWorkerMessage, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer ?? []);

let batch = newBatch(data.batchBytes);
let handledThisPoll = 0;

function newBatch(capacity: number): { ab: ArrayBuffer; buf: Buffer; addr: bigint; used: number; count: number } {
  const ab = new ArrayBuffer(capacity);
  const buf = Buffer.from(ab);
  return { ab, buf, addr: koffi.address(buf), used: 0, count: 0 };
}

function flush(): void {
  if (batch.count === 0) return;
  // Transfer a copy of just the used bytes and keep the batch buffer. Transferring the whole buffer
  // meant allocating (and zeroing) a fresh batchBytes one after every poll: when events trickle in a
  // few per poll that zeroing cost more than the records (bench/throughput, crr).
  const out = new ArrayBuffer(batch.used);
  new Uint8Array(out).set(new Uint8Array(batch.ab, 0, batch.used));
  post({ type: 'batch', buf: out, count: batch.count, used: batch.used }, [out]);
  batch.used = 0;
  batch.count = 0;
}

function onSample(_ctx: CPtr | null, sample: CPtr, size: number | bigint): number {
  const n = Number(size);
  if (batch.used + 4 + n > batch.buf.length) {
    flush();
    if (4 + n > batch.buf.length) batch = newBatch(4 + n);
  }
  batch.buf.writeUInt32LE(n, batch.used);
  libc().memcpy(batch.addr + BigInt(batch.used + 4), sample, n);
  batch.used += 4 + n;
  batch.count++;
  // libbpf has already moved past this record; a negative return only ends this poll early.
  return ++handledThisPoll >= data.budget ? BUDGET_EXHAUSTED : 0;
}

function run(): void {
  const lib = libbpf();
  const proto = koffi.proto('int cilia_ring_buffer_sample_fn(void *ctx, void *data, size_t size)');
  const cb = koffi.register(onSample, koffi.pointer(proto));
  const rb = lib.ring_buffer__new(data.fd, cb, null, null);
  if (!rb) {
    koffi.unregister(cb);
    const errno = koffi.errno();
    post({ type: 'error', message: `ring_buffer__new(fd ${data.fd}): ${errnoName(errno)}` });
    return;
  }
  post({ type: 'ready' });
  try {
    while (Atomics.load(stopFlag, 0) === 0) {
      handledThisPoll = 0;
      const rc = lib.ring_buffer__poll(rb, data.pollTimeoutMs);
      if (rc < 0 && rc !== BUDGET_EXHAUSTED && rc !== -EINTR) {
        post({ type: 'error', message: `ring_buffer__poll: ${errnoName(-rc)}` });
        break;
      }
      flush();
      // Coalesce wake-ups: after a poll that found records (but did not exhaust its budget: then a flood
      // is waiting and draining goes on at once), let records gather for a moment. The kernel wakes a
      // consumer that has caught up on every record, so a fast one woke (and woke the main thread) for
      // every few events under a connection flood: context switches then cost the agent most of a core
      // (bench/throughput, crr). An idle ring still delivers its first record at once.
      if (handledThisPoll > 0 && handledThisPoll < data.budget && data.coalesceMs > 0) Atomics.wait(stopFlag, 0, 0, data.coalesceMs);
    }
  } finally {
    lib.ring_buffer__free(rb);
    koffi.unregister(cb);
  }
}

try {
  run();
} catch (e) {
  post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
} finally {
  flush();
  post({ type: 'done' });
}
