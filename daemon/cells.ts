// The agent is a list of modules. One line per cell says what it is for; extending the agent means
// adding a module here — or, without editing Cilia, loading one with --extra-modules.

import { type Cell, module } from '../pkg/hive/index.js';
import { StateDBCell } from '../pkg/statedb/index.js';
import { ApiServerCell } from '../cells/api-server/cell.js';
import { DaemonConfigCell } from '../cells/daemon-config/cell.js';
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

/** The whole agent. `extra` are cells loaded from --extra-modules. */
export function agentCells(extra: readonly Cell[] = []): Cell[] {
  return [module('agent', 'Cilia agent', Infrastructure, ...extra)];
}
