// Maglev lookup-table sizes: M must be prime so every backend's permutation visits every slot.
import { LbValidationError } from '../model/index.js';

/** Cilium's default table size (`--bpf-lb-maglev-table-size`). 16381 u32 entries = 64 KiB per service. */
export const DEFAULT_MAGLEV_TABLE_SIZE = 16381;
/** Largest table size accepted (Cilium's largest supported prime). */
export const MAX_MAGLEV_TABLE_SIZE = 131071;
/**
 * The primes Cilium offers, smallest first. Any prime up to MAX_MAGLEV_TABLE_SIZE is accepted; the
 * small ones suit per-service opt-in where 10,000 × 64 KiB tables would not fit.
 */
export const CILIUM_MAGLEV_TABLE_SIZES: readonly number[] = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071];

/** Whether `n` is a prime number (trial division; n is at most a few hundred thousand here). */
export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/**
 * Checks a Maglev table size: a prime 2..131071. The Maglev paper also wants M much larger than
 * the number of backends N (M > 100·N keeps the imbalance around 1%); that is the caller's choice,
 * `buildMaglevTable` only insists on N <= M.
 * @throws LbValidationError naming `field`
 */
export function checkMaglevTableSize(m: number, field = 'maglevTableSize'): number {
  if (!Number.isInteger(m) || m < 2 || m > MAX_MAGLEV_TABLE_SIZE) {
    throw new LbValidationError(field, `table size ${m} is out of range 2..${MAX_MAGLEV_TABLE_SIZE}`);
  }
  if (!isPrime(m)) throw new LbValidationError(field, `table size ${m} is not prime (try one of ${CILIUM_MAGLEV_TABLE_SIZES.join(', ')})`);
  return m;
}
