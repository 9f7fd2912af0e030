// Owns resolve(): turning the rules that select an endpoint into its policy map entries.
import { type EndpointSelector, ReservedIdentity } from '../../labels/index.js';
import type { Repository } from '../repository/index.js';
import type { SelectorCache } from '../selectorcache/index.js';
import {
  type Clause, type Direction, type PortSpec, type Rule, type RuleRef, PORT_PROTOCOLS, Protocol, clausesOf, formatRuleRef,
} from '../rules/model.js';
import { type PortBlock, blockContains, portBlocks } from './ports.js';
import type { PolicyEndpoint, PolicyEntry, ResolveOptions, ResolvedPolicy } from './types.js';

/** The reference of the implicit ingress allow from the local host (Cilium's allow-localhost). */
export const ALLOW_LOCALHOST: RuleRef = Object.freeze({ kind: 'Builtin', namespace: '', name: 'allow-localhost' });

const ANY_PORT: PortBlock = { port: 0, prefixLen: 0 };

/** (protocol, block) pairs: the L4 part of an entry. */
interface L4 {
  readonly protocol: number;
  readonly block: PortBlock;
}

/** One policy map key being collected, with the rules that allow and deny it (by formatted ref). */
interface RawEntry {
  readonly l4: L4;
  readonly allow: Map<string, RuleRef>;
  readonly deny: Map<string, RuleRef>;
}

/** The entries of one (direction, identity): the unit within which LPM lookups happen. */
interface EntryGroup {
  readonly direction: Direction;
  readonly identity: number;
  /** By L4 key: protocol (8 bits), port (16), prefix length (5) packed in one number. */
  readonly byL4: Map<number, RawEntry>;
}

/** Entries being collected for one endpoint. */
class EntryCollector {
  readonly #groups = new Map<string, EntryGroup>();

  add(identity: number, direction: Direction, l4: L4, deny: boolean, from: RuleRef, fromKey: string = formatRuleRef(from)): void {
    const gk = `${direction}|${identity}`;
    let g = this.#groups.get(gk);
    if (!g) this.#groups.set(gk, (g = { direction, identity, byL4: new Map() }));
    const k = l4.protocol * 2 ** 21 + l4.block.port * 32 + l4.block.prefixLen;
    let e = g.byL4.get(k);
    if (!e) g.byL4.set(k, (e = { l4, allow: new Map(), deny: new Map() }));
    (deny ? e.deny : e.allow).set(fromKey, from);
  }

  /**
   * The final entries: deny wins on an equal key, and an allow entry that lies inside a deny
   * entry of the same (direction, identity) is dropped — longest-prefix match would otherwise
   * pick the (longer) allow over the deny. With aligned port blocks, "inside one deny" is the
   * only case that matters: a deny block inside an allow block is longer and wins by itself.
   */
  finish(): PolicyEntry[] {
    const out: PolicyEntry[] = [];
    for (const { direction, identity, byL4 } of this.#groups.values()) {
      const denies: L4[] = [];
      for (const e of byL4.values()) if (e.deny.size > 0) denies.push(e.l4);
      for (const e of byL4.values()) {
        const deny = e.deny.size > 0;
        if (!deny && denies.some((d) => l4Covers(d, e.l4))) continue;
        const refs = [...(deny ? e.deny : e.allow).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
        out.push({ identity, direction, protocol: e.l4.protocol, port: e.l4.block.port, portPrefixLen: e.l4.block.prefixLen, deny, derivedFrom: refs });
      }
    }
    return out.sort(compareEntries);
  }
}

function l4Covers(outer: L4, inner: L4): boolean {
  if (outer.protocol === Protocol.ANY) return true;
  return outer.protocol === inner.protocol && blockContains(outer.block, inner.block);
}

function compareEntries(a: PolicyEntry, b: PolicyEntry): number {
  if (a.direction !== b.direction) return a.direction === 'ingress' ? -1 : 1;
  return a.identity - b.identity || a.protocol - b.protocol || a.port - b.port || a.portPrefixLen - b.portPrefixLen || Number(a.deny) - Number(b.deny);
}

/** The L4 parts of a numeric port spec. */
function numericL4(spec: PortSpec & { port: number }): L4[] {
  const protocols = spec.protocol === Protocol.ANY ? PORT_PROTOCOLS : [spec.protocol];
  const blocks = spec.port === 0 ? [ANY_PORT] : portBlocks(spec.port, spec.endPort ?? spec.port);
  return protocols.flatMap((protocol) => blocks.map((block) => ({ protocol, block })));
}

/** Whether a named port's declared protocol satisfies the spec's protocol (ANY accepts all). */
const protocolFits = (spec: PortSpec, declared: number): boolean => spec.protocol === Protocol.ANY || spec.protocol === declared;

/** Resolution of one endpoint, one direction at a time. */
class Resolver {
  readonly selectorKeys = new Set<string>();

  constructor(
    private readonly endpoint: PolicyEndpoint,
    private readonly cache: SelectorCache,
    private readonly opts: ResolveOptions,
    private readonly out: EntryCollector,
  ) {}

  /**
   * Peer identities of a selector; the wildcard is identity 0 (any identity, known or not), which
   * does not depend on the identity table, so it is not recorded in selectorKeys.
   */
  peers(sel: EndpointSelector): Iterable<number> {
    if (sel.isWildcard) return [ReservedIdentity.Unknown];
    this.selectorKeys.add(sel.key);
    return this.cache.selections(sel);
  }

  clause(clause: Clause, direction: Direction, deny: boolean, from: RuleRef): void {
    const fromKey = formatRuleRef(from);
    for (const sel of clause.peers) {
      if (clause.ports.length === 0) {
        // L3-only: every protocol, every port (and ICMP).
        for (const id of this.peers(sel)) this.out.add(id, direction, { protocol: Protocol.ANY, block: ANY_PORT }, deny, from, fromKey);
        continue;
      }
      for (const spec of clause.ports) {
        if (typeof spec.port === 'number') {
          const l4s = numericL4(spec as PortSpec & { port: number });
          for (const id of this.peers(sel)) for (const l4 of l4s) this.out.add(id, direction, l4, deny, from, fromKey);
        } else if (direction === 'ingress') {
          this.ingressNamedPort(sel, spec, spec.port, deny, from);
        } else {
          this.egressNamedPort(sel, spec, spec.port, deny, from);
        }
      }
    }
  }

  /** Ingress: the name is one of the endpoint's own ports; unknown names match nothing. */
  ingressNamedPort(sel: EndpointSelector, spec: PortSpec, name: string, deny: boolean, from: RuleRef): void {
    const np = this.endpoint.namedPorts.get(name);
    if (!np || !protocolFits(spec, np.protocol)) return;
    for (const id of this.peers(sel)) this.out.add(id, 'ingress', { protocol: np.protocol, block: { port: np.port, prefixLen: 16 } }, deny, from);
  }

  /**
   * Egress: the name is a port of the destination, so it resolves per peer identity. A wildcard
   * peer is expanded to every known identity here (identity 0 cannot carry a port that differs
   * between destinations), which makes this result depend on every identity change.
   */
  egressNamedPort(sel: EndpointSelector, spec: PortSpec, name: string, deny: boolean, from: RuleRef): void {
    this.selectorKeys.add(sel.key);
    const ids = sel.isWildcard ? this.cache.identities().keys() : this.cache.selections(sel);
    for (const id of ids) {
      for (const np of this.opts.namedPortsOf?.(id) ?? []) {
        if (np.name !== name || !protocolFits(spec, np.protocol)) continue;
        this.out.add(id, 'egress', { protocol: np.protocol, block: { port: np.port, prefixLen: 16 } }, deny, from);
      }
    }
  }
}

/**
 * Resolves the policy of one endpoint into policy map entries (Cilium semantics):
 * - The rules whose subject matches the endpoint's labels apply.
 * - A direction is enforced when one of them enforces it (mode `default`), always (`always`),
 *   or never (`never`: no entries at all). Unenforced directions get no entries.
 * - In an enforced direction: allows are the union of the allow clauses, deny clauses win over
 *   any allow; an `ingress: [{}]` rule enforces and allows nothing. If every enforcing rule
 *   disabled default-deny (enableDefaultDeny: false), an allow-all entry keeps unmatched traffic
 *   allowed (not in `always` mode).
 * - Ingress from the local host (identity 1) is always allowed when ingress is enforced: an
 *   explicit allow entry for identity 1 derived from ALLOW_LOCALHOST (a deny for the host still
 *   wins). Nothing is implicitly allowed for `health` or anything else.
 * - Peers: the wildcard selector becomes identity 0, other selectors the identities the
 *   selector cache says they select (CIDR rules select CIDR identities, which must be in the
 *   cache). Port ranges become aligned blocks; protocol ANY with ports becomes TCP, UDP and SCTP
 *   entries; a clause without ports becomes protocol 0, any port. Named ports resolve against
 *   the endpoint (ingress) or the peer identity's ports (egress, via opts.namedPortsOf);
 *   unresolvable names match nothing.
 */
export function resolve(endpoint: PolicyEndpoint, repo: Repository, cache: SelectorCache, opts: ResolveOptions = {}): ResolvedPolicy {
  const mode = opts.enforcementMode ?? 'default';
  if (mode === 'never') return { ingressEnforced: false, egressEnforced: false, entries: [], selectorKeys: [], matchingRules: [] };
  const matching: Rule[] = repo.rules().filter((r) => r.subject.matches(endpoint.labels));
  const out = new EntryCollector();
  const resolver = new Resolver(endpoint, cache, opts, out);
  const enforced: Record<Direction, boolean> = { ingress: false, egress: false };
  for (const direction of ['ingress', 'egress'] as const) {
    const enforcing = matching.filter((r) => r.enforces[direction]);
    enforced[direction] = mode === 'always' || enforcing.length > 0;
    if (!enforced[direction]) continue;
    for (const rule of matching) {
      const { allow, deny } = clausesOf(rule, direction);
      for (const c of allow) resolver.clause(c, direction, false, rule.ref);
      for (const c of deny) resolver.clause(c, direction, true, rule.ref);
    }
    if (mode !== 'always' && enforcing.every((r) => !r.defaultDeny[direction])) {
      for (const r of enforcing) out.add(ReservedIdentity.Unknown, direction, { protocol: Protocol.ANY, block: ANY_PORT }, false, r.ref);
    }
    if (direction === 'ingress') out.add(ReservedIdentity.Host, 'ingress', { protocol: Protocol.ANY, block: ANY_PORT }, false, ALLOW_LOCALHOST);
  }
  const refs = new Map(matching.map((r) => [formatRuleRef(r.ref), r.ref]));
  return {
    ingressEnforced: enforced.ingress,
    egressEnforced: enforced.egress,
    entries: out.finish(),
    selectorKeys: [...resolver.selectorKeys].sort(),
    matchingRules: [...refs.values()],
  };
}
