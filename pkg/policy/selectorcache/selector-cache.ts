// Owns the SelectorCache: which identities each policy selector selects, kept up to date
// incrementally as identities come and go.
import type { EndpointSelector, LabelSet } from '../../labels/index.js';

interface CachedSelector {
  readonly selector: EndpointSelector;
  refs: number;
  readonly selected: Set<number>;
}

/** An identity and its labels. */
export interface IdentityEntry {
  readonly id: number;
  readonly labels: LabelSet;
}

/**
 * Selections of registered selectors against the identity table. A selector is evaluated once
 * when registered (against every known identity); afterwards `upsertIdentity`/`deleteIdentity`
 * update every selection incrementally and return the keys of the selectors whose selection
 * changed, so that a caller recomputes only the endpoints whose policy used them (see
 * ResolvedPolicy.selectorKeys).
 *
 * Selectors are reference-counted by their canonical key: registering the same selector twice
 * needs two releases. Not thread-safe — JavaScript has one.
 */
export class SelectorCache {
  readonly #identities = new Map<number, LabelSet>();
  readonly #selectors = new Map<string, CachedSelector>();

  /** Creates a cache, optionally seeded with identities (e.g. reservedIdentities()). */
  constructor(identities: Iterable<IdentityEntry> = []) {
    for (const { id, labels } of identities) this.#identities.set(id, labels);
  }

  /**
   * Adds an identity or changes its labels. Returns the keys (sorted) of the selectors whose
   * selection changed; empty when nothing changed (e.g. same labels again).
   */
  upsertIdentity(id: number, labels: LabelSet): string[] {
    const previous = this.#identities.get(id);
    if (previous?.equals(labels)) return [];
    this.#identities.set(id, labels);
    const changed: string[] = [];
    for (const [key, c] of this.#selectors) {
      const now = c.selector.matches(labels);
      if (now === c.selected.has(id)) continue;
      if (now) c.selected.add(id);
      else c.selected.delete(id);
      changed.push(key);
    }
    return changed.sort();
  }

  /** Removes an identity. Returns the keys (sorted) of the selectors that had selected it. */
  deleteIdentity(id: number): string[] {
    if (!this.#identities.delete(id)) return [];
    const changed: string[] = [];
    for (const [key, c] of this.#selectors) if (c.selected.delete(id)) changed.push(key);
    return changed.sort();
  }

  /** Registers (or references once more) a selector and returns its key. */
  register(selector: EndpointSelector): string {
    const existing = this.#selectors.get(selector.key);
    if (existing) {
      existing.refs++;
      return selector.key;
    }
    this.#selectors.set(selector.key, { selector, refs: 1, selected: this.#evaluate(selector) });
    return selector.key;
  }

  /** Drops one reference to a selector; it is forgotten at zero. Returns whether it was registered. */
  release(selector: EndpointSelector | string): boolean {
    const key = typeof selector === 'string' ? selector : selector.key;
    const c = this.#selectors.get(key);
    if (!c) return false;
    if (--c.refs === 0) this.#selectors.delete(key);
    return true;
  }

  /**
   * The identities a selector selects. Registered selectors answer from the cache; others are
   * evaluated on the spot (same result, no incremental tracking). The set must not be modified.
   */
  selections(selector: EndpointSelector): ReadonlySet<number> {
    return this.#selectors.get(selector.key)?.selected ?? this.#evaluate(selector);
  }

  /** Whether a selector (or key) is registered. */
  isRegistered(selector: EndpointSelector | string): boolean {
    return this.#selectors.has(typeof selector === 'string' ? selector : selector.key);
  }

  /** Keys of the registered selectors, sorted. */
  registeredKeys(): string[] {
    return [...this.#selectors.keys()].sort();
  }

  /** Reference count of a registered selector (0 when not registered). */
  refCount(selector: EndpointSelector | string): number {
    return this.#selectors.get(typeof selector === 'string' ? selector : selector.key)?.refs ?? 0;
  }

  /** The labels of an identity, or undefined. */
  labelsOf(id: number): LabelSet | undefined {
    return this.#identities.get(id);
  }

  /** Every known identity with its labels (read-only view). */
  identities(): ReadonlyMap<number, LabelSet> {
    return this.#identities;
  }

  #evaluate(selector: EndpointSelector): Set<number> {
    const out = new Set<number>();
    for (const [id, labels] of this.#identities) if (selector.matches(labels)) out.add(id);
    return out;
  }
}
