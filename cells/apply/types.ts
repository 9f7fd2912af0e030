// Public types of the apply cell: handlers that take Kubernetes-style objects of some kinds.

import { groupToken } from '../../pkg/hive/index.js';

/** The pseudo-kind of bare Cilium rules (the `cilium policy import` format): object `{rules: [...]}`. */
export const CILIUM_RULES = 'CiliumRules';

/** One object from the input, with where it came from (for error messages). */
export interface ApplyItem {
  readonly kind: string;
  readonly apiVersion?: string;
  readonly object: Readonly<Record<string, unknown>>;
  /** "document 2", "document 1, items[3]" … */
  readonly where: string;
  /**
   * For JSON input: the keys leading from the parsed document to `object` (`["items", 3]`, `[]` for
   * the document itself). Undefined for YAML input and for objects made up by the reader.
   */
  readonly path?: readonly (string | number)[];
}

/** The identity of a stored object. */
export interface ObjectKey {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

/** A validated change, ready to be committed. Validation of every handler happens before any commit. */
export interface PreparedChange {
  /**
   * The objects this change stores (apply) or removes (delete), each with its source object to persist
   * and, when that source is the `object` of an input item unchanged, the item (the store then keeps
   * the JSON text it came in, rather than serializing it again).
   */
  readonly objects: readonly { readonly key: ObjectKey; readonly source?: Readonly<Record<string, unknown>>; readonly item?: ApplyItem }[];
  /** Makes the change; returns a revision (meaning is the handler's). */
  commit(): number;
  /** Resolves once the datapath enforces the committed change. */
  wait?(signal?: AbortSignal): Promise<void>;
}

/** Takes objects of some kinds from `cilia apply` / `cilia delete` and the persisted store. */
export interface ApplyHandler {
  /** The kinds this handler owns (e.g. `NetworkPolicy`). */
  readonly kinds: readonly string[];
  /** Validates objects to apply; throws ApiError (400, field = path of the first problem) on bad input. */
  prepareApply(items: readonly ApplyItem[], defaultNamespace: string): PreparedChange;
  /** Prepares removing objects (from a manifest or by key). Unknown objects are ignored. */
  prepareDelete(keys: readonly ObjectKey[]): PreparedChange;
  /** The keys the objects of a manifest would be stored under (for `cilia delete -f`). */
  keysOf(items: readonly ApplyItem[], defaultNamespace: string): ObjectKey[];
}

/** Apply handlers contributed by cells; the apply cell dispatches by kind. */
export const IApplyHandlers = groupToken<ApplyHandler>('ApplyHandlers');
