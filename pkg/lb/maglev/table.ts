// Maglev lookup tables of backend ids, ready for the per-service inner array map.
import { LbValidationError } from '../model/index.js';
import { maglevOffsetSkip } from './permutation.js';
import { populateMaglevTable } from './populate.js';
import { checkMaglevTableSize, DEFAULT_MAGLEV_TABLE_SIZE } from './table-size.js';

/** A backend as the Maglev table sees it. */
export interface MaglevBackend {
  /** Backend id stored in the table (key of the backends map), 1..2^32-1. */
  readonly id: number;
  /** Stable identity hashed for the permutation, e.g. `10.244.1.5:8080/TCP` (backendIdentity). */
  readonly identity: string;
  /** Relative share of table slots; 0 = no slots. Integer 0..65535. */
  readonly weight: number;
}

/**
 * Builds the Maglev lookup table of one service: `table[k]` is the backend id for flows whose
 * hash % M = k (see maglevFlowHash / maglevIndex).
 *
 * Pass only the backends eligible for new connections (eligibleForNewConnections); weight-0
 * backends are skipped here as well. Backends are sorted by identity first, so the table does not
 * depend on input order or on node-local ids, only on the set of (identity, weight): every node
 * builds the same table up to id renaming. Removing one of N backends moves only its own slots
 * plus a small fraction of the others (Maglev's minimal disruption).
 *
 * @param m table size, a prime (default 16381)
 * @returns M backend ids; an empty array when no backend has weight > 0 (the datapath then sees
 *   count 0 and drops with DROP_NO_SERVICE before consulting a table)
 * @throws LbValidationError (`maglevTableSize`) for a non-prime or out-of-range M or more backends than M
 * @throws LbValidationError (`backends[i].id|identity|weight`) for bad or duplicate ids/identities or bad weights
 */
export function buildMaglevTable(backends: readonly MaglevBackend[], m: number = DEFAULT_MAGLEV_TABLE_SIZE): Uint32Array {
  checkMaglevTableSize(m);
  const ids = new Set<number>();
  const identities = new Set<string>();
  backends.forEach((b, i) => {
    if (!Number.isInteger(b.id) || b.id < 1 || b.id > 0xffffffff) {
      throw new LbValidationError(`backends[${i}].id`, `backend id ${b.id} is not an integer 1..4294967295`);
    }
    if (ids.has(b.id)) throw new LbValidationError(`backends[${i}].id`, `duplicate backend id ${b.id}`);
    if (typeof b.identity !== 'string' || b.identity === '') throw new LbValidationError(`backends[${i}].identity`, 'must be a non-empty string');
    if (identities.has(b.identity)) throw new LbValidationError(`backends[${i}].identity`, `duplicate backend identity ${b.identity}`);
    if (!Number.isInteger(b.weight) || b.weight < 0 || b.weight > 65535) {
      throw new LbValidationError(`backends[${i}].weight`, `weight ${b.weight} is not an integer 0..65535`);
    }
    ids.add(b.id);
    identities.add(b.identity);
  });
  const participants = backends
    .filter((b) => b.weight > 0)
    .sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
  if (participants.length === 0) return new Uint32Array(0);
  if (participants.length > m) {
    throw new LbValidationError('maglevTableSize', `${participants.length} backends do not fit a table of ${m} slots`);
  }
  const owners = populateMaglevTable(
    participants.map((b) => ({ ...maglevOffsetSkip(b.identity, m), weight: b.weight })),
    m,
  );
  return Uint32Array.from(owners, (i) => participants[i].id);
}
