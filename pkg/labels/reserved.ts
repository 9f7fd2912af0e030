// Owns the reserved identities (Cilium's numbers and labels) and the policy entities that
// select them.
import { type Label, LabelSource, label } from './label.js';
import { LabelSet } from './label-set.js';
import { EndpointSelector } from './selector.js';

/** Reserved numeric identities, with Cilium's numbers (pkg/identity/numericidentity.go). */
export const ReservedIdentity = {
  /** Not determined; also the "any identity" wildcard in policy map keys. */
  Unknown: 0,
  /** The local node, and host-network processes. */
  Host: 1,
  /** Anything outside the cluster: the identity of an address no endpoint or node owns. */
  World: 2,
  /** Endpoints not managed by Cilia. */
  Unmanaged: 3,
  /** The local health endpoint. */
  Health: 4,
  /** An endpoint whose labels are not known yet. */
  Init: 5,
  /** Every other node. */
  RemoteNode: 6,
  /** Nodes or backends running the kube-apiserver (labels: kube-apiserver + remote-node). */
  KubeAPIServer: 7,
} as const;

/** A reserved identity's number. */
export type ReservedIdentityId = (typeof ReservedIdentity)[keyof typeof ReservedIdentity];

/** First identity number allocated for endpoints (Cilium's MinimalNumericIdentity). */
export const MIN_ENDPOINT_IDENTITY = 256;

/** Bit marking node-local identities (CIDR identities are `LOCAL_IDENTITY_SCOPE | n`, n ≥ 1). */
export const LOCAL_IDENTITY_SCOPE = 1 << 24;

/** Identity number of the n-th local (CIDR) identity, n in 1..0xFFFFFF. Throws RangeError outside. */
export function localIdentity(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 0xffffff) throw new RangeError(`local identity index ${n} is outside 1..16777215`);
  return (LOCAL_IDENTITY_SCOPE | n) >>> 0;
}

/** Whether an identity number is in the local (CIDR) scope. */
export function isLocalIdentity(id: number): boolean {
  return (id >>> 24) === 1;
}

/** The label `reserved:<name>`. */
export function reservedLabel(name: string): Label {
  return label(LabelSource.Reserved, name);
}

const RESERVED_NAMES: Readonly<Record<number, string>> = {
  [ReservedIdentity.Host]: 'host',
  [ReservedIdentity.World]: 'world',
  [ReservedIdentity.Unmanaged]: 'unmanaged',
  [ReservedIdentity.Health]: 'health',
  [ReservedIdentity.Init]: 'init',
  [ReservedIdentity.RemoteNode]: 'remote-node',
  [ReservedIdentity.KubeAPIServer]: 'kube-apiserver',
};

/** A reserved identity with its labels. */
export interface ReservedIdentityInfo {
  readonly id: ReservedIdentityId;
  readonly name: string;
  readonly labels: LabelSet;
}

/** Every reserved identity (1..7) with its labels, for seeding identity tables and selector caches. */
export function reservedIdentities(): ReservedIdentityInfo[] {
  return Object.entries(RESERVED_NAMES).map(([id, name]) => {
    const labels = [reservedLabel(name)];
    // As in Cilium, the kube-apiserver identity is also a remote node.
    if (Number(id) === ReservedIdentity.KubeAPIServer) labels.push(reservedLabel('remote-node'));
    return { id: Number(id) as ReservedIdentityId, name, labels: LabelSet.of(labels) };
  });
}

/** The reserved name of an identity number (`host`, `world`, ...), or undefined. */
export function reservedIdentityName(id: number): string | undefined {
  return id === 0 ? 'unknown' : RESERVED_NAMES[id];
}

/** Policy entities Cilia supports (fromEntities / toEntities). */
export const ENTITIES = ['all', 'world', 'cluster', 'host', 'remote-node', 'health', 'init', 'unmanaged', 'kube-apiserver', 'none'] as const;

/** A supported entity name. */
export type Entity = (typeof ENTITIES)[number];

/** Entities valid in Cilium that Cilia refuses (no ingress proxy, no dual-stack world split). */
export const UNSUPPORTED_ENTITIES: readonly string[] = ['ingress', 'world-ipv4', 'world-ipv6'];

/** The label that places a pod in a cluster; the `cluster` entity selects it. */
export const POLICY_CLUSTER_LABEL = 'io.cilium.k8s.policy.cluster';

/** Label keys of the CIDR identities' `/0` labels (see cidrLabelKey; kept literal to avoid an import cycle). */
const ALL_CIDR_KEYS = ['0.0.0.0/0', '0--0/0'];

const reservedSelector = (name: string): EndpointSelector => EndpointSelector.fromLabels(reservedLabel(name));

/**
 * The selectors an entity stands for (OR). Differences from Cilium, both deliberate:
 * - `world` selects the world identity (2) but not CIDR identities. In Cilia a peer address is
 *   checked under its own identity AND under the CIDR identity of the longest referenced prefix
 *   containing it, and pod addresses get CIDR identities too; if `world` selected CIDR identities,
 *   pods inside a referenced prefix would count as world. An outside address always carries
 *   identity 2, so `world` still matches it.
 * - `cluster` has no `ingress` member (Cilia has no ingress proxy).
 * `cluster` also selects every pod labelled `k8s:io.cilium.k8s.policy.cluster=<clusterName>`.
 */
export function entitySelectors(entity: Entity, opts: { clusterName?: string } = {}): EndpointSelector[] {
  switch (entity) {
    case 'all':
      return [EndpointSelector.wildcard];
    case 'world':
      return [reservedSelector('world').and(...ALL_CIDR_KEYS.map((key) => ({ source: LabelSource.Cidr, key, operator: 'DoesNotExist' as const, values: [] })))];
    case 'cluster':
      return [
        ...['host', 'remote-node', 'init', 'health', 'unmanaged', 'kube-apiserver'].map(reservedSelector),
        EndpointSelector.fromLabels(label(LabelSource.K8s, POLICY_CLUSTER_LABEL, opts.clusterName ?? 'default')),
      ];
    case 'host':
    case 'remote-node':
    case 'health':
    case 'init':
    case 'unmanaged':
    case 'kube-apiserver':
    case 'none':
      // `none` selects reserved:none, which no identity ever carries.
      return [reservedSelector(entity)];
  }
}
