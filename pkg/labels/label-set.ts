// Owns LabelSet: the canonical, immutable set of labels an identity is allocated for.
import { type Label, type LabelSourceName, LabelSource, formatLabel, formatLabelForKey, label, parseLabel } from './label.js';

function compareLabels(a: Label, b: Label): number {
  // Sorted by key first, as Cilium's SortedList (the kvstore identity key) is; the source breaks ties.
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  if (a.source !== b.source) return a.source < b.source ? -1 : 1;
  return 0;
}

/**
 * An immutable set of labels, unique by (source, key), kept sorted by key then source.
 * `key` is a stable string (Cilium's `source:key=value;` list) on which identity allocation keys:
 * two sets with the same labels have the same key whatever order they were built in.
 */
export class LabelSet implements Iterable<Label> {
  /** The empty set. */
  static readonly empty = new LabelSet([]);

  readonly #labels: readonly Label[];
  readonly #key: string;
  /** Labels by key: selectors look labels up by key on every match, so this must be fast. */
  readonly #byKey = new Map<string, Label[]>();

  private constructor(sorted: readonly Label[]) {
    this.#labels = Object.freeze(sorted);
    this.#key = sorted.map(formatLabelForKey).join('');
    for (const l of sorted) {
      const list = this.#byKey.get(l.key);
      if (list) list.push(l);
      else this.#byKey.set(l.key, [l]);
    }
  }

  /** Builds a set from labels; for a repeated (source, key) the last value wins. */
  static of(labels: Iterable<Label>): LabelSet {
    const byId = new Map<string, Label>();
    for (const l of labels) byId.set(`${l.source}\0${l.key}`, l);
    return new LabelSet([...byId.values()].sort(compareLabels));
  }

  /**
   * Parses label texts (`[source:]key[=value]`); texts without a source get `defaultSource`
   * (default `unspec`, as Cilium). Throws LabelSyntaxError on a malformed text.
   */
  static parse(texts: Iterable<string>, defaultSource: LabelSourceName = LabelSource.Unspec): LabelSet {
    return LabelSet.of([...texts].map((t) => parseLabel(t, defaultSource)));
  }

  /** Builds a set from a `{key: value}` record, every label with the given source. */
  static fromRecord(record: Readonly<Record<string, string>>, source: LabelSourceName): LabelSet {
    return LabelSet.of(Object.entries(record).map(([k, v]) => label(source, k, v)));
  }

  /** Rebuilds a set from its `key` string. Throws LabelSyntaxError on malformed input. */
  static fromKey(key: string): LabelSet {
    const parts = key.split(';').filter((p) => p !== '');
    return LabelSet.of(parts.map((p) => parseLabel(p)));
  }

  /** The stable identity key: `source:key=value;` for each label, in canonical order. */
  get key(): string {
    return this.#key;
  }

  /** The labels in canonical order. */
  get labels(): readonly Label[] {
    return this.#labels;
  }

  /** Number of labels. */
  get size(): number {
    return this.#labels.length;
  }

  [Symbol.iterator](): Iterator<Label> {
    return this.#labels[Symbol.iterator]();
  }

  /**
   * The labels with this key whose source matches: `any` matches every source (the selector
   * rule of Cilium's LabelArray.Has/Get).
   */
  find(source: LabelSourceName, key: string): readonly Label[] {
    const list = this.#byKey.get(key);
    if (!list) return [];
    return source === LabelSource.Any ? list : list.filter((l) => l.source === source);
  }

  /** Whether a label with this key (and matching source, `any` = every source) is present. */
  has(source: LabelSourceName, key: string): boolean {
    const list = this.#byKey.get(key);
    return list !== undefined && (source === LabelSource.Any || list.some((l) => l.source === source));
  }

  /** The value of the label (source, key) or undefined; with source `any`, the first one found. */
  get(source: LabelSourceName, key: string): string | undefined {
    return this.find(source, key)[0]?.value;
  }

  /** A new set with the labels of both; on a repeated (source, key) the other set wins. */
  union(other: Iterable<Label>): LabelSet {
    return LabelSet.of([...this.#labels, ...other]);
  }

  /** Whether both sets hold exactly the same labels. */
  equals(other: LabelSet): boolean {
    return this.#key === other.#key;
  }

  /** The labels formatted as `source:key[=value]`, in canonical order (Cilium's GetModel). */
  toStrings(): string[] {
    return this.#labels.map(formatLabel);
  }

  /** The labels formatted and joined by ',' — for humans, not a key. */
  toString(): string {
    return this.toStrings().join(',');
  }
}
