// Owns the Kubernetes-derived labels of pod identities and namespaces (Cilium's conventions).
import { LabelSource, label, type Label } from './label.js';
import { LabelSet } from './label-set.js';
import { POLICY_CLUSTER_LABEL } from './reserved.js';

/** Label keys Cilium derives from Kubernetes objects (all with the `k8s` source). */
export const K8sLabelKey = {
  /** `k8s:io.kubernetes.pod.namespace=<ns>` on every pod identity. */
  PodNamespace: 'io.kubernetes.pod.namespace',
  /** Prefix under which a pod identity carries its namespace's labels. */
  NamespaceLabelsPrefix: 'io.cilium.k8s.namespace.labels.',
  /** `k8s:io.cilium.k8s.policy.serviceaccount=<sa>`. */
  ServiceAccount: 'io.cilium.k8s.policy.serviceaccount',
  /** `k8s:io.cilium.k8s.policy.cluster=<cluster>`; the `cluster` entity selects it. */
  Cluster: POLICY_CLUSTER_LABEL,
  /** The label Kubernetes puts on every namespace: `kubernetes.io/metadata.name=<ns>`. */
  NamespaceName: 'kubernetes.io/metadata.name',
  /** Rule labels naming the policy a rule came from. */
  PolicyDerivedFrom: 'io.cilium.k8s.policy.derived-from',
  PolicyName: 'io.cilium.k8s.policy.name',
  PolicyNamespace: 'io.cilium.k8s.policy.namespace',
  PolicyUid: 'io.cilium.k8s.policy.uid',
} as const;

/** The cluster name used when none is configured (Cilium's default). */
export const DEFAULT_CLUSTER_NAME = 'default';

/**
 * A namespace's labels as Kubernetes stores them: the user's labels plus
 * `kubernetes.io/metadata.name=<name>` (which the API server sets and users cannot override).
 */
export function namespaceObjectLabels(name: string, labels: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { ...labels, [K8sLabelKey.NamespaceName]: name };
}

/** What a pod identity is made of. */
export interface PodIdentitySource {
  /** The pod's namespace. */
  namespace: string;
  /** The pod's own labels (become `k8s:<key>=<value>`). */
  labels?: Readonly<Record<string, string>>;
  /** The namespace's labels, without `kubernetes.io/metadata.name` (added here). */
  namespaceLabels?: Readonly<Record<string, string>>;
  /** The pod's service account, if any. */
  serviceAccount?: string;
  /** The cluster name; default `default`. */
  clusterName?: string;
}

/**
 * The security-relevant labels of a pod, as Cilium builds them: every pod label with the `k8s`
 * source, `k8s:io.kubernetes.pod.namespace=<ns>`, each namespace label as
 * `k8s:io.cilium.k8s.namespace.labels.<key>=<value>` (kubernetes.io/metadata.name included),
 * the service account and the cluster name. Endpoints created without Kubernetes should use this
 * too: Kubernetes NetworkPolicy selectors only match `k8s:` labels.
 * (Cilium's identity-relevant label filter, which drops e.g. pod-template-hash, is not applied.)
 */
export function podIdentityLabels(src: PodIdentitySource): LabelSet {
  const out: Label[] = [];
  for (const [k, v] of Object.entries(src.labels ?? {})) out.push(label(LabelSource.K8s, k, v));
  for (const [k, v] of Object.entries(namespaceObjectLabels(src.namespace, src.namespaceLabels))) {
    out.push(label(LabelSource.K8s, K8sLabelKey.NamespaceLabelsPrefix + k, v));
  }
  out.push(label(LabelSource.K8s, K8sLabelKey.PodNamespace, src.namespace));
  if (src.serviceAccount !== undefined) out.push(label(LabelSource.K8s, K8sLabelKey.ServiceAccount, src.serviceAccount));
  out.push(label(LabelSource.K8s, K8sLabelKey.Cluster, src.clusterName ?? DEFAULT_CLUSTER_NAME));
  return LabelSet.of(out);
}
