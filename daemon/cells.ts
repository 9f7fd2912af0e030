// The agent is a list of modules. One line per cell says what it is for; extending the agent means
// adding a module here — or, without editing Cilia, loading one with --extra-modules.

import { type Cell, module } from '../pkg/hive/index.js';
import { StateDBCell } from '../pkg/statedb/index.js';
import { ApiServerCell } from '../cells/api-server/cell.js';
import { ApplyCell } from '../cells/apply/cell.js';
import { ConntrackCell } from '../cells/conntrack/cell.js';
import { DaemonConfigCell } from '../cells/daemon-config/cell.js';
import { EndpointManagerCell } from '../cells/endpoint-manager/cell.js';
import { HostDeviceCell } from '../cells/host-device/cell.js';
import { IdentityCell } from '../cells/identity/cell.js';
import { IpamCell } from '../cells/ipam/cell.js';
import { IpcacheCell } from '../cells/ipcache/cell.js';
import { LoaderCell } from '../cells/loader/cell.js';
import { MapsCell } from '../cells/maps/cell.js';
import { MonitorCell } from '../cells/monitor/cell.js';
import { NamespacesCell } from '../cells/namespaces/cell.js';
import { OrchestratorCell } from '../cells/orchestrator/cell.js';
import { PolicyCell } from '../cells/policy/cell.js';
import { ServiceLbCell } from '../cells/service-lb/cell.js';
import { StatusCell } from '../cells/status/cell.js';

/** Access and services to the outside: config, database, API. */
export const Infrastructure = module(
  'infra',
  'Infrastructure',
  DaemonConfigCell, // --state-dir, --bpf-root, --backend, --node-name
  StateDBCell, // the in-memory database of desired state
  ApiServerCell, // REST API on the unix socket
  StatusCell, // GET /v1/status
);

/** Business logic: what should be, computed from what users asked for. */
export const ControlPlane = module(
  'controlplane',
  'Control plane',
  NamespacesCell, // namespaces and their labels
  IdentityCell, // label sets → security identities
  IpamCell, // pod addresses from --pod-cidr
  EndpointManagerCell, // endpoints: veths, programs, lxc map
  IpcacheCell, // IP → identity for the datapath
  PolicyCell, // rules → per-endpoint policy map entries
  ServiceLbCell, // services and backends → LB maps (per-packet load balancing)
  ApplyCell, // cilia apply: objects of the local backend, persisted
);

/** The BPF datapath: programs, maps, attachments, events. */
export const Datapath = module(
  'datapath',
  'Datapath',
  HostDeviceCell, // cilia_host with the router IP, the pods' gateway
  MapsCell, // map sizes and typed handles on the pinned maps
  LoaderCell, // loads bpf_lxc.o once (alignment-checked), reloads on setting changes
  OrchestratorCell, // programs on every endpoint veth, swapped atomically on reload
  MonitorCell, // drop/trace/policy-verdict events from the ring buffer
  ConntrackCell, // conntrack garbage collection and inspection
);

/** The whole agent. `extra` are cells loaded from --extra-modules. */
export function agentCells(extra: readonly Cell[] = []): Cell[] {
  return [module('agent', 'Cilia agent', Infrastructure, ControlPlane, Datapath, ...extra)];
}
