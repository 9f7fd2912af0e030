// The operator is a list of modules, like the agent. With the `local` backend there is one node and
// nothing cluster-wide to do; the operator's IPAM (per-node pod CIDRs) and garbage-collection cells
// arrive with the shared backends (etcd, kubernetes). What runs today: its database, its API
// (/v1/healthz, /v1/status, /v1/hive, /v1/statedb) on its own socket, and its health.

import { type Cell, module } from '../pkg/hive/index.js';
import { StateDBCell } from '../pkg/statedb/index.js';
import { apiServerCell } from '../cells/api-server/cell.js';
import { StatusCell } from '../cells/status/cell.js';

/** Infrastructure of the operator. */
export const OperatorInfrastructure = module(
  'operator-infra',
  'Operator infrastructure',
  StateDBCell, // the operator's in-memory database
  apiServerCell('/var/run/cilia/operator.sock'), // REST API on the operator's socket
  StatusCell, // GET /v1/status
);

/** The whole operator. */
export function operatorCells(extra: readonly Cell[] = []): Cell[] {
  return [module('operator', 'Cilia operator', OperatorInfrastructure, ...extra)];
}
