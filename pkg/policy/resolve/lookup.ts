// Owns a reference model of the datapath's policy lookup, for tests and for checking the BPF
// side against the resolver's contract.
import type { Direction } from '../rules/model.js';
import { Protocol } from '../rules/model.js';
import { blockHas } from './ports.js';
import type { PolicyEntry, ResolvedPolicy } from './types.js';

/** Datapath verdicts: `denied` = "Policy denied", `denied-by-denylist` = "Policy denied by denylist". */
export type LookupVerdict = 'allowed' | 'denied' | 'denied-by-denylist';

/** A new connection as the datapath sees it. */
export interface LookupQuery {
  readonly direction: Direction;
  /** The peer's identities: its own, plus the CIDR identity of its address when it has one. */
  readonly identities: readonly number[];
  /** IP protocol number (1 for ICMP). */
  readonly protocol: number;
  /** Destination port (the ICMP type for ICMP). */
  readonly port: number;
}

/** Longest-prefix match among the entries of one identity: protocol-specific beats protocol 0. */
function longestMatch(entries: readonly PolicyEntry[], identity: number, q: LookupQuery): PolicyEntry | undefined {
  let best: PolicyEntry | undefined;
  let bestLen = -1;
  for (const e of entries) {
    if (e.identity !== identity || e.direction !== q.direction) continue;
    let len: number;
    if (e.protocol === Protocol.ANY) len = 0;
    else if (e.protocol === q.protocol && blockHas({ port: e.port, prefixLen: e.portPrefixLen }, q.port)) len = 8 + e.portPrefixLen;
    else continue;
    if (len > bestLen) {
      best = e;
      bestLen = len;
    }
  }
  return best;
}

/**
 * The verdict the datapath reaches for a connection, per the policy map contract: for each peer
 * identity and for identity 0, take the longest-prefix entry; any deny → denied-by-denylist;
 * else any allow → allowed; else denied if the direction is enforced, allowed otherwise.
 */
export function lookupVerdict(policy: Pick<ResolvedPolicy, 'entries' | 'ingressEnforced' | 'egressEnforced'>, q: LookupQuery): LookupVerdict {
  const hits = [...new Set([...q.identities, 0])].map((id) => longestMatch(policy.entries, id, q)).filter((e) => e !== undefined);
  if (hits.some((e) => e.deny)) return 'denied-by-denylist';
  if (hits.length > 0) return 'allowed';
  const enforced = q.direction === 'ingress' ? policy.ingressEnforced : policy.egressEnforced;
  return enforced ? 'denied' : 'allowed';
}
