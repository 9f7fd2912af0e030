// Public types of the orchestrator cell: which devices carry the endpoint programs.

import type { Observable } from 'rxjs';
import { token } from '../../pkg/hive/index.js';

/** Attaches the loaded endpoint programs to host-side veths and keeps them attached across reloads. */
export interface Orchestrator {
  /**
   * Attaches cil_from_container (tc ingress) and cil_to_container (tc egress) to `ifindex`. Idempotent: a
   * device that already carries the current programs is left alone; older programs are replaced
   * atomically (no moment without a program).
   */
  attachEndpoint(ifindex: number, ifName: string): void;
  /** Forgets a device (its programs go away with it). */
  forgetEndpoint(ifindex: number): void;
  /** Devices currently carrying the programs. */
  attached(): { ifindex: number; ifName: string; fromContainerId: number; toContainerId: number }[];
  /** Emits the number of devices re-attached after each datapath reload. */
  readonly reloads$: Observable<number>;
}
export const IOrchestrator = token<Orchestrator>('Orchestrator');
