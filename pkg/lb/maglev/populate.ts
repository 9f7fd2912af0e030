// Maglev lookup-table population (Eisenbud et al., NSDI 2016, "Maglev", §3.4, Pseudocode 1) with weights.

/** One participant of the population: its permutation and its weight. */
export interface PopulationEntry {
  readonly offset: number;
  readonly skip: number;
  /** Positive integer; turns are taken in proportion to it. */
  readonly weight: number;
}

/**
 * Yields the index of the backend whose turn it is, forever. Equal weights: plain round robin
 * 0, 1, …, N-1, 0, … (the paper). Unequal weights: smooth weighted round robin (each turn every
 * backend earns its weight, the richest one — earliest on ties — plays and pays the total), which
 * gives backend i exactly w_i turns in every W = Σw consecutive turns, interleaved rather than in
 * bursts; with equal weights it degenerates to the same round robin.
 */
function turnOrder(weights: readonly number[]): () => number {
  const n = weights.length;
  if (weights.every((w) => w === weights[0])) {
    let turn = 0;
    return () => turn++ % n;
  }
  const total = weights.reduce((a, b) => a + b, 0);
  const credit = new Float64Array(n);
  return () => {
    let best = 0;
    for (let i = 0; i < n; i++) {
      credit[i] += weights[i];
      if (credit[i] > credit[best]) best = i;
    }
    credit[best] -= total;
    return best;
  };
}

/**
 * Fills a table of `m` slots: backends take turns (see turnOrder); on its turn a backend claims
 * the next slot of its preference list p[j] = (offset + j·skip) mod m that is still free. The
 * table is full after exactly m turns, so backend i owns as many slots as it had turns:
 * ⌊m·w_i/W⌋ or ⌈m·w_i/W⌉ (±1 when weights differ).
 * @returns for each slot, the index (into `entries`) of the owning backend
 * @throws RangeError when there are no entries, more entries than slots, or a weight is not a positive integer
 */
export function populateMaglevTable(entries: readonly PopulationEntry[], m: number): Int32Array {
  const n = entries.length;
  if (n === 0 || n > m) throw new RangeError(`populateMaglevTable: need 1..${m} backends, got ${n}`);
  if (entries.some((e) => !Number.isInteger(e.weight) || e.weight <= 0)) {
    throw new RangeError('populateMaglevTable: weights must be positive integers');
  }
  const table = new Int32Array(m).fill(-1);
  // Next preferred slot of each backend (the paper's p[i][next[i]], walked lazily).
  const cursor = Float64Array.from(entries, (e) => e.offset % m);
  const nextTurn = turnOrder(entries.map((e) => e.weight));
  for (let filled = 0; filled < m; filled++) {
    const i = nextTurn();
    const skip = entries[i].skip;
    let slot = cursor[i];
    // With m prime and 1 <= skip < m the walk visits every slot and one is free; the bound only
    // guards against callers passing a composite m whose skip shares a factor with it.
    for (let steps = 0; table[slot] >= 0; steps++) {
      if (steps >= m) throw new RangeError(`populateMaglevTable: skip ${skip} does not cycle through ${m} slots (m must be prime)`);
      slot = (slot + skip) % m;
    }
    table[slot] = i;
    cursor[i] = (slot + skip) % m;
  }
  return table;
}
