// Index key encoders and the `index()` helper. Keys are strings compared by code unit, so numbers are
// encoded fixed-width to keep their order, and '\0' is reserved as the separator of non-unique keys.

import type { Index, Key, Query } from './types.js';

/** Key encoders that preserve order. */
export const keys = {
  /** A string as is (must not contain '\0'). */
  str(s: string): Key {
    if (s.includes('\0')) throw new Error('index keys must not contain NUL');
    return s;
  },
  /** An unsigned integer below 2^53, fixed width so that numeric order = key order. */
  uint(n: number): Key {
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`index key ${n} is not an unsigned integer`);
    return n.toString(16).padStart(14, '0');
  },
  /** A boolean. */
  bool(b: boolean): Key {
    return b ? 'T' : 'F';
  },
  /** An IPv4 address in dotted form, ordered numerically. */
  ipv4(ip: string): Key {
    const parts = ip.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bad IPv4 key ${ip}`);
    return parts.map((p) => p.toString(16).padStart(2, '0')).join('');
  },
  /** Several keys joined so that the tuple order is kept. */
  tuple(...parts: Key[]): Key {
    return parts.join('\x01');
  },
};

/** How to build an index: `key(o)` gives one or many lookup values per object, `encode` turns a value into a key. */
export interface IndexDef<T, K> {
  readonly name: string;
  readonly unique: boolean;
  readonly key: (o: T) => K | readonly K[];
  readonly encode: (k: K) => Key;
}

/** Creates an index from a definition. */
export function index<T, K>(def: IndexDef<T, K>): Index<T, K> {
  if (!/^[a-z][a-z0-9_-]{0,30}$/.test(def.name)) throw new Error(`invalid index name ${JSON.stringify(def.name)}`);
  return {
    name: def.name,
    unique: def.unique,
    fromObject(o) {
      const k = def.key(o);
      return Array.isArray(k) ? (k as readonly K[]).map(def.encode) : [def.encode(k as K)];
    },
    fromKey: def.encode,
    query(k): Query<T> {
      return { index: def.name, key: def.encode(k) };
    },
  };
}

/** A unique string index (the usual primary index). */
export function stringIndex<T>(name: string, key: (o: T) => string): Index<T, string> {
  return index({ name, unique: true, key, encode: keys.str });
}

/** A unique unsigned-integer index. */
export function uintIndex<T>(name: string, key: (o: T) => number): Index<T, number> {
  return index({ name, unique: true, key, encode: keys.uint });
}
