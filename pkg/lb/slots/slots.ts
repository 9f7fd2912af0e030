// Slot layout for random backend selection: which backend id sits in each service slot 1..count.
import { eligibleForNewConnections, LbValidationError, sortInPlace, type EligibilityOptions, type BackendState } from '../model/index.js';
import { apportionSlots } from './apportion.js';

/**
 * Default bound on slots per frontend when weights are uneven. Each slot is one entry of the
 * services map (65536 entries for all services by default), so weights are honoured exactly only
 * while they fit; see `layoutSlots`.
 */
export const DEFAULT_MAX_SLOTS = 256;
/** Hard limit: `lb4_service.count` is a u16. */
export const MAX_SLOTS = 65535;

/** A backend as the slot layout sees it: its node-local id plus what decides eligibility. */
export interface SlotBackend {
  /** Backend id (key of the backends map), 1..2^32-1; 0 means "no backend" in the datapath. */
  readonly id: number;
  readonly weight: number;
  readonly state: BackendState;
  readonly nodeName?: string;
}

/** Options of `layoutSlots`. */
export interface SlotLayoutOptions extends EligibilityOptions {
  /** Slot budget when weights must be scaled; default 256, at most 65535. Never below the number of eligible backends. */
  readonly maxSlots?: number;
}

/** Result of `layoutSlots`. */
export interface SlotLayout {
  /** `slots[k]` is the backend id of slot k+1; the master entry's count is `slots.length` (0 = drop). */
  readonly slots: readonly number[];
  /** True when weights were scaled down to fit the budget, so shares are approximate. */
  readonly scaled: boolean;
}

/**
 * Lays out the backend slots of one frontend for the `random` algorithm, where the datapath picks
 * slot = 1 + prandom() % count for each new connection.
 *
 * Eligibility: only `active` backends with weight > 0 (and, under the `Local` policy, only local
 * ones; optionally falling back to terminating ones) get slots; see eligibleForNewConnections.
 * The others keep their backends-map entries so established connections still work.
 *
 * Weights → slots: a backend's share of new connections is its share of slots. Weights are
 * reduced by their gcd; if the reduced weights fit in the budget B = max(maxSlots, eligible
 * count), backend i gets exactly w_i / gcd slots (equal weights → one slot each, as in Cilium).
 * Otherwise exactly B slots are apportioned by largest remainder with a floor of one slot per
 * backend (see apportionSlots), so the count stays bounded and every eligible backend stays
 * reachable. Layout: backends ordered by id, each backend's slots contiguous (order does not
 * matter to a uniform random pick; a fixed order keeps map updates minimal and idempotent).
 *
 * @throws LbValidationError (`backends[i].id`) for ids that are not integers 1..2^32-1 or repeat
 * @throws LbValidationError (`maxSlots`) for a budget outside 1..65535 or more eligible backends than 65535
 */
export function layoutSlots(backends: readonly SlotBackend[], options: SlotLayoutOptions = {}): SlotLayout {
  checkIds(backends);
  const maxSlots = options.maxSlots ?? DEFAULT_MAX_SLOTS;
  if (!Number.isInteger(maxSlots) || maxSlots < 1 || maxSlots > MAX_SLOTS) {
    throw new LbValidationError('maxSlots', `slot budget ${maxSlots} is out of range 1..${MAX_SLOTS}`);
  }
  const eligible = sortInPlace(eligibleForNewConnections(backends, options), byId);
  if (eligible.length > MAX_SLOTS) {
    throw new LbValidationError('maxSlots', `${eligible.length} eligible backends exceed the ${MAX_SLOTS} slots a service can have`);
  }
  // Equal weights (the common case) reduce to one slot each: what apportionSlots computes, without its arrays.
  if (eligible.every((b) => b.weight === eligible[0].weight && Number.isInteger(b.weight))) return { slots: eligible.map((b) => b.id), scaled: false };
  const { counts, scaled } = apportionSlots(
    eligible.map((b) => b.weight),
    Math.max(maxSlots, eligible.length),
  );
  const slots: number[] = [];
  eligible.forEach((b, i) => {
    for (let k = 0; k < counts[i]; k++) slots.push(b.id);
  });
  return { slots, scaled };
}

function byId(a: SlotBackend, b: SlotBackend): number {
  return a.id - b.id;
}

/** Throws LbValidationError (`backends[i].id`) for an id that is not 1..2^32-1 or repeats an earlier one. */
function checkIds(backends: readonly SlotBackend[]): void {
  // A quadratic scan for the few backends of a typical service; a set beyond that.
  const seen = backends.length > 16 ? new Set<number>() : undefined;
  backends.forEach((b, i) => {
    if (!Number.isInteger(b.id) || b.id < 1 || b.id > 0xffffffff) {
      throw new LbValidationError(`backends[${i}].id`, `backend id ${b.id} is not an integer 1..4294967295`);
    }
    let dup: boolean;
    if (seen) {
      dup = seen.has(b.id);
      seen.add(b.id);
    } else {
      dup = false;
      for (let j = 0; j < i && !dup; j++) dup = backends[j].id === b.id;
    }
    if (dup) throw new LbValidationError(`backends[${i}].id`, `duplicate backend id ${b.id}`);
  });
}
