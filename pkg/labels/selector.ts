// Owns EndpointSelector: a Kubernetes label selector whose keys carry a Cilium label source.
import { type Label, type LabelSourceName, LabelSource } from './label.js';
import type { LabelSet } from './label-set.js';

/** The four Kubernetes label-selector operators. */
export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

/** The operators, for validation. */
export const SELECTOR_OPERATORS: readonly SelectorOperator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

/** One requirement on the labels with `key` whose source matches `source` (`any` = every source). */
export interface Requirement {
  readonly source: LabelSourceName;
  readonly key: string;
  readonly operator: SelectorOperator;
  /** Sorted and de-duplicated; non-empty for In/NotIn, empty for Exists/DoesNotExist. */
  readonly values: readonly string[];
}

/** The wire form of a Kubernetes LabelSelector (as found in policies). */
export interface LabelSelectorSpec {
  matchLabels?: Readonly<Record<string, string>>;
  matchExpressions?: readonly { key: string; operator: string; values?: readonly string[] }[];
}

/** Thrown when a selector is built from an invalid requirement (bad operator or values). */
export class InvalidSelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidSelectorError';
  }
}

/**
 * Splits a selector key into source and key: `k8s:app` → (k8s, app); a key without a source
 * matches any source: `app` → (any, app), as Cilium's GetExtendedKeyFrom does.
 */
export function splitSelectorKey(text: string, defaultSource: LabelSourceName = LabelSource.Any): { source: string; key: string } {
  const colon = text.indexOf(':');
  if (colon < 0) return { source: defaultSource, key: text };
  return { source: text.slice(0, colon), key: text.slice(colon + 1) };
}

function requirementText(r: Requirement): string {
  const k = `${r.source}:${r.key}`;
  if (r.operator === 'Exists') return k;
  if (r.operator === 'DoesNotExist') return `!${k}`;
  if (r.operator === 'In' && r.values.length === 1) return `${k}=${r.values[0]}`;
  return `${k} ${r.operator === 'In' ? 'in' : 'notin'} (${r.values.join(',')})`;
}

function normalize(r: Requirement): Requirement {
  const needsValues = r.operator === 'In' || r.operator === 'NotIn';
  if (!SELECTOR_OPERATORS.includes(r.operator)) throw new InvalidSelectorError(`unknown operator "${String(r.operator)}"`);
  if (r.key === '') throw new InvalidSelectorError('a selector key is empty');
  if (needsValues && r.values.length === 0) throw new InvalidSelectorError(`operator ${r.operator} on "${r.key}" needs at least one value`);
  if (!needsValues && r.values.length > 0) throw new InvalidSelectorError(`operator ${r.operator} on "${r.key}" takes no values`);
  return Object.freeze({ source: r.source, key: r.key, operator: r.operator, values: Object.freeze([...new Set(r.values)].sort()) });
}

function matchesRequirement(r: Requirement, labels: LabelSet): boolean {
  const candidates: readonly Label[] = labels.find(r.source, r.key);
  switch (r.operator) {
    case 'Exists':
      return candidates.length > 0;
    case 'DoesNotExist':
      return candidates.length === 0;
    case 'In':
      return candidates.some((l) => r.values.includes(l.value));
    case 'NotIn':
      // Kubernetes: NotIn also matches when the key is absent.
      return !candidates.some((l) => r.values.includes(l.value));
  }
}

/**
 * An immutable endpoint selector: the AND of its requirements. The empty selector is the
 * wildcard and matches every label set (every identity, reserved ones included).
 *
 * Matching follows Cilium: a requirement with source `any` looks at labels of every source with
 * that key, otherwise only at labels of exactly that source. When several labels share the key
 * (different sources), In matches if any of them has a listed value and NotIn if none has.
 */
export class EndpointSelector {
  /** The selector that matches everything. */
  static readonly wildcard = new EndpointSelector([]);

  readonly requirements: readonly Requirement[];
  /** Canonical text: equal for selectors that express the same requirements. Registry key. */
  readonly key: string;

  private constructor(requirements: readonly Requirement[]) {
    const byText = new Map<string, Requirement>();
    for (const r of requirements.map(normalize)) byText.set(requirementText(r), r);
    const sorted = [...byText.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.requirements = Object.freeze(sorted.map(([, r]) => r));
    this.key = sorted.map(([t]) => t).join(', ');
  }

  /** Builds a selector from requirements. Throws InvalidSelectorError on a malformed one. */
  static of(requirements: Iterable<Requirement>): EndpointSelector {
    return new EndpointSelector([...requirements]);
  }

  /** A selector requiring each label exactly (source included), like Cilium's NewESFromLabels. */
  static fromLabels(...labels: Label[]): EndpointSelector {
    return new EndpointSelector(labels.map((l) => ({ source: l.source, key: l.key, operator: 'In' as const, values: [l.value] })));
  }

  /**
   * Builds a selector from a Kubernetes LabelSelector. `splitKey` turns each written key into
   * (source, key); the default gives keys without a source the `any` source (Cilium policies).
   * Kubernetes NetworkPolicy translation passes its own (source `k8s`, namespace-label prefix).
   * Throws InvalidSelectorError on an unknown operator or wrong values.
   */
  static fromLabelSelector(
    spec: LabelSelectorSpec,
    splitKey: (written: string) => { source: string; key: string } = (k) => splitSelectorKey(k),
  ): EndpointSelector {
    const reqs: Requirement[] = [];
    for (const [k, v] of Object.entries(spec.matchLabels ?? {})) reqs.push({ ...splitKey(k), operator: 'In', values: [v] });
    for (const e of spec.matchExpressions ?? []) {
      reqs.push({ ...splitKey(e.key), operator: e.operator as SelectorOperator, values: e.values ?? [] });
    }
    return new EndpointSelector(reqs);
  }

  /** Whether this is the wildcard (no requirement at all). */
  get isWildcard(): boolean {
    return this.requirements.length === 0;
  }

  /** Whether the labels satisfy every requirement. */
  matches(labels: LabelSet): boolean {
    return this.requirements.every((r) => matchesRequirement(r, labels));
  }

  /** A new selector with the extra requirements added (AND). */
  and(...extra: Requirement[]): EndpointSelector {
    return new EndpointSelector([...this.requirements, ...extra]);
  }

  /** A new selector without the requirements for which `drop` returns true. */
  without(drop: (r: Requirement) => boolean): EndpointSelector {
    return new EndpointSelector(this.requirements.filter((r) => !drop(r)));
  }

  /** Whether some requirement is about `key` with one of the given sources. */
  hasKey(key: string, sources: readonly LabelSourceName[]): boolean {
    return this.requirements.some((r) => r.key === key && sources.includes(r.source));
  }

  /** Whether some requirement's key starts with `prefix` with one of the given sources. */
  hasKeyPrefix(prefix: string, sources: readonly LabelSourceName[]): boolean {
    return this.requirements.some((r) => r.key.startsWith(prefix) && sources.includes(r.source));
  }

  /** Whether some requirement uses the given source. */
  hasSource(source: LabelSourceName): boolean {
    return this.requirements.some((r) => r.source === source);
  }

  /** The canonical text, `{}` for the wildcard. */
  toString(): string {
    return this.isWildcard ? '{}' : `{${this.key}}`;
  }
}
