// Owns the translation of validated Cilium rules (CNP, CCNP, bare rules) into the rule model,
// including Cilium's namespace scoping of selectors.
import {
  DEFAULT_CLUSTER_NAME, EndpointSelector, K8sLabelKey, LabelSet, LabelSource, cidrSelector, entitySelectors, label,
  type Label, type Requirement,
} from '../../labels/index.js';
import type { CiliumRuleSpec, CiliumSection } from './api.js';
import { type Clause, type PolicyKind, type PortSpec, type Rule, Protocol } from './model.js';

/** Where a Cilium rule lives, which decides its scoping. */
export interface CiliumRuleContext {
  /** CiliumNetworkPolicy (namespaced), CiliumClusterwideNetworkPolicy, or CiliumRules (bare). */
  readonly kind: Extract<PolicyKind, 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy' | 'CiliumRules'>;
  /** The policy's namespace; '' unless kind is CiliumNetworkPolicy. */
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  /** Cluster name for the `cluster` entity; default `default`. */
  readonly clusterName?: string;
}

const NS_SOURCES = [LabelSource.K8s, LabelSource.Any];
const namespaceIs = (ns: string): Requirement => ({ source: LabelSource.K8s, key: K8sLabelKey.PodNamespace, operator: 'In', values: [ns] });
const namespaceExists: Requirement = { source: LabelSource.K8s, key: K8sLabelKey.PodNamespace, operator: 'Exists', values: [] };

/**
 * Scopes a peer endpoint selector the way Cilium's ParseToCiliumRule does:
 * - selectors on reserved labels, or naming `io.kubernetes.pod.namespace` themselves, are kept;
 * - CNP: otherwise restricted to the policy's namespace, unless they select on namespace labels
 *   (`io.cilium.k8s.namespace.labels.*`), which is how a CNP reaches other namespaces;
 * - CCNP: otherwise restricted to pods (`io.kubernetes.pod.namespace` Exists), so `{}` means
 *   "every pod" and not host or world — unless the rule's subject selects `reserved:init`;
 * - bare rules: never scoped.
 */
function scopePeer(sel: EndpointSelector, ctx: CiliumRuleContext, subjectMatchesInit: boolean): EndpointSelector {
  if (ctx.kind === 'CiliumRules') return sel;
  if (sel.hasSource(LabelSource.Reserved)) return sel;
  if (sel.hasKey(K8sLabelKey.PodNamespace, NS_SOURCES)) return sel;
  if (ctx.kind === 'CiliumNetworkPolicy') {
    if (sel.hasKeyPrefix(K8sLabelKey.NamespaceLabelsPrefix, NS_SOURCES)) return sel;
    return sel.and(namespaceIs(ctx.namespace));
  }
  return subjectMatchesInit ? sel : sel.and(namespaceExists);
}

function portSpecs(section: CiliumSection): PortSpec[] {
  return section.ports.map((p) => ({
    protocol: Protocol[p.protocol],
    port: p.port,
    ...(p.endPort !== undefined ? { endPort: p.endPort } : {}),
  }));
}

function translateSection(section: CiliumSection, ctx: CiliumRuleContext, subjectMatchesInit: boolean): Clause {
  const { endpoints, cidr, cidrSet, entities } = section.peers;
  const ports = portSpecs(section);
  const prefixes = [...(cidr ?? []), ...(cidrSet ?? []).flatMap((c) => [c.cidr, ...c.except])];
  const anyPeerField = [endpoints, cidr, cidrSet, entities].some((f) => f !== undefined);
  const emptyPeerField = [endpoints, cidr, cidrSet, entities].some((f) => f !== undefined && f.length === 0);
  let peers: EndpointSelector[];
  if (emptyPeerField) {
    // Cilium: a peer field written as an empty list selects nothing (not everything).
    peers = [];
  } else if (!anyPeerField) {
    // No L3 part: an L4-only section applies to every peer; `{}` alone allows nothing.
    peers = ports.length > 0 ? [EndpointSelector.wildcard] : [];
  } else {
    peers = [
      ...(endpoints ?? []).map((s) => scopePeer(EndpointSelector.fromLabelSelector(s), ctx, subjectMatchesInit)),
      ...(cidr ?? []).map((c) => cidrSelector(c)),
      ...(cidrSet ?? []).map((c) => cidrSelector(c.cidr, c.except)),
      ...(entities ?? []).flatMap((e) => entitySelectors(e, { clusterName: ctx.clusterName ?? DEFAULT_CLUSTER_NAME })),
    ];
  }
  return { origin: section.origin, peers, ports, prefixes: [...new Set(prefixes)] };
}

/** The rule labels Cilium derives for a policy object (derived-from, name, namespace, uid). */
export function policyRuleLabels(kind: string, namespace: string, name: string, uid?: string): Label[] {
  const out = [label(LabelSource.K8s, K8sLabelKey.PolicyDerivedFrom, kind), label(LabelSource.K8s, K8sLabelKey.PolicyName, name)];
  if (namespace !== '') out.push(label(LabelSource.K8s, K8sLabelKey.PolicyNamespace, namespace));
  if (uid !== undefined) out.push(label(LabelSource.K8s, K8sLabelKey.PolicyUid, uid));
  return out;
}

/**
 * Translates one validated Cilium rule. For a CiliumNetworkPolicy the subject gets
 * `k8s:io.kubernetes.pod.namespace=<namespace>` (replacing any single-valued namespace match the
 * user wrote, as Cilium does); peers are scoped by scopePeer. Rule labels are the derived policy
 * labels (not for bare rules) plus the rule's own `labels`.
 */
export function translateCiliumRule(spec: CiliumRuleSpec, ctx: CiliumRuleContext): Rule {
  let subject = EndpointSelector.fromLabelSelector(spec.endpointSelector);
  if (ctx.kind === 'CiliumNetworkPolicy') {
    subject = subject
      .without((r) => r.source === LabelSource.K8s && r.key === K8sLabelKey.PodNamespace && r.operator === 'In' && r.values.length === 1)
      .and(namespaceIs(ctx.namespace));
  }
  const subjectMatchesInit = subject.hasKey('init', [LabelSource.Reserved]);
  const tr = (sections: readonly CiliumSection[]): Clause[] => sections.map((s) => translateSection(s, ctx, subjectMatchesInit));
  const derived = ctx.kind === 'CiliumRules' ? [] : policyRuleLabels(ctx.kind, ctx.namespace, ctx.name, ctx.uid);
  return {
    ref: { kind: ctx.kind, namespace: ctx.namespace, name: ctx.name },
    origin: spec.origin,
    labels: LabelSet.of([...derived, ...spec.labels]),
    subject,
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    ingress: tr(spec.ingress),
    ingressDeny: tr(spec.ingressDeny),
    egress: tr(spec.egress),
    egressDeny: tr(spec.egressDeny),
    // Cilium: a rule enforces a direction when it has at least one (deny) section for it;
    // `ingress: []` does not, `ingress: [{}]` does.
    enforces: {
      ingress: spec.ingress.length + spec.ingressDeny.length > 0,
      egress: spec.egress.length + spec.egressDeny.length > 0,
    },
    defaultDeny: { ingress: spec.enableDefaultDeny.ingress ?? true, egress: spec.enableDefaultDeny.egress ?? true },
  };
}
