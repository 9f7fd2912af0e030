// Owns the messages between RingBufferReader (main thread) and its worker (ringbuf-worker.ts).

/** workerData of the ring buffer worker. */
export interface RingWorkerData {
  /** Ring buffer map fd, shared with the main thread (one fd table per process); the main thread closes it. */
  readonly fd: number;
  /** Capacity of one batch buffer in bytes (a bigger record gets a batch of its own). */
  readonly batchBytes: number;
  /** Records handled per ring_buffer__poll before it is made to return, so batches flush and stop is seen. */
  readonly budget: number;
  /** Timeout of one ring_buffer__poll; bounds how long stop() takes when the ring is idle. */
  readonly pollTimeoutMs: number;
  /** How long the worker waits after a poll that found records, so that more gather; 0 = never. */
  readonly coalesceMs: number;
  /** Int32 slot 0 becomes 1 when the worker must stop (and is notified, ending a coalescing wait). */
  readonly stop: SharedArrayBuffer;
}

/**
 * Worker → main. A batch's `buf` (transferred, not copied) holds `count` records, each a little-endian
 * u32 length followed by that many bytes, back to back, in `used` bytes.
 */
export type RingWorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'batch'; readonly buf: ArrayBuffer; readonly count: number; readonly used: number }
  | { readonly type: 'error'; readonly message: string }
  | { readonly type: 'done' };

/** The negative value the sample callback returns to end a poll early (any negative stops libbpf's loop). */
export const BUDGET_EXHAUSTED = -1000;
