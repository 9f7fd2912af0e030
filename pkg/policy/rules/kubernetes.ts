// Owns the translation of Kubernetes NetworkPolicy (networking.k8s.io/v1) into the rule model,
// with Kubernetes semantics.
import {
  EndpointSelector, K8sLabelKey, LabelSet, LabelSource, cidrSelector, type LabelSelectorSpec, type Requirement,
} from '../../labels/index.js';
import type { NetworkPolicyPeer, NetworkPolicyRule, NetworkPolicySpec } from './api.js';
import { policyRuleLabels } from './cilium.js';
import { type Clause, type PortSpec, type Rule, Protocol } from './model.js';

/** Where a NetworkPolicy lives. */
export interface NetworkPolicyContext {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

// Kubernetes selectors only ever match labels that came from Kubernetes: the `k8s` source.
const podKey = (k: string): { source: string; key: string } => ({ source: LabelSource.K8s, key: k });
const namespaceKey = (k: string): { source: string; key: string } => ({ source: LabelSource.K8s, key: K8sLabelKey.NamespaceLabelsPrefix + k });
const namespaceIs = (ns: string): Requirement => ({ source: LabelSource.K8s, key: K8sLabelKey.PodNamespace, operator: 'In', values: [ns] });
const anyNamespace: Requirement = { source: LabelSource.K8s, key: K8sLabelKey.PodNamespace, operator: 'Exists', values: [] };

const isEmptySelector = (s: LabelSelectorSpec): boolean =>
  Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0;

/**
 * The selector of one peer:
 * - podSelector alone: those pods in the policy's namespace;
 * - namespaceSelector (with or without podSelector, AND): pods in namespaces whose labels match;
 *   an empty namespaceSelector means every namespace (every pod);
 * - ipBlock: the CIDR identities inside cidr but outside every except — never namespace-scoped.
 */
function peerSelector(peer: NetworkPolicyPeer, namespace: string): EndpointSelector {
  if (peer.ipBlock) return cidrSelector(peer.ipBlock.cidr, peer.ipBlock.except);
  const pods = peer.podSelector ? EndpointSelector.fromLabelSelector(peer.podSelector, podKey) : EndpointSelector.wildcard;
  if (!peer.namespaceSelector) return pods.and(namespaceIs(namespace));
  const namespaces = isEmptySelector(peer.namespaceSelector)
    ? EndpointSelector.of([anyNamespace])
    : EndpointSelector.fromLabelSelector(peer.namespaceSelector, namespaceKey);
  return pods.and(...namespaces.requirements);
}

function portSpecs(rule: NetworkPolicyRule): PortSpec[] {
  return (rule.ports ?? []).map((p) => ({
    protocol: Protocol[p.protocol],
    port: p.port ?? 0,
    ...(p.endPort !== undefined ? { endPort: p.endPort } : {}),
  }));
}

function translateRules(rules: readonly NetworkPolicyRule[], field: 'ingress' | 'egress', namespace: string): Clause[] {
  const peerField = field === 'ingress' ? 'from' : 'to';
  return rules.flatMap((rule, i): Clause[] => {
    const origin = `spec.${field}[${i}]`;
    const ports = portSpecs(rule);
    // Kubernetes: `from`/`to` empty or missing = every source/destination, in or out of the cluster.
    if (rule.peers === undefined || rule.peers.length === 0) return [{ origin, peers: [EndpointSelector.wildcard], ports, prefixes: [] }];
    // Peers are ORed; each becomes its own clause so that a trace can name the peer that matched.
    return rule.peers.map((peer, j) => ({
      origin: `${origin}.${peerField}[${j}]`,
      peers: [peerSelector(peer, namespace)],
      ports,
      prefixes: peer.ipBlock ? [peer.ipBlock.cidr, ...peer.ipBlock.except] : [],
    }));
  });
}

/**
 * The policy types a NetworkPolicy affects. Kubernetes defaulting when absent: always Ingress,
 * plus Egress when the spec has at least one egress rule (`egress: []` does not count).
 */
export function effectivePolicyTypes(spec: NetworkPolicySpec): ('Ingress' | 'Egress')[] {
  if (spec.policyTypes !== undefined && spec.policyTypes.length > 0) return [...spec.policyTypes];
  return (spec.egress?.length ?? 0) > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}

/**
 * Translates a NetworkPolicy. The subject is podSelector (k8s labels) in the policy's namespace.
 * A direction listed in the effective policyTypes is enforced (default-deny) and allows exactly
 * what its rules allow (none = nothing); a direction not listed is left alone, even if the spec
 * has rules for it (Kubernetes ignores them). Each peer of a rule becomes one clause with the
 * rule's ports; ports default to protocol TCP, and a port without number means every port.
 */
export function translateNetworkPolicy(spec: NetworkPolicySpec, ctx: NetworkPolicyContext): Rule {
  const types = effectivePolicyTypes(spec);
  const ingress = types.includes('Ingress') ? translateRules(spec.ingress ?? [], 'ingress', ctx.namespace) : [];
  const egress = types.includes('Egress') ? translateRules(spec.egress ?? [], 'egress', ctx.namespace) : [];
  return {
    ref: { kind: 'NetworkPolicy', namespace: ctx.namespace, name: ctx.name },
    origin: 'spec',
    labels: LabelSet.of(policyRuleLabels('NetworkPolicy', ctx.namespace, ctx.name, ctx.uid)),
    subject: EndpointSelector.fromLabelSelector(spec.podSelector, podKey).and(namespaceIs(ctx.namespace)),
    ingress,
    ingressDeny: [],
    egress,
    egressDeny: [],
    enforces: { ingress: types.includes('Ingress'), egress: types.includes('Egress') },
    defaultDeny: { ingress: true, egress: true },
  };
}
