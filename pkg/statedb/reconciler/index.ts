// pkg/statedb/reconciler: the generic reconciler (desired state in a table → target), as cilium/statedb's.
export { registerReconciler } from './reconciler.js';
export {
  type BatchEntry,
  type BatchOperations,
  type OpContext,
  type Operations,
  type Reconciler,
  type ReconcilerConfig,
  type ReconcilerParams,
  type ReconcilerStats,
  Status,
  type StatusKind,
} from './types.js';
