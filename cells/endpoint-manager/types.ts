// Public types of the endpoint manager: endpoints (pods: a netns with a veth) and the API other cells use.

import { token } from '../../pkg/hive/index.js';
import type { LabelSet } from '../../pkg/labels/index.js';
import type { EndpointCreateRequest, NamedPortJSON } from '../../pkg/api/index.js';
import type { Revision, Table } from '../../pkg/statedb/index.js';
import type { Status } from '../../pkg/statedb/reconciler/index.js';

/** The policy an endpoint enforces, set by the policy cell once its entries are in the BPF map. */
export interface EndpointPolicyState {
  readonly ingressEnforced: boolean;
  readonly egressEnforced: boolean;
  /** The policy repository revision the endpoint enforces (its entries are up to date with it). */
  readonly revision: number;
  /**
   * The lxc map's `policy_rev`: changes whenever the endpoint's entries or enforcement change (for any
   * reason, also a peer's new identity), never otherwise. Conntrack entries validated against another
   * value are checked against the policy again. A change of `revision` alone needs no datapath work.
   * Absent: equal to `revision`.
   */
  readonly datapathRevision?: number;
}

/** Desired state of one endpoint (the `endpoints` table). Immutable: copy to change. */
export interface Endpoint {
  readonly id: number;
  readonly containerId: string;
  readonly ifName: string;
  readonly name: string;
  readonly namespace: string;
  /** The pod's own labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** Identity labels: pod labels as `k8s:`, namespace, namespace labels, cluster. */
  readonly identityLabels: LabelSet;
  readonly identity: number;
  readonly ipv4: string;
  /** MAC of the pod interface and of the host-side veth (chosen by the agent). */
  readonly mac: string;
  readonly hostMac: string;
  readonly hostIfName: string;
  readonly netnsPath: string;
  /** True when the agent created the netns (`cilia endpoint create`) and deletes it with the endpoint. */
  readonly ownsNetns: boolean;
  readonly mtu: number;
  readonly namedPorts: readonly NamedPortJSON[];
  /** Unset until the policy cell resolved the endpoint's policy; traffic is dropped (203) until then. */
  readonly policy?: EndpointPolicyState;
  readonly createdAt: string;
  /** Reconciliation status of the endpoint's datapath (veth, programs, lxc map). */
  readonly status: Status;
}

/** How an endpoint is named in API calls: by id, by (namespace, name), or by (containerId, ifName). */
export type EndpointRef = { readonly id: number } | { readonly namespace: string; readonly name: string } | { readonly containerId: string; readonly ifName: string };

/** The endpoint manager. */
export interface EndpointManager {
  /** Read-only `endpoints` table. */
  readonly table: Table<Endpoint>;
  /**
   * Creates an endpoint (as CNI ADD): validates, allocates id, address and identity, wires the veth,
   * attaches programs and waits until policy is enforced and traffic can flow. Idempotent for the same
   * (containerId, ifName). Throws ApiError (400) naming the field at fault; nothing is left behind on failure.
   */
  create(req: EndpointCreateRequest, signal?: AbortSignal): Promise<Endpoint>;
  /** Deletes an endpoint (as CNI DEL). Idempotent: false when it did not exist. */
  delete(ref: EndpointRef, signal?: AbortSignal): Promise<boolean>;
  /** Adds and removes pod labels (as `cilium endpoint labels`); the identity follows. */
  updateLabels(ref: EndpointRef, add: Readonly<Record<string, string>>, remove: readonly string[], signal?: AbortSignal): Promise<Endpoint>;
  /** The endpoint, if it exists. */
  get(ref: EndpointRef): Endpoint | undefined;
  /** Every endpoint, by id. */
  list(): Endpoint[];
  /**
   * Sets the policy state of several endpoints in one write (policy cell only); unknown ids are skipped.
   * Only a change of enforcement or `datapathRevision` makes an endpoint's datapath pending. Returns the
   * table revision of the write.
   */
  setPolicyStates(states: ReadonlyMap<number, EndpointPolicyState>): Revision;
  /** The host-side veth's ifindex as observed by the datapath reconciler. */
  hostIfindex(id: number): number | undefined;
  /** Resolves once the endpoint's datapath reflects its current desired state (or rejects with its error). */
  waitReady(id: number, signal?: AbortSignal): Promise<Endpoint>;
}
export const IEndpointManager = token<EndpointManager>('EndpointManager');

/** The lxc map `policy_rev` of a policy state. */
export function datapathRevisionOf(p: EndpointPolicyState): number {
  return p.datapathRevision ?? p.revision;
}

/** Configuration of the endpoint manager. */
export interface EndpointManagerConfig {
  /** Prefix of host-side veth names (default `lxc`); the agent prunes only devices with its prefix. */
  readonly endpointIfnamePrefix: string;
  /** Default MTU of pod interfaces. */
  readonly endpointMtu: number;
  /** Cluster name in identity labels. */
  readonly clusterName: string;
}
export const IEndpointManagerConfig = token<Readonly<EndpointManagerConfig>>('EndpointManagerConfig');
