// pkg/statedb: an in-memory transactional database of desired state, on RxJS, modelled on
// cilium/statedb. See docs/statedb.md for a tutorial. The reconciler lives in ./reconciler.
export {
  DB,
  RevisionCompactedError,
  RevisionMismatchError,
  TableLockedError,
  TableNotLockedError,
  type TableDef,
  TransactionClosedError,
} from './db.js';
export { type IndexDef, index, keys, stringIndex, uintIndex } from './keys.js';
export { PMap } from './part.js';
export type { Change, ChangeIterator, Index, Key, Query, RWTable, ReadTxn, Revision, Table, TableMeta, WriteTxn } from './types.js';
export { IDB, StateDBCell } from './cell.js';
