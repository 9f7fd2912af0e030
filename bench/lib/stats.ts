// Summary statistics of benchmark samples.

/**
 * The p-th percentile (0..100) of `samples` by the nearest-rank method: the smallest sample such that
 * at least p % of the samples are less than or equal to it (p99 of 100 samples is the 99th smallest).
 * Throws on an empty list.
 */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new Error('percentile of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

/** The median (the mean of the two middle samples for an even count). Throws on an empty list. */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) throw new Error('median of no samples');
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Distribution of a latency sample set, in the samples' unit. */
export interface Summary {
  readonly n: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** min / p50 / p90 / p99 / max / mean of `samples` (nearest-rank percentiles). Throws on an empty list. */
export function summarize(samples: readonly number[]): Summary {
  return {
    n: samples.length,
    min: Math.min(...samples),
    p50: percentile(samples, 50),
    p90: percentile(samples, 90),
    p99: percentile(samples, 99),
    max: Math.max(...samples),
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
  };
}

/** Milliseconds between two process.hrtime.bigint() readings. */
export function msBetween(from: bigint, to: bigint): number {
  return Number(to - from) / 1e6;
}
