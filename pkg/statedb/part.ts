// A persistent (immutable) ordered map: a B+tree with path copying.
//
// Every update returns a new map and leaves the old one intact, so a read transaction keeps a
// consistent snapshot for as long as it likes, at O(log n) cost per write. Writes inside one write
// transaction pass an `owner` token: nodes created by that owner are updated in place instead of
// copied again (Clojure-style transients), which makes bulk inserts cheap. A node is only ever reachable
// from snapshots created after its owner created it, so in-place edits never leak into older snapshots.
//
// Why a B+tree (it replaced a treap): nodes hold up to 64 sorted keys in plain arrays, so a map of
// 30,000 keys is 3 levels deep and an insert by the owner of a leaf is an array insert, with no
// allocation per key (the treap allocated a node per key, garbage the collector then had to copy
// during a bulk apply). Lookups cost about the same: string comparisons dominate either way, which is
// why `set` and `delete` also return the previous value (one walk instead of a `get` and a `set`).

/** Token for transient (in-place) updates; one per write transaction. */
export type Owner = object;

/** Keys are strings or numbers (one kind per map), ordered by `<`: strings by UTF-16 code unit. */
export type MapKey = string | number;

/** Most keys of a node; a node that grows past it is split in two. */
const MAX = 64;
/** A node left with fewer keys after a delete is merged with a neighbour when they fit in one. */
const MIN = MAX >> 2;

/**
 * A node. Leaves hold keys and values; inner nodes hold children in `vals` and, in `keys[i]` for i ≥ 1,
 * a lower bound of child i's keys that is above every key of child i-1 (`keys[0]` is not used for
 * routing: child 0 takes everything below `keys[1]`).
 */
class Node<K extends MapKey> {
  constructor(
    public owner: Owner | undefined,
    readonly leaf: boolean,
    public keys: K[],
    public vals: unknown[],
  ) {}
}

function writable<K extends MapKey>(n: Node<K>, owner: Owner): Node<K> {
  return n.owner === owner ? n : new Node(owner, n.leaf, n.keys.slice(), n.vals.slice());
}

/** Inserts `v` at `i`, shifting the rest right (splice would allocate an array for its result). */
function insertAt<T>(a: T[], i: number, v: T): void {
  a.push(v);
  for (let j = a.length - 1; j > i; j--) a[j] = a[j - 1];
  a[i] = v;
}

/** Removes the element at `i`, shifting the rest left. */
function removeAt<T>(a: T[], i: number): void {
  for (let j = i; j < a.length - 1; j++) a[j] = a[j + 1];
  a.pop();
}

/** First index whose key is ≥ `key` (keys.length when none). */
function lowerBound<K extends MapKey>(keys: readonly K[], key: K): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The child of an inner node whose range holds `key`: the last i with keys[i] ≤ key, or 0. */
function childIndex<K extends MapKey>(keys: readonly K[], key: K): number {
  let lo = 1;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid] <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** What an insert or remove did: whether a key was added or removed, and the value it replaced or removed. */
interface Outcome {
  added: boolean;
  removed: boolean;
  old: unknown;
}

/** Scratch outcome of the one insert or remove running (JS is single-threaded and they do not nest). */
const scratch: Outcome = { added: false, removed: false, old: undefined };

function resetScratch(): Outcome {
  scratch.added = false;
  scratch.removed = false;
  scratch.old = undefined;
  return scratch;
}

/** Inserts or replaces; returns the (possibly copied) node, which may hold more than MAX keys (the caller splits). */
function insert<K extends MapKey>(n: Node<K>, key: K, value: unknown, owner: Owner, out: Outcome): Node<K> {
  if (n.leaf) {
    const i = lowerBound(n.keys, key);
    const m = writable(n, owner);
    if (i < m.keys.length && m.keys[i] === key) {
      out.old = m.vals[i];
      m.vals[i] = value;
      return m;
    }
    insertAt(m.keys, i, key);
    insertAt(m.vals, i, value);
    out.added = true;
    return m;
  }
  const i = childIndex(n.keys, key);
  const c = insert(n.vals[i] as Node<K>, key, value, owner, out);
  const m = writable(n, owner);
  m.vals[i] = c;
  if (c.keys.length > MAX) {
    // `c` was written by this owner (it grew), so splitting it in place is safe.
    const half = c.keys.length >> 1;
    const right = new Node<K>(owner, c.leaf, c.keys.splice(half), c.vals.splice(half));
    insertAt(m.keys, i + 1, right.keys[0]);
    insertAt(m.vals, i + 1, right);
  }
  return m;
}

/** Removes `key`; returns the node (copied if changed, possibly with no keys left) or `n` itself when absent. */
function remove<K extends MapKey>(n: Node<K>, key: K, owner: Owner, out: Outcome): Node<K> {
  if (n.leaf) {
    const i = lowerBound(n.keys, key);
    if (i === n.keys.length || n.keys[i] !== key) return n;
    const m = writable(n, owner);
    out.old = m.vals[i];
    removeAt(m.keys, i);
    removeAt(m.vals, i);
    out.removed = true;
    return m;
  }
  const i = childIndex(n.keys, key);
  const c = remove(n.vals[i] as Node<K>, key, owner, out);
  if (!out.removed) return n;
  const m = writable(n, owner);
  if (c.keys.length === 0) {
    removeAt(m.keys, i);
    removeAt(m.vals, i);
    return m;
  }
  m.vals[i] = c;
  if (c.keys.length < MIN && m.vals.length > 1) {
    // Merge the small child with a neighbour when both fit in one node.
    const j = i + 1 < m.vals.length ? i : i - 1;
    const left = m.vals[j] as Node<K>;
    const right = m.vals[j + 1] as Node<K>;
    if (left.keys.length + right.keys.length <= MAX) {
      // The right node's routing key (unused slot 0 of an inner node) becomes the separator from the parent.
      const rightKeys = left.leaf ? right.keys : [m.keys[j + 1], ...right.keys.slice(1)];
      m.vals[j] = new Node<K>(owner, left.leaf, left.keys.concat(rightKeys), left.vals.concat(right.vals));
      removeAt(m.keys, j + 1);
      removeAt(m.vals, j + 1);
    }
  }
  return m;
}

/** An immutable ordered map. */
export class PMap<V, K extends MapKey = string> {
  private constructor(
    private readonly root: Node<K> | undefined,
    /** Number of entries. */
    readonly size: number,
  ) {}

  private static readonly EMPTY = new PMap<never, never>(undefined, 0);

  /** The empty map. */
  static empty<V, K extends MapKey = string>(): PMap<V, K> {
    return PMap.EMPTY;
  }

  /** The value under `key`, or undefined. */
  get(key: K): V | undefined {
    let n = this.root;
    if (!n) return undefined;
    while (!n.leaf) n = n.vals[childIndex(n.keys, key)] as Node<K>;
    const i = lowerBound(n.keys, key);
    return i < n.keys.length && n.keys[i] === key ? (n.vals[i] as V) : undefined;
  }

  has(key: K): boolean {
    let n = this.root;
    if (!n) return false;
    while (!n.leaf) n = n.vals[childIndex(n.keys, key)] as Node<K>;
    const i = lowerBound(n.keys, key);
    return i < n.keys.length && n.keys[i] === key;
  }

  /**
   * A map with `key` set to `value`. Pass the transaction's owner to update its own nodes in place.
   * `prev`, when given, receives the value `key` had (undefined when it was absent): one walk down the
   * tree instead of a `get` and a `set`.
   */
  set(key: K, value: V, owner: Owner = {}, prev?: { value: V | undefined }): PMap<V, K> {
    const out = resetScratch();
    let root = this.root ? insert(this.root, key, value, owner, out) : new Node<K>(owner, true, [key], [value]);
    if (!this.root) out.added = true;
    if (root.keys.length > MAX) {
      const half = root.keys.length >> 1;
      const right = new Node<K>(owner, root.leaf, root.keys.splice(half), root.vals.splice(half));
      root = new Node<K>(owner, false, [root.keys[0], right.keys[0]], [root, right]);
    }
    if (prev) prev.value = out.old as V | undefined;
    const size = this.size + (out.added ? 1 : 0);
    out.old = undefined; // do not keep the replaced value alive
    return new PMap(root, size);
  }

  /** A map without `key` (the same map when absent). `prev`, when given, receives the removed value. */
  delete(key: K, owner: Owner = {}, prev?: { value: V | undefined }): PMap<V, K> {
    if (prev) prev.value = undefined;
    if (!this.root) return this;
    const out = resetScratch();
    let root: Node<K> | undefined = remove(this.root, key, owner, out);
    if (!out.removed) return this;
    if (prev) prev.value = out.old as V;
    out.old = undefined;
    while (root && !root.leaf && root.vals.length === 1) root = root.vals[0] as Node<K>;
    if (root && root.keys.length === 0) root = undefined;
    return new PMap(root, this.size - 1);
  }

  /** Entries in key order, starting at the first key ≥ `from` (all when omitted). */
  *entries(from?: K): Generator<[K, V]> {
    let n = this.root;
    if (!n) return;
    // Inner nodes above the current leaf, with the index of the next child to visit.
    const stack: [Node<K>, number][] = [];
    while (!n.leaf) {
      const i = from === undefined ? 0 : childIndex(n.keys, from);
      stack.push([n, i + 1]);
      n = n.vals[i] as Node<K>;
    }
    let i = from === undefined ? 0 : lowerBound(n.keys, from);
    for (;;) {
      for (; i < n.keys.length; i++) yield [n.keys[i], n.vals[i] as V];
      let next: Node<K> | undefined;
      while (stack.length) {
        const top = stack[stack.length - 1];
        if (top[1] < top[0].vals.length) {
          next = top[0].vals[top[1]++] as Node<K>;
          break;
        }
        stack.pop();
      }
      if (!next) return;
      while (!next.leaf) {
        stack.push([next, 1]);
        next = next.vals[0] as Node<K>;
      }
      n = next;
      i = 0;
    }
  }

  /**
   * Calls `fn` for each entry in key order from the first key ≥ `from` (all when omitted). Like
   * `entries` without a generator and a tuple per entry, for bulk reads (a change round of 10,000 objects).
   */
  forEach(fn: (value: V, key: K) => void, from?: K): void {
    const visit = (n: Node<K>, first: boolean): void => {
      if (n.leaf) {
        for (let i = first && from !== undefined ? lowerBound(n.keys, from) : 0; i < n.keys.length; i++) fn(n.vals[i] as V, n.keys[i]);
        return;
      }
      const start = first && from !== undefined ? childIndex(n.keys, from) : 0;
      for (let i = start; i < n.vals.length; i++) visit(n.vals[i] as Node<K>, first && i === start);
    };
    if (this.root) visit(this.root, true);
  }

  /** Entries whose key starts with `prefix`, in key order (string keys). */
  *prefix(prefix: K & string): Generator<[K, V]> {
    for (const e of this.entries(prefix)) {
      if (!(e[0] as string).startsWith(prefix)) return;
      yield e;
    }
  }

  /** Values in key order. */
  *values(): Generator<V> {
    for (const [, v] of this.entries()) yield v;
  }
}
