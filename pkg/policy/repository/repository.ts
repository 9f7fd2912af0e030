// Owns the policy Repository: the set of policy objects in force, with a revision that grows on
// every change.
import { parsePrefix } from '../../labels/index.js';
import type { SelectorCache } from '../selectorcache/index.js';
import type { Clause, PolicyKey, PolicyObject, Rule } from '../rules/model.js';

const keyOf = (k: PolicyKey): string => `${k.kind}\0${k.namespace}\0${k.name}`;

function* clauses(rule: Rule): Generator<Clause> {
  yield* rule.ingress;
  yield* rule.ingressDeny;
  yield* rule.egress;
  yield* rule.egressDeny;
}

function* peerSelectors(policy: PolicyObject) {
  for (const rule of policy.rules) for (const c of clauses(rule)) yield* c.peers;
}

/** Options of Repository. */
export interface RepositoryOptions {
  /**
   * When given, the peer selectors of stored rules are kept registered in this cache (registered
   * on upsert, released on replace/delete), so their selections are tracked incrementally.
   */
  selectorCache?: SelectorCache;
}

/**
 * The policy objects in force, keyed by (kind, namespace, name), in insertion order. Every
 * mutation that changes something increments `revision` (starting at 0) and returns it; a
 * delete of something absent changes nothing and returns the current revision.
 */
export class Repository {
  readonly #policies = new Map<string, PolicyObject>();
  readonly #cache: SelectorCache | undefined;
  #revision = 0;
  /** Flattened rules, rebuilt lazily after a change (resolve() reads them once per endpoint). */
  #rules: readonly Rule[] | undefined;

  constructor(opts: RepositoryOptions = {}) {
    this.#cache = opts.selectorCache;
  }

  /** The current revision. */
  get revision(): number {
    return this.#revision;
  }

  /** Adds the policies, replacing those with the same key, as one change. Returns the new revision. */
  upsert(...policies: PolicyObject[]): number {
    if (policies.length === 0) return this.#revision;
    for (const p of policies) {
      // Register the new selectors before releasing the old ones, so that selectors shared by
      // both versions keep their cached selection.
      if (this.#cache) for (const s of peerSelectors(p)) this.#cache.register(s);
      const k = keyOf(p);
      const old = this.#policies.get(k);
      if (old) this.#release(old);
      this.#policies.set(k, p);
    }
    return this.#changed();
  }

  /** Deletes the policy with this key. Returns the new revision (unchanged when absent). */
  delete(key: PolicyKey): number {
    const k = keyOf(key);
    const old = this.#policies.get(k);
    if (!old) return this.#revision;
    this.#policies.delete(k);
    this.#release(old);
    return this.#changed();
  }

  /** Deletes every policy. Returns the new revision (unchanged when already empty). */
  deleteAll(): number {
    if (this.#policies.size === 0) return this.#revision;
    for (const p of this.#policies.values()) this.#release(p);
    this.#policies.clear();
    return this.#changed();
  }

  /** The policy with this key, or undefined. */
  get(key: PolicyKey): PolicyObject | undefined {
    return this.#policies.get(keyOf(key));
  }

  /** Every policy, in insertion order (a replaced policy keeps its place). */
  list(): PolicyObject[] {
    return [...this.#policies.values()];
  }

  /** Every rule of every policy, in policy order. The array must not be modified. */
  rules(): readonly Rule[] {
    this.#rules ??= this.list().flatMap((p) => [...p.rules]);
    return this.#rules;
  }

  /**
   * Every CIDR prefix the rules reference (cidrs and their excepts), canonical, de-duplicated,
   * IPv4 before IPv6, by address then length. The identity cell allocates one CIDR identity per
   * prefix with cidrLabels(prefix) and upserts it into the selector cache before resolving.
   */
  referencedPrefixes(): string[] {
    const set = new Set<string>();
    for (const r of this.rules()) for (const c of clauses(r)) for (const p of c.prefixes) set.add(p);
    return [...set]
      .map((text) => ({ text, p: parsePrefix(text) }))
      .sort((a, b) => a.p.family - b.p.family || (a.p.address < b.p.address ? -1 : a.p.address > b.p.address ? 1 : a.p.length - b.p.length))
      .map((x) => x.text);
  }

  #changed(): number {
    this.#rules = undefined;
    return ++this.#revision;
  }

  #release(p: PolicyObject): void {
    if (this.#cache) for (const s of peerSelectors(p)) this.#cache.release(s);
  }
}
