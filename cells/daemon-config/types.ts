// Agent-wide settings that many cells read: where state and pins live, which control-plane backend.

import { token } from '../../pkg/hive/index.js';

/** Control-plane backends (ARCHITECTURE.md). Only `local` exists so far. */
export type Backend = 'local' | 'etcd' | 'kubernetes';

export interface DaemonConfig {
  /** Directory of persisted agent state (endpoints, identities, IP leases, applied objects). */
  readonly stateDir: string;
  /** bpffs directory of this agent's pinned maps (a per-instance directory lets agents run side by side). */
  readonly bpfRoot: string;
  /** Where desired state comes from. */
  readonly backend: Backend;
  /** This node's name (default: the hostname). */
  readonly nodeName: string;
  /** Extra module files loaded at start-up (see docs/extending.md); read by the entry point. */
  readonly extraModules: readonly string[];
}

export const IDaemonConfig = token<Readonly<DaemonConfig>>('DaemonConfig');
