// Per-backend Maglev preference lists: offset and skip from hashes of the backend identity.
import { createHash } from 'node:crypto';

/** The two numbers that define a backend's permutation of the table slots. */
export interface OffsetSkip {
  /** First preferred slot, 0..M-1. */
  readonly offset: number;
  /** Step between preferred slots, 1..M-1 (coprime to M since M is prime). */
  readonly skip: number;
}

/**
 * offset = h1(identity) mod M and skip = h2(identity) mod (M-1) + 1, as in the Maglev paper.
 * h1 and h2 are the first and second big-endian 32-bit words of SHA-256(UTF-8 identity): a
 * deterministic, well-mixed hash every node computes alike (SHA-256 rather than Cilium's seeded
 * murmur3 because node:crypto has it built in; the tables are therefore not byte-identical to
 * Cilium's). The modulo bias of a 32-bit hash over M <= 131071 is below 0.004%.
 * @param identity stable backend identity, e.g. `10.244.1.5:8080/TCP` (see backendIdentity)
 * @param m table size (prime, checked by the caller)
 */
export function maglevOffsetSkip(identity: string, m: number): OffsetSkip {
  const digest = createHash('sha256').update(identity, 'utf8').digest();
  const h1 = digest.readUInt32BE(0);
  const h2 = digest.readUInt32BE(4);
  return { offset: h1 % m, skip: m === 1 ? 1 : (h2 % (m - 1)) + 1 };
}

/**
 * The full preference list p[j] = (offset + j·skip) mod M, j = 0..M-1 (for inspection and tests;
 * the table builder walks it lazily). A permutation of 0..M-1 when M is prime.
 */
export function maglevPermutation({ offset, skip }: OffsetSkip, m: number): Uint32Array {
  const out = new Uint32Array(m);
  let slot = offset;
  for (let j = 0; j < m; j++) {
    out[j] = slot;
    slot = (slot + skip) % m;
  }
  return out;
}
