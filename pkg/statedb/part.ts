// A persistent (immutable) ordered map from string keys to values: a treap with path copying.
//
// Every update returns a new map and leaves the old one intact, so a read transaction keeps a
// consistent snapshot for as long as it likes, at O(log n) cost per write. Writes inside one write
// transaction pass an `owner` token: nodes created by that owner are updated in place instead of
// copied again (Clojure-style transients), which makes bulk inserts cheap. A node is only ever reachable
// from snapshots created after its owner created it, so in-place edits never leak into older snapshots.

interface Node<V> {
  key: string;
  value: V;
  prio: number;
  left: Node<V> | undefined;
  right: Node<V> | undefined;
  owner: object | undefined;
}

/** Token for transient (in-place) updates; one per write transaction. */
export type Owner = object;

function edit<V>(n: Node<V>, owner: Owner): Node<V> {
  if (n.owner === owner) return n;
  return { key: n.key, value: n.value, prio: n.prio, left: n.left, right: n.right, owner };
}

function insert<V>(n: Node<V> | undefined, key: string, value: V, owner: Owner, out: { added: boolean }): Node<V> {
  if (!n) {
    out.added = true;
    return { key, value, prio: Math.random(), left: undefined, right: undefined, owner };
  }
  if (key === n.key) {
    const m = edit(n, owner);
    m.value = value;
    return m;
  }
  if (key < n.key) {
    const l = insert(n.left, key, value, owner, out);
    const m = edit(n, owner);
    m.left = l;
    if (l.prio > m.prio) {
      // Rotate right. `l` was created or edited by this owner in the recursive call, so it is ours.
      m.left = l.right;
      l.right = m;
      return l;
    }
    return m;
  }
  const r = insert(n.right, key, value, owner, out);
  const m = edit(n, owner);
  m.right = r;
  if (r.prio > m.prio) {
    m.right = r.left;
    r.left = m;
    return r;
  }
  return m;
}

function merge<V>(a: Node<V> | undefined, b: Node<V> | undefined, owner: Owner): Node<V> | undefined {
  if (!a) return b;
  if (!b) return a;
  if (a.prio > b.prio) {
    const m = edit(a, owner);
    m.right = merge(a.right, b, owner);
    return m;
  }
  const m = edit(b, owner);
  m.left = merge(a, b.left, owner);
  return m;
}

function remove<V>(n: Node<V> | undefined, key: string, owner: Owner, out: { removed: boolean }): Node<V> | undefined {
  if (!n) return undefined;
  if (key === n.key) {
    out.removed = true;
    return merge(n.left, n.right, owner);
  }
  if (key < n.key) {
    const l = remove(n.left, key, owner, out);
    if (!out.removed) return n;
    const m = edit(n, owner);
    m.left = l;
    return m;
  }
  const r = remove(n.right, key, owner, out);
  if (!out.removed) return n;
  const m = edit(n, owner);
  m.right = r;
  return m;
}

/** An immutable ordered map. */
export class PMap<V> {
  private constructor(
    private readonly root: Node<V> | undefined,
    /** Number of entries. */
    readonly size: number,
  ) {}

  private static readonly EMPTY = new PMap<never>(undefined, 0);

  /** The empty map. */
  static empty<V>(): PMap<V> {
    return PMap.EMPTY;
  }

  /** The value under `key`, or undefined. */
  get(key: string): V | undefined {
    let n = this.root;
    while (n) {
      if (key === n.key) return n.value;
      n = key < n.key ? n.left : n.right;
    }
    return undefined;
  }

  has(key: string): boolean {
    let n = this.root;
    while (n) {
      if (key === n.key) return true;
      n = key < n.key ? n.left : n.right;
    }
    return false;
  }

  /** A map with `key` set to `value`. Pass the transaction's owner to update its own nodes in place. */
  set(key: string, value: V, owner: Owner = {}): PMap<V> {
    const out = { added: false };
    const root = insert(this.root, key, value, owner, out);
    return new PMap(root, this.size + (out.added ? 1 : 0));
  }

  /** A map without `key` (the same map when absent). */
  delete(key: string, owner: Owner = {}): PMap<V> {
    const out = { removed: false };
    const root = remove(this.root, key, owner, out);
    return out.removed ? new PMap(root, this.size - 1) : this;
  }

  /** Entries in key order, starting at the first key ≥ `from` (all when omitted). */
  *entries(from?: string): Generator<[string, V]> {
    const stack: Node<V>[] = [];
    let n = this.root;
    // Descend to the lower bound, remembering the nodes whose subtrees are still to be visited.
    while (n) {
      if (from === undefined || n.key >= from) {
        stack.push(n);
        n = n.left;
      } else {
        n = n.right;
      }
    }
    while (stack.length) {
      const top = stack.pop()!;
      yield [top.key, top.value];
      n = top.right;
      while (n) {
        stack.push(n);
        n = n.left;
      }
    }
  }

  /** Entries whose key starts with `prefix`, in key order. */
  *prefix(prefix: string): Generator<[string, V]> {
    for (const e of this.entries(prefix)) {
      if (!e[0].startsWith(prefix)) return;
      yield e;
    }
  }

  /** Values in key order. */
  *values(): Generator<V> {
    for (const [, v] of this.entries()) yield v;
  }
}
