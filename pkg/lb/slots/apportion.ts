// Apportionment of a bounded number of slots to weighted backends.

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Result of `apportionSlots`. */
export interface Apportionment {
  /** Slots per input weight, same order; every entry >= 1. */
  readonly counts: readonly number[];
  /** True when the weights had to be scaled down to fit the budget (shares then approximate). */
  readonly scaled: boolean;
}

/**
 * Splits at most `budget` slots among backends in proportion to their weights, every backend
 * getting at least one slot.
 *
 * Exact when possible: the weights are divided by their greatest common divisor, and if the
 * reduced weights sum to at most `budget` each backend gets exactly its reduced weight (weights
 * 1,1,1 → 1,1,1; 2,4 → 1,2; 100,300 → 1,3). Otherwise the shares are scaled to exactly `budget`
 * slots with the largest-remainder (Hamilton) method, where a backend whose share would be below
 * one slot is pinned to one slot and the rest re-apportioned; ties in remainders go to the
 * earlier backend. Each count then differs from its exact share by less than one slot.
 *
 * @param weights positive integers
 * @param budget maximum total; must be >= weights.length (so that everyone gets a slot)
 * @throws RangeError if a weight is not a positive integer or the budget is too small
 */
export function apportionSlots(weights: readonly number[], budget: number): Apportionment {
  if (weights.some((w) => !Number.isInteger(w) || w <= 0)) throw new RangeError('apportionSlots: weights must be positive integers');
  if (!Number.isInteger(budget) || budget < weights.length) {
    throw new RangeError(`apportionSlots: budget ${budget} is smaller than the ${weights.length} backends`);
  }
  if (weights.length === 0) return { counts: [], scaled: false };
  const divisor = weights.reduce(gcd);
  const reduced = weights.map((w) => w / divisor);
  if (reduced.reduce((a, b) => a + b, 0) <= budget) return { counts: reduced, scaled: false };
  return { counts: hamiltonWithFloorOne(weights, budget), scaled: true };
}

function hamiltonWithFloorOne(weights: readonly number[], budget: number): number[] {
  const counts: number[] = new Array<number>(weights.length).fill(0);
  const pinned = new Set<number>();
  // Pinning one backend lowers the budget left for the others, which can push another share below
  // one slot; repeat until stable (at most n rounds).
  for (;;) {
    const free = weights.map((_, i) => i).filter((i) => !pinned.has(i));
    const seats = budget - pinned.size;
    const total = free.reduce((sum, i) => sum + weights[i], 0);
    const newlyPinned = free.filter((i) => (seats * weights[i]) / total < 1);
    if (newlyPinned.length === 0) {
      let assigned = pinned.size;
      const remainders: { i: number; remainder: number }[] = [];
      for (const i of free) {
        const quota = (seats * weights[i]) / total;
        counts[i] = Math.floor(quota);
        assigned += counts[i];
        remainders.push({ i, remainder: quota - counts[i] });
      }
      remainders.sort((a, b) => b.remainder - a.remainder || a.i - b.i);
      for (let k = 0; assigned < budget; k++, assigned++) counts[remainders[k].i] += 1;
      for (const i of pinned) counts[i] = 1;
      return counts;
    }
    for (const i of newlyPinned) pinned.add(i);
  }
}
