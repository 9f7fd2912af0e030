// Owns the validated wire forms of Cilium rules and Kubernetes NetworkPolicies: what the parser
// produces after checking the input and what the translators consume.
import type { Entity, Label, LabelSelectorSpec } from '../../labels/index.js';

/** Protocol names of a Cilium PortProtocol, upper-cased. */
export type CiliumProtocol = 'TCP' | 'UDP' | 'SCTP' | 'ANY';

/** A Cilium PortProtocol: `port` 0 = every port; a string is a named port. */
export interface CiliumPortProtocol {
  readonly port: number | string;
  readonly endPort?: number;
  readonly protocol: CiliumProtocol;
}

/** A Cilium CIDRRule with canonical prefixes. */
export interface CiliumCidrRule {
  readonly cidr: string;
  readonly except: readonly string[];
}

/**
 * The peer fields of one ingress/egress (deny) section. A field is undefined when absent and
 * an empty array when written as `[]` — Cilium treats the two differently (`[]` selects nothing).
 */
export interface CiliumPeers {
  readonly endpoints?: readonly LabelSelectorSpec[];
  readonly cidr?: readonly string[];
  readonly cidrSet?: readonly CiliumCidrRule[];
  readonly entities?: readonly Entity[];
}

/** One ingress, ingressDeny, egress or egressDeny section. `origin` is its field path. */
export interface CiliumSection {
  readonly origin: string;
  readonly peers: CiliumPeers;
  /** The flattened `toPorts[].ports[]`; empty when `toPorts` is absent or empty. */
  readonly ports: readonly CiliumPortProtocol[];
}

/** A validated Cilium rule (pkg/policy/api Rule, the supported subset). */
export interface CiliumRuleSpec {
  readonly origin: string;
  readonly endpointSelector: LabelSelectorSpec;
  readonly ingress: readonly CiliumSection[];
  readonly ingressDeny: readonly CiliumSection[];
  readonly egress: readonly CiliumSection[];
  readonly egressDeny: readonly CiliumSection[];
  readonly labels: readonly Label[];
  readonly description?: string;
  readonly enableDefaultDeny: { readonly ingress?: boolean; readonly egress?: boolean };
}

/** A Kubernetes NetworkPolicyPeer (exactly one form is set, or pod+namespace together). */
export interface NetworkPolicyPeer {
  readonly podSelector?: LabelSelectorSpec;
  readonly namespaceSelector?: LabelSelectorSpec;
  readonly ipBlock?: { readonly cidr: string; readonly except: readonly string[] };
}

/** A Kubernetes NetworkPolicyPort; `port` undefined = every port of the protocol. */
export interface NetworkPolicyPort {
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
  readonly port?: number | string;
  readonly endPort?: number;
}

/** One Kubernetes ingress or egress rule. `peers` undefined = field absent. */
export interface NetworkPolicyRule {
  readonly peers?: readonly NetworkPolicyPeer[];
  readonly ports?: readonly NetworkPolicyPort[];
}

/** A validated Kubernetes NetworkPolicy spec (networking.k8s.io/v1). */
export interface NetworkPolicySpec {
  readonly podSelector: LabelSelectorSpec;
  /** As written; undefined when absent (defaulting happens in the translation). */
  readonly policyTypes?: readonly ('Ingress' | 'Egress')[];
  readonly ingress?: readonly NetworkPolicyRule[];
  readonly egress?: readonly NetworkPolicyRule[];
}
