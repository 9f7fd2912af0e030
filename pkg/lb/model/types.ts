// The load-balancer model: services (frontends + backends) as the control plane stores them.
// Pure data, validated by validate.ts; reconcilers turn it into the lb4_* BPF maps.

/** Transport protocols a frontend or backend can use. */
export const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
/** A transport protocol, upper case as in the Kubernetes API. */
export type Protocol = (typeof PROTOCOLS)[number];
/** IANA protocol numbers (the IP header's protocol field; `lb4_key.proto`, `lb4_backend.proto`). */
export const PROTOCOL_NUMBER: Readonly<Record<Protocol, number>> = { TCP: 6, UDP: 17, SCTP: 132 };

/**
 * Lifecycle state of a backend, as in Cilium's `lb4_backend.flags`.
 * - `active`: receives new connections.
 * - `terminating`: the workload is shutting down (Kubernetes: serving + terminating); no new
 *   connections, existing ones keep working until they end.
 * - `quarantined`: failed health checks; no new connections, existing ones keep working.
 * - `maintenance`: drained by an operator; no new connections, existing ones keep working.
 * Only `active` backends with weight > 0 get slots or Maglev entries; all states stay in the
 * backends map so that connection tracking can still translate established flows.
 */
export const BACKEND_STATES = ['active', 'terminating', 'quarantined', 'maintenance'] as const;
/** See BACKEND_STATES. */
export type BackendState = (typeof BACKEND_STATES)[number];
/** Numeric state codes of `lb4_backend.flags` (Cilium: ACTIVE 0, TERMINATING 1, QUARANTINED 2, MAINTENANCE 3). */
export const BACKEND_STATE_CODE: Readonly<Record<BackendState, number>> = {
  active: 0,
  terminating: 1,
  quarantined: 2,
  maintenance: 3,
};

/** How the datapath picks a backend slot for a new connection. */
export type LbAlgorithm = 'random' | 'maglev';
/** Which backends serve traffic to the service's virtual IP: all, or only those on this node. */
export type TrafficPolicy = 'Cluster' | 'Local';

/** Default ClientIP affinity timeout (Kubernetes: 10800 s = 3 h). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;
/** Largest ClientIP affinity timeout Kubernetes accepts (1 day). */
export const MAX_AFFINITY_TIMEOUT_SECONDS = 86400;
/** Largest backend weight (u16, as Cilium's backend weight). */
export const MAX_BACKEND_WEIGHT = 65535;
/** Most backends one service may have: the master entry's slot count is a u16. */
export const MAX_BACKENDS_PER_SERVICE = 65535;

/** Where clients reach a service: a virtual IPv4 address, port and protocol. */
export interface Frontend {
  /** Virtual IPv4 address, dotted quad (Kubernetes: the ClusterIP). */
  readonly address: string;
  /** Port 1..65535. */
  readonly port: number;
  readonly protocol: Protocol;
  /**
   * Name of the service port ('' = unnamed). Backends serve the frontends with the same
   * `portName` and `protocol`; this is how a multi-port Kubernetes service maps each port to its
   * own target port.
   */
  readonly portName: string;
}

/** One destination a service forwards to. */
export interface Backend {
  /** IPv4 address, dotted quad. */
  readonly address: string;
  /** Port 1..65535. */
  readonly port: number;
  readonly protocol: Protocol;
  /** The service port this backend serves ('' = unnamed); see Frontend.portName. */
  readonly portName: string;
  /**
   * Relative share of new connections, 0..65535 (default 1). 0 = known but gets no new
   * connections (like a non-active state).
   */
  readonly weight: number;
  readonly state: BackendState;
  /** Node the backend runs on, when known; used by the `Local` traffic policy. */
  readonly nodeName?: string;
}

/** ClientIP session affinity: a client keeps its backend until idle for `timeoutSeconds`. */
export interface SessionAffinity {
  /** 1..86400 (Kubernetes' range); default 10800. */
  readonly timeoutSeconds: number;
}

/**
 * A load-balanced service. A service with no backends (or none eligible for new connections) is
 * valid: its frontends stay installed and the datapath drops new connections to them with
 * DROP_NO_SERVICE ("Service backend not found"), instead of letting the packets leak to the
 * virtual IP unchanged.
 */
export interface Service {
  readonly name: string;
  readonly namespace: string;
  /** Only ClusterIP services are supported. */
  readonly type: 'ClusterIP';
  /** At least one; (address, port, protocol) unique. */
  readonly frontends: readonly Frontend[];
  /** Present = ClientIP affinity on. */
  readonly sessionAffinity?: SessionAffinity;
  /** Client CIDRs allowed to use the service; empty = everyone. Canonical `a.b.c.d/len`. */
  readonly sourceRanges: readonly string[];
  readonly trafficPolicy: TrafficPolicy;
  readonly algorithm: LbAlgorithm;
  /** (address, port, protocol, portName) unique; each serves at least one frontend. */
  readonly backends: readonly Backend[];
}

/** A frontend as callers may write it: protocol defaults to TCP, portName to ''. */
export interface FrontendInput {
  readonly address: string;
  readonly port: number;
  readonly protocol?: Protocol;
  readonly portName?: string;
}

/** A backend as callers may write it: protocol TCP, portName '', weight 1, state active by default. */
export interface BackendInput {
  readonly address: string;
  readonly port: number;
  readonly protocol?: Protocol;
  readonly portName?: string;
  readonly weight?: number;
  readonly state?: BackendState;
  readonly nodeName?: string;
}

/**
 * A service as callers may write it. Defaults: namespace 'default', type ClusterIP, no affinity,
 * sourceRanges [], trafficPolicy Cluster, algorithm random, backends [].
 */
export interface ServiceInput {
  readonly name: string;
  readonly namespace?: string;
  readonly type?: string;
  readonly frontends: readonly FrontendInput[];
  readonly sessionAffinity?: { readonly timeoutSeconds?: number };
  readonly sourceRanges?: readonly string[];
  readonly trafficPolicy?: TrafficPolicy;
  readonly algorithm?: LbAlgorithm;
  readonly backends?: readonly BackendInput[];
}
