// Public types of the service-lb cell: the desired-state rows of services and backends, the API other
// cells use, the cell's flags, and the wire format of /v1/service and /v1/bpf/lb (the CLI's --json).

import { token } from '../../pkg/hive/index.js';
import type { Backend, BackendInput, BackendState, Frontend, FrontendInput, LbAlgorithm, Protocol, SessionAffinity, TrafficPolicy } from '../../pkg/lb/model/index.js';
import type { Revision, Table } from '../../pkg/statedb/index.js';
import type { Status } from '../../pkg/statedb/reconciler/index.js';

/** Who made a service: the API/CLI (`cilia service upsert`) or `cilia apply` (a Kubernetes Service). */
export type ServiceSource = 'api' | 'k8s';

/**
 * Where a service's backends come from: given explicitly (API), from EndpointSlices, or derived from
 * the local endpoints its selector matches (a Service with a selector and no EndpointSlice).
 */
export type BackendSource = 'explicit' | 'endpoint-slices' | 'selector';

/** A frontend with the rev-NAT index that identifies it in the datapath (1..65535, stable). */
export interface LbFrontend extends Frontend {
  readonly revNat: number;
}

/** A backend of a service with its node-local backend id (key of cilia_lb4_backends, stable). */
export interface LbServiceBackend extends Backend {
  readonly id: number;
}

/**
 * One row of the `services` table: the desired state of a service, reconciled into
 * cilia_lb4_services (a master entry plus slots per frontend), cilia_lb4_reverse_nat,
 * cilia_lb4_source_range and, for `maglev` services, cilia_lb4_maglev. Immutable.
 */
export interface LbService {
  /** `namespace/name`, the primary key. */
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  readonly source: ServiceSource;
  readonly backendSource: BackendSource;
  readonly frontends: readonly LbFrontend[];
  /** In a stable order: as given (API) or sorted by port name, address, port (Kubernetes). */
  readonly backends: readonly LbServiceBackend[];
  readonly sessionAffinity?: SessionAffinity;
  /** Client CIDRs allowed; empty = everyone. */
  readonly sourceRanges: readonly string[];
  readonly trafficPolicy: TrafficPolicy;
  readonly algorithm: LbAlgorithm;
  readonly status: Status;
}

/** Per-state reference counts of a backend. */
export type BackendStateCounts = Readonly<Record<BackendState, number>>;

/**
 * One row of the `backends` table: a backend some service refers to, with its stable id. A row exists
 * exactly while at least one service refers to it; the rows are the desired content of
 * cilia_lb4_backends. `states` counts the references per backend state.
 */
export interface LbBackend {
  /** `address:port/PROTOCOL`, the primary key. */
  readonly key: string;
  readonly id: number;
  readonly address: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly states: BackendStateCounts;
}

/**
 * The state the backends map records for a backend referred to in several states: `active` if any
 * service has it active, else the first of terminating, quarantined, maintenance that any has.
 * (The datapath reads it only to validate session affinity.)
 */
export function combinedBackendState(states: BackendStateCounts): BackendState {
  if (states.active > 0) return 'active';
  if (states.terminating > 0) return 'terminating';
  if (states.quarantined > 0) return 'quarantined';
  return 'maintenance';
}

/** What other cells may use of the service load balancer. */
export interface ServiceLb {
  /** The `services` table (read-only). */
  readonly services: Table<LbService>;
  /** The `backends` table (read-only). */
  readonly backends: Table<LbBackend>;
  /**
   * Resolves once the reconciler processed every service change up to `rev` (a `services` table
   * revision). With `keys` (`namespace/name`), rejects (ApiError 500) when one of those services could
   * not be written to the maps, naming it and the error (it is retried in the background).
   */
  waitProgrammed(rev: Revision, signal?: AbortSignal, keys?: readonly string[]): Promise<void>;
}
/** Token of the service load balancer (provided by ServiceLbCell). */
export const IServiceLb = token<ServiceLb>('ServiceLb');

/** Flags of the service-lb module. */
export interface ServiceLbConfig {
  /**
   * Socket-level load balancing (bpf_sock.o on the cgroup connect/sendmsg/recvmsg/getpeername hooks).
   * Default on; when it is off, per-packet LB (`--enable-packet-lb`) must be on.
   */
  readonly enableSocketLb: boolean;
  /**
   * The cgroup v2 directory the socket LB programs attach to: its processes and those of every cgroup
   * below it are load-balanced. Default /run/cilia/cgroupv2, where the agent mounts the cgroup v2
   * hierarchy (its root: every process) if nothing is mounted there; a missing child of a cgroup v2
   * directory is created.
   */
  readonly cgroupRoot: string;
  /** Backend selection of services that do not choose one: random or maglev. */
  readonly bpfLbAlgorithm: LbAlgorithm;
}
/** Token of the service-lb module's flags. */
export const IServiceLbConfig = token<Readonly<ServiceLbConfig>>('ServiceLbConfig');

// ---- wire format ---------------------------------------------------------------------------------

/** PUT /v1/service: what `cilia service upsert` sends. Defaults as ServiceInput of pkg/lb. */
export interface ServiceUpsertRequest {
  /** DNS label; default: the service that owns the first frontend, else one derived from it (`10-96-0-10-80-tcp`). */
  readonly name?: string;
  /** Default `default`. */
  readonly namespace?: string;
  readonly frontends: readonly FrontendInput[];
  /** Required; an empty list is a service without backends (new connections are dropped). */
  readonly backends: readonly BackendInput[];
  readonly sessionAffinity?: { readonly timeoutSeconds?: number };
  readonly sourceRanges?: readonly string[];
  readonly trafficPolicy?: TrafficPolicy;
  readonly algorithm?: LbAlgorithm;
}

/** One service as GET /v1/service returns it. */
export interface ServiceJSON {
  readonly name: string;
  readonly namespace: string;
  readonly source: ServiceSource;
  readonly backendSource: BackendSource;
  readonly type: 'ClusterIP';
  readonly frontends: readonly LbFrontend[];
  readonly backends: readonly LbServiceBackend[];
  readonly sessionAffinity?: SessionAffinity;
  readonly sourceRanges: readonly string[];
  readonly trafficPolicy: TrafficPolicy;
  readonly algorithm: LbAlgorithm;
  readonly status: { readonly kind: string; readonly error?: string };
}

/** One frontend of GET /v1/bpf/lb: the master entry and its slots as the datapath holds them. */
export interface BpfLbServiceJSON {
  /** `address:port/PROTOCOL`. */
  readonly frontend: string;
  readonly revNat: number;
  /** Master entry: number of slots (0 = "Service backend not found"). */
  readonly count: number;
  readonly flags: readonly string[];
  readonly affinityTimeoutSeconds?: number;
  /** Backend id per slot 1..count (0 where a slot entry is missing). */
  readonly slots: readonly number[];
}

/** GET /v1/bpf/lb: the LB maps decoded. */
export interface BpfLbJSON {
  readonly services: readonly BpfLbServiceJSON[];
  readonly backends: readonly { readonly id: number; readonly address: string; readonly port: number; readonly protocol: string; readonly state: string }[];
  readonly reverseNat: readonly { readonly revNat: number; readonly address: string; readonly port: number }[];
  readonly sourceRanges: readonly { readonly revNat: number; readonly cidr: string }[];
  readonly maglev: readonly { readonly revNat: number; readonly innerMapId: number }[];
}

/** GET /v1/bpf/lb/maglev/{service}: the Maglev table of each frontend. */
export interface BpfMaglevJSON {
  readonly service: string;
  readonly frontends: readonly {
    readonly frontend: string;
    readonly revNat: number;
    /** Table size M (0 when the frontend has no table). */
    readonly size: number;
    /** Slots per backend id. */
    readonly counts: Readonly<Record<string, number>>;
    /** The table: backend id per slot. */
    readonly table: readonly number[];
  }[];
}
