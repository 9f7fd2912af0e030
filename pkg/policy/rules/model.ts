// Owns the internal rule model every policy kind (CNP, CCNP, Kubernetes NetworkPolicy, bare
// Cilium rules) is translated into, and which the resolver and the tracer read.
import type { EndpointSelector, LabelSet } from '../../labels/index.js';

/** The kinds of policy objects Cilia accepts. `CiliumRules` = bare rules (`cilium policy import` format). */
export type PolicyKind = 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy' | 'NetworkPolicy' | 'CiliumRules';

/** Which policy object a rule or entry came from. `namespace` is '' for cluster-wide kinds. */
export interface RuleRef {
  readonly kind: PolicyKind | 'Builtin';
  readonly namespace: string;
  readonly name: string;
}

/** Formats a reference as `Kind namespace/name` (or `Kind name` without namespace). */
export function formatRuleRef(ref: RuleRef): string {
  return ref.namespace === '' ? `${ref.kind} ${ref.name}` : `${ref.kind} ${ref.namespace}/${ref.name}`;
}

/** IANA protocol numbers used in policy entries; ANY (0) means every protocol. */
export const Protocol = { ANY: 0, ICMP: 1, TCP: 6, UDP: 17, SCTP: 132 } as const;

/** The protocols a port-bearing rule with protocol ANY expands to. */
export const PORT_PROTOCOLS: readonly number[] = [Protocol.TCP, Protocol.UDP, Protocol.SCTP];

/** Name of a protocol number (`TCP`, ...), or the number as text. */
export function protocolName(proto: number): string {
  const hit = Object.entries(Protocol).find(([, n]) => n === proto);
  return hit ? hit[0] : String(proto);
}

/**
 * One port condition. `protocol` is TCP, UDP, SCTP or ANY (= each of those three, never ICMP).
 * `port` is a number (0 = every port), or a named port resolved per endpoint at resolve time.
 * `endPort` (inclusive) makes a range; only with a non-zero numeric port.
 */
export interface PortSpec {
  readonly protocol: number;
  readonly port: number | string;
  readonly endPort?: number;
}

/**
 * One allow or deny statement: traffic to/from any identity selected by one of `peers`, on any
 * of `ports`. `ports` empty means every protocol and port (an L3-only statement, which alone
 * also matches ICMP). `peers` empty selects nothing. `origin` is the field path of the statement
 * in its source object, for tracing (e.g. `spec.ingress[0]` or `spec.ingress[1].from[0]`).
 */
export interface Clause {
  readonly origin: string;
  readonly peers: readonly EndpointSelector[];
  readonly ports: readonly PortSpec[];
  /** Canonical CIDR prefixes this clause needs CIDR identities for (cidrs and their excepts). */
  readonly prefixes: readonly string[];
}

/** Traffic direction, from the point of view of the endpoint the policy selects. */
export type Direction = 'ingress' | 'egress';

/**
 * One rule. It applies to endpoints whose labels `subject` matches.
 * `enforces[d]`: the rule puts selected endpoints into policy enforcement for direction d
 * (Cilium: the rule has an ingress/ingressDeny section; Kubernetes: policyTypes lists it).
 * `defaultDeny[d]`: enforcement by this rule means default-deny (Cilium's enableDefaultDeny,
 * default true); when every enforcing rule says false, unmatched traffic stays allowed.
 */
export interface Rule {
  readonly ref: RuleRef;
  /** Path of the rule inside its object: `spec`, `specs[1]`, `[0]`... */
  readonly origin: string;
  readonly labels: LabelSet;
  readonly subject: EndpointSelector;
  readonly description?: string;
  readonly ingress: readonly Clause[];
  readonly ingressDeny: readonly Clause[];
  readonly egress: readonly Clause[];
  readonly egressDeny: readonly Clause[];
  readonly enforces: { readonly ingress: boolean; readonly egress: boolean };
  readonly defaultDeny: { readonly ingress: boolean; readonly egress: boolean };
}

/** The allow and deny clauses of a rule for one direction. */
export function clausesOf(rule: Rule, direction: Direction): { allow: readonly Clause[]; deny: readonly Clause[] } {
  return direction === 'ingress' ? { allow: rule.ingress, deny: rule.ingressDeny } : { allow: rule.egress, deny: rule.egressDeny };
}

/** A policy object as stored in the repository: identified by (kind, namespace, name). */
export interface PolicyObject {
  readonly kind: PolicyKind;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  readonly rules: readonly Rule[];
}

/** The identity of a policy object in the repository. */
export type PolicyKey = Pick<PolicyObject, 'kind' | 'namespace' | 'name'>;
