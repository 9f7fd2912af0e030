// Public types of the policy cell: the repository of rules in force and its per-endpoint enforcement.

import { token } from '../../pkg/hive/index.js';
import type { EnforcementMode, PolicyKey, PolicyObject, TraceResult } from '../../pkg/policy/index.js';
import type { LabelSet } from '../../pkg/labels/index.js';

/** Policy enforcement: rules → per-endpoint BPF policy map entries. */
export interface PolicyEngine {
  /** Adds or replaces policy objects as one change. Returns the new repository revision. */
  upsert(objects: readonly PolicyObject[]): number;
  /** Deletes policy objects by key. Returns the new revision. */
  delete(keys: readonly PolicyKey[]): number;
  /** Deletes every policy object. */
  deleteAll(): number;
  /** The objects in force. */
  list(): PolicyObject[];
  /** The repository revision. */
  revision(): number;
  /**
   * Resolves once every endpoint enforces revision `rev` or later in its BPF maps (its policy entries are
   * written and its lxc entry carries the new revision).
   */
  waitEnforced(rev: number, signal?: AbortSignal): Promise<void>;
  /**
   * Resolves once the engine has no pending work: every identity, endpoint and rule change seen before
   * the call is reflected in the BPF maps.
   */
  waitIdle(signal?: AbortSignal): Promise<void>;
  /** Explains the verdict for traffic between two label sets (as `cilium policy trace`). */
  trace(src: LabelSet | readonly LabelSet[], dst: LabelSet | readonly LabelSet[], dport: number, protocol: number): TraceResult;
  /**
   * A source of policy objects that must have delivered its initial content before stale BPF policy
   * entries may be pruned (e.g. the local object store after a restart). Call the returned function once
   * the source has upserted everything it had.
   */
  registerSource(name: string): () => void;
  /** The enforcement mode (--enable-policy). */
  readonly mode: EnforcementMode;
}
export const IPolicyEngine = token<PolicyEngine>('PolicyEngine');

export interface PolicyConfig {
  /** Cilium's --enable-policy: default | always | never. */
  readonly enablePolicy: EnforcementMode;
}
export const IPolicyConfig = token<Readonly<PolicyConfig>>('PolicyConfig');
