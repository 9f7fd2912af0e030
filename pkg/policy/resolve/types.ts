// Owns the types of resolved policy: what the resolver produces for the policy map.
import type { LabelSet } from '../../labels/index.js';
import type { Direction, RuleRef } from '../rules/model.js';

/** A port an endpoint declares by name (Kubernetes containerPort name). `protocol` is 6, 17 or 132. */
export interface NamedPortValue {
  readonly port: number;
  readonly protocol: number;
}

/** A named port with its name, as declared by the peers of an identity. */
export interface NamedPort extends NamedPortValue {
  readonly name: string;
}

/** The endpoint whose policy is resolved. */
export interface PolicyEndpoint {
  /** Endpoint id (the policy map key's first field; not used by resolution itself). */
  readonly id: number;
  /** Its security identity. */
  readonly identity: number;
  /** Its identity labels; rules whose subject matches them apply. */
  readonly labels: LabelSet;
  /** Its named ports, for ingress rules that name ports. */
  readonly namedPorts: ReadonlyMap<string, NamedPortValue>;
}

/**
 * `default`: a direction is enforced once a rule with a section for it selects the endpoint;
 * `always`: every endpoint is default-deny both ways; `never`: no policy at all.
 */
export type EnforcementMode = 'default' | 'always' | 'never';

/** Options of resolve(). */
export interface ResolveOptions {
  /** Default `default`. */
  readonly enforcementMode?: EnforcementMode;
  /**
   * The named ports declared by the endpoints that have this identity, for egress rules that
   * name ports (the port number depends on the destination). Default: none, so egress named
   * ports match nothing.
   */
  readonly namedPortsOf?: (identity: number) => Iterable<NamedPort>;
}

/**
 * One policy map entry. Key: (endpoint, identity, direction, protocol, port/portPrefixLen);
 * value: allow or deny. `identity` 0 = any identity; `protocol` 0 = any protocol (then port 0/0).
 * Entries are already free of shadowing: no allow entry lies inside a deny entry of the same
 * (identity, direction), so longest-prefix match returns deny wherever a deny applies.
 */
export interface PolicyEntry {
  readonly identity: number;
  readonly direction: Direction;
  readonly protocol: number;
  readonly port: number;
  readonly portPrefixLen: number;
  readonly deny: boolean;
  /** The policy objects (or Builtin) the entry came from, sorted, without duplicates. */
  readonly derivedFrom: readonly RuleRef[];
}

/** The resolved policy of one endpoint. */
export interface ResolvedPolicy {
  readonly ingressEnforced: boolean;
  readonly egressEnforced: boolean;
  /** Sorted by direction (ingress first), identity, protocol, port, prefix length. */
  readonly entries: readonly PolicyEntry[];
  /**
   * Keys of the selectors whose selections this result depends on: when the selector cache
   * reports one of them changed, resolve this endpoint again.
   */
  readonly selectorKeys: readonly string[];
  /** The rules that selected the endpoint. */
  readonly matchingRules: readonly RuleRef[];
}
