// Owns policy tracing: explaining, rule by rule, whether traffic between two label sets on a
// port is allowed (like `cilium policy trace`).
import { LabelSet, LabelSource } from '../../labels/index.js';
import type { Repository } from '../repository/index.js';
import type { EnforcementMode, NamedPort } from '../resolve/types.js';
import {
  type Clause, type Direction, type PortSpec, type Rule, type RuleRef, PORT_PROTOCOLS, Protocol, clausesOf, formatRuleRef, protocolName,
} from '../rules/model.js';

/**
 * What to trace: a new connection from `src` to `dst`. Each side is the label set of an identity
 * or a list of them: an address checked under two identities (its own and the CIDR identity of
 * its longest referenced prefix) is traced with both, own labels first. Rules select an
 * endpoint by its first label set; a peer matches a rule if any of its label sets does.
 */
export interface TraceQuery {
  /** Labels of the source (an endpoint identity, a reserved identity, CIDR labels...). */
  readonly src: LabelSet | readonly LabelSet[];
  /** Labels of the destination. */
  readonly dst: LabelSet | readonly LabelSet[];
  /** Destination port (ICMP type for ICMP). */
  readonly dport: number;
  /** IP protocol: a number or TCP, UDP, SCTP, ICMP. */
  readonly protocol: number | 'TCP' | 'UDP' | 'SCTP' | 'ICMP';
  /** Named ports the destination declares (for rules that name ports, both directions). */
  readonly dstNamedPorts?: readonly NamedPort[];
}

/** Options of trace(). */
export interface TraceOptions {
  /** Default `default`. */
  readonly enforcementMode?: EnforcementMode;
}

/** A clause that matched the traffic. */
export interface ClauseMatch {
  readonly ref: RuleRef;
  /** Field path of the clause in its policy object. */
  readonly origin: string;
  readonly deny: boolean;
}

/** Why a direction reached its verdict. */
export type TraceReason =
  | 'policy-disabled' // enforcement mode `never`
  | 'not-enforced' // no rule enforces this direction for the endpoint
  | 'denied-by-rule' // a deny clause matched (deny wins)
  | 'allowed-by-rule' // an allow clause matched
  | 'allow-localhost' // ingress from the local host, always allowed
  | 'no-default-deny' // enforced, but every enforcing rule disabled default-deny
  | 'default-deny'; // enforced and nothing allowed it

/** The verdict of one direction. */
export interface DirectionTrace {
  readonly direction: Direction;
  /** The endpoint whose policy decides this direction: the source for egress, the destination for ingress. */
  readonly endpoint: LabelSet;
  readonly enforced: boolean;
  /** Rules whose subject selects the endpoint. */
  readonly selectingRules: readonly RuleRef[];
  /** Those that enforce this direction. */
  readonly enforcingRules: readonly RuleRef[];
  readonly allowedBy: readonly ClauseMatch[];
  readonly deniedBy: readonly ClauseMatch[];
  readonly verdict: 'allowed' | 'denied';
  readonly reason: TraceReason;
}

/** The result of trace(): both directions, the final verdict, and a text for humans. */
export interface TraceResult {
  readonly egress: DirectionTrace;
  readonly ingress: DirectionTrace;
  /** Allowed only if both directions allow. */
  readonly verdict: 'allowed' | 'denied';
  readonly text: string;
}

const uniqueRefs = (rules: readonly Rule[]): RuleRef[] => [...new Map(rules.map((r) => [formatRuleRef(r.ref), r.ref])).values()];

function portMatches(spec: PortSpec, proto: number, dport: number, namedPorts: readonly NamedPort[]): boolean {
  const protoFits = (p: number): boolean => (spec.protocol === Protocol.ANY ? PORT_PROTOCOLS.includes(p) : spec.protocol === p);
  if (typeof spec.port === 'string') {
    return namedPorts.some((np) => np.name === spec.port && np.protocol === proto && np.port === dport && protoFits(np.protocol));
  }
  if (!protoFits(proto)) return false;
  return spec.port === 0 || (dport >= spec.port && dport <= (spec.endPort ?? spec.port));
}

function clauseMatches(c: Clause, peer: readonly LabelSet[], proto: number, dport: number, namedPorts: readonly NamedPort[]): boolean {
  if (!c.peers.some((s) => peer.some((l) => s.matches(l)))) return false;
  // A clause without ports matches every protocol (ICMP included) and port.
  return c.ports.length === 0 || c.ports.some((p) => portMatches(p, proto, dport, namedPorts));
}

function traceDirection(direction: Direction, q: TraceQuery, proto: number, rules: readonly Rule[], mode: EnforcementMode): DirectionTrace {
  const sets = (x: LabelSet | readonly LabelSet[]): readonly LabelSet[] => (x instanceof LabelSet ? [x] : x);
  const endpoint = sets(direction === 'egress' ? q.src : q.dst)[0] ?? LabelSet.empty;
  const peer = sets(direction === 'egress' ? q.dst : q.src);
  const selecting = rules.filter((r) => r.subject.matches(endpoint));
  const enforcing = selecting.filter((r) => r.enforces[direction]);
  const base = { direction, endpoint, selectingRules: uniqueRefs(selecting), enforcingRules: uniqueRefs(enforcing) };
  if (mode === 'never') return { ...base, enforced: false, allowedBy: [], deniedBy: [], verdict: 'allowed', reason: 'policy-disabled' };
  const enforced = mode === 'always' || enforcing.length > 0;
  if (!enforced) return { ...base, enforced, allowedBy: [], deniedBy: [], verdict: 'allowed', reason: 'not-enforced' };
  const allowedBy: ClauseMatch[] = [];
  const deniedBy: ClauseMatch[] = [];
  for (const rule of selecting) {
    const { allow, deny } = clausesOf(rule, direction);
    for (const c of allow) if (clauseMatches(c, peer, proto, q.dport, q.dstNamedPorts ?? [])) allowedBy.push({ ref: rule.ref, origin: c.origin, deny: false });
    for (const c of deny) if (clauseMatches(c, peer, proto, q.dport, q.dstNamedPorts ?? [])) deniedBy.push({ ref: rule.ref, origin: c.origin, deny: true });
  }
  const result = (verdict: 'allowed' | 'denied', reason: TraceReason): DirectionTrace => ({ ...base, enforced, allowedBy, deniedBy, verdict, reason });
  if (deniedBy.length > 0) return result('denied', 'denied-by-rule');
  if (allowedBy.length > 0) return result('allowed', 'allowed-by-rule');
  if (direction === 'ingress' && peer.some((l) => l.has(LabelSource.Reserved, 'host'))) return result('allowed', 'allow-localhost');
  if (mode !== 'always' && enforcing.every((r) => !r.defaultDeny[direction])) return result('allowed', 'no-default-deny');
  return result('denied', 'default-deny');
}

const REASON_TEXT: Record<TraceReason, string> = {
  'policy-disabled': 'policy enforcement is disabled (mode never)',
  'not-enforced': 'no rule enforces this direction',
  'denied-by-rule': 'denied by a deny rule (deny wins over allow)',
  'allowed-by-rule': 'allowed by a rule',
  'allow-localhost': 'traffic from the local host is always allowed',
  'no-default-deny': 'no rule matched, but the enforcing rules disable default-deny',
  'default-deny': 'no rule allows it (default deny)',
};

function describeDirection(t: DirectionTrace): string[] {
  const who = t.direction === 'egress' ? 'source' : 'destination';
  const lines = [`${t.direction === 'egress' ? 'Egress from the source' : 'Ingress to the destination'} [${t.endpoint.toString()}]:`];
  if (t.selectingRules.length === 0) lines.push(`  no rule selects the ${who}`);
  else lines.push(`  selected by: ${t.selectingRules.map(formatRuleRef).join('; ')}`);
  if (t.enforced) lines.push(`  ${t.direction} enforced${t.enforcingRules.length > 0 ? ` by: ${t.enforcingRules.map(formatRuleRef).join('; ')}` : ' (mode always)'}`);
  for (const m of t.deniedBy) lines.push(`  denied by ${formatRuleRef(m.ref)} ${m.origin}`);
  for (const m of t.allowedBy) lines.push(`  ${t.deniedBy.length > 0 ? 'would be allowed' : 'allowed'} by ${formatRuleRef(m.ref)} ${m.origin}`);
  lines.push(`  => ${t.verdict.toUpperCase()}: ${REASON_TEXT[t.reason]}`);
  return lines;
}

/**
 * Explains the verdict for a new connection from `src` to `dst` on (protocol, dport): egress is
 * decided by the rules selecting the source, ingress by the rules selecting the destination,
 * and traffic passes only if both allow. Evaluates rules on labels directly (no identities
 * needed), with the same semantics as resolve(). Throws RangeError on an unknown protocol name.
 */
export function trace(q: TraceQuery, repo: Repository, opts: TraceOptions = {}): TraceResult {
  const proto = typeof q.protocol === 'number' ? q.protocol : Protocol[q.protocol];
  if (proto === undefined) throw new RangeError(`unknown protocol ${String(q.protocol)}`);
  const mode = opts.enforcementMode ?? 'default';
  const rules = repo.rules();
  const egress = traceDirection('egress', q, proto, rules, mode);
  const ingress = traceDirection('ingress', q, proto, rules, mode);
  const verdict = egress.verdict === 'allowed' && ingress.verdict === 'allowed' ? 'allowed' : 'denied';
  const show = (x: LabelSet | readonly LabelSet[]): string => (x instanceof LabelSet ? [x] : x).map((l) => `[${l.toString()}]`).join(' + ');
  const text = [
    `Tracing from ${show(q.src)} to ${show(q.dst)} port ${q.dport}/${protocolName(proto)}`,
    '',
    ...describeDirection(egress),
    '',
    ...describeDirection(ingress),
    '',
    `Final verdict: ${verdict.toUpperCase()}`,
  ].join('\n');
  return { egress, ingress, verdict, text };
}
