// Owns consuming BPF ring buffers without blocking the event loop: a worker thread polls the ring and
// hands over batches of records, which the reader delivers to a callback on the main thread.
import { Worker } from 'node:worker_threads';
import { mapInfo } from './info.js';
import { MapType } from './map.js';
import { closeFd, dupFd, getPinned } from './pin.js';
import type { RingWorkerData, RingWorkerMessage } from './ringbuf-protocol.js';

/** Options of `RingBufferReader.open`. */
export interface RingBufferOptions {
  /** Bytes per batch handed to the main thread; default 256 KiB. */
  readonly batchBytes?: number;
  /** Records per poll before the worker flushes a batch; default 8192. */
  readonly budget?: number;
  /** Poll timeout in ms: an idle worker notices stop() within it; default 50. */
  readonly pollTimeoutMs?: number;
  /**
   * After a poll that found records, wait this long (ms) before the next one so records gather: fewer
   * wake-ups of the worker and the main thread under a steady stream, at the price of up to this much
   * delivery delay (a record arriving on an idle ring is still delivered at once). Default 2; 0 = off.
   */
  readonly coalesceMs?: number;
  /** Called when the worker fails or the records callback throws; default: process.emitWarning. */
  readonly onError?: (error: Error) => void;
}

/** Counters of a reader. */
export interface RingBufferStats {
  readonly records: number;
  readonly batches: number;
  readonly bytes: number;
}

/**
 * Reads a BPF_MAP_TYPE_RINGBUF map in a worker thread and calls `onRecords` on the main thread with batches of
 * records, in ring order. Each record is a Buffer of exactly the size the program submitted. It is a view into
 * the batch's memory, which is never reused, so keeping it is safe; but it keeps the whole batch (up to
 * `batchBytes`) alive, so copy the few records you keep for long. The reader keeps the process alive until `stop()`.
 */
export class RingBufferReader {
  /** Resolves once the worker is consuming; rejects if it could not start. */
  readonly ready: Promise<void>;
  private readonly worker: Worker;
  private readonly stopFlag = new Int32Array(new SharedArrayBuffer(4));
  private readonly done: Promise<void>;
  private stopping: Promise<void> | undefined;
  private workerRunning = true;
  private records = 0;
  private batches = 0;
  private bytes = 0;

  private constructor(
    private readonly fd: number,
    private readonly onRecords: (records: Buffer[]) => void,
    private readonly options: RingBufferOptions,
  ) {
    const data: RingWorkerData = {
      fd, batchBytes: options.batchBytes ?? 256 * 1024, budget: options.budget ?? 8192,
      pollTimeoutMs: options.pollTimeoutMs ?? 50, coalesceMs: options.coalesceMs ?? 2, stop: this.stopFlag.buffer,
    };
    this.worker = new Worker(new URL('./ringbuf-worker.js', import.meta.url), { workerData: data });
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise<void>((res, rej) => { readyResolve = res; readyReject = rej; });
    this.ready.catch(() => undefined); // reported through onError too; awaiting it is optional
    let doneResolve!: () => void;
    const doneMessage = new Promise<void>((res) => { doneResolve = res; });
    const exited = new Promise<void>((res) => this.worker.once('exit', () => {
      this.workerRunning = false;
      res();
    }));
    this.worker.on('message', (m: RingWorkerMessage) => {
      switch (m.type) {
        case 'ready': readyResolve(); break;
        case 'batch': this.deliver(m.buf, m.count, m.used); break;
        case 'error': {
          const err = new Error(`ring buffer reader: ${m.message}`);
          readyReject(err);
          this.report(err);
          break;
        }
        case 'done': doneResolve(); break;
      }
    });
    this.worker.on('error', (e) => {
      readyReject(e);
      doneResolve();
      this.report(e);
    });
    this.done = Promise.all([doneMessage, exited]).then(() => {
      readyReject(new Error('ring buffer reader stopped before it was ready'));
      closeFd(this.fd);
    });
  }

  /**
   * Starts reading the ring buffer pinned at `source` (a path) or open as `source` (an fd, which is duplicated:
   * the caller keeps its own). Throws BpfError when the pin cannot be opened, Error when it is not a ring buffer.
   */
  static open(source: string | number, onRecords: (records: Buffer[]) => void, options: RingBufferOptions = {}): RingBufferReader {
    const fd = typeof source === 'string' ? getPinned(source) : dupFd(source);
    try {
      const info = mapInfo(fd);
      if (info.type !== MapType.RingBuf) throw new Error(`RingBufferReader: map ${info.name} (${String(source)}) is not a ring buffer (type ${info.type})`);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    return new RingBufferReader(fd, onRecords, options);
  }

  /** True until the worker thread has exited (after `stop()`, or after it failed). */
  get running(): boolean {
    return this.workerRunning;
  }

  /** Records, batches and bytes delivered so far. */
  get stats(): RingBufferStats {
    return { records: this.records, batches: this.batches, bytes: this.bytes };
  }

  /**
   * Stops the worker and resolves when it has exited, every batch it read has been delivered and the fd is
   * closed. Takes at most about one poll timeout. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= (Atomics.store(this.stopFlag, 0, 1), Atomics.notify(this.stopFlag, 0), this.done);
    return this.stopping;
  }

  private deliver(ab: ArrayBuffer, count: number, used: number): void {
    const buf = Buffer.from(ab, 0, used);
    const records: Buffer[] = new Array<Buffer>(count);
    let off = 0;
    for (let i = 0; i < count; i++) {
      const n = buf.readUInt32LE(off);
      records[i] = buf.subarray(off + 4, off + 4 + n);
      off += 4 + n;
    }
    this.records += count;
    this.batches++;
    this.bytes += used - 4 * count;
    try {
      this.onRecords(records);
    } catch (e) {
      this.report(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private report(e: Error): void {
    if (this.options.onError) this.options.onError(e);
    else process.emitWarning(e);
  }
}
