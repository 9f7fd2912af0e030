// Owns the single Cilium label: `source:key=value`, its parsing and its canonical text form.

/** Well-known label sources (the part before the first `:`), as in Cilium's pkg/labels. */
export const LabelSource = {
  /** Matches a label of any source; only meaningful in selectors. */
  Any: 'any',
  /** A label given without a source outside a selector (Cilium's `unspec`). */
  Unspec: 'unspec',
  /** Labels of Kubernetes-like objects: pod labels, namespace metadata, policy labels. */
  K8s: 'k8s',
  /** Labels of the reserved identities (`reserved:host`, `reserved:world`, ...). */
  Reserved: 'reserved',
  /** Labels of CIDR identities (`cidr:10.0.0.0/8`). */
  Cidr: 'cidr',
  /** Labels taken from the container runtime. */
  Container: 'container',
} as const;

/** A label source name; any lower-case word is accepted, the constants above are the known ones. */
export type LabelSourceName = string;

/** One label. `value` is '' for value-less labels such as `reserved:host`. Immutable by convention. */
export interface Label {
  readonly source: LabelSourceName;
  readonly key: string;
  readonly value: string;
}

/** Thrown by the parse functions of this package when a label or selector text is malformed. */
export class LabelSyntaxError extends Error {
  constructor(readonly text: string, reason: string) {
    super(`invalid label "${text}": ${reason}`);
    this.name = 'LabelSyntaxError';
  }
}

const SOURCE_RE = /^[a-z0-9][a-z0-9-]*$/;

/** Creates a label; `value` defaults to ''. Throws LabelSyntaxError on an empty key or a malformed source. */
export function label(source: LabelSourceName, key: string, value = ''): Label {
  if (!SOURCE_RE.test(source)) throw new LabelSyntaxError(`${source}:${key}`, `source "${source}" must be lower-case letters, digits and '-'`);
  if (key === '') throw new LabelSyntaxError(`${source}:`, 'the key is empty');
  return Object.freeze({ source, key, value });
}

/**
 * Splits `[source:]key[=value]` into its parts. The source is the text before the first `:` that
 * comes before any `=` (so `app=a:b` has no source and the value `a:b`, unlike Cilium which would
 * take `app=a` as the source). Cilium's short form `$host` means `reserved:host`.
 * Returns source `undefined` when none was written.
 */
function splitLabelText(text: string): { source: string | undefined; key: string; value: string } {
  if (text.startsWith('$')) return { source: LabelSource.Reserved, key: text.slice(1), value: '' };
  const eq = text.indexOf('=');
  const colon = text.indexOf(':');
  let source: string | undefined;
  let rest = text;
  if (colon >= 0 && (eq < 0 || colon < eq)) {
    source = text.slice(0, colon);
    rest = text.slice(colon + 1);
  }
  const restEq = rest.indexOf('=');
  if (restEq < 0) return { source, key: rest, value: '' };
  return { source, key: rest.slice(0, restEq), value: rest.slice(restEq + 1) };
}

/**
 * Parses an endpoint label `[source:]key[=value]`. A label written without a source gets
 * `defaultSource`, which is `unspec` as in Cilium's ParseLabel; callers that turn user-given pod
 * labels into identity labels pass `k8s` (see podIdentityLabels) because Kubernetes
 * NetworkPolicy selectors only match `k8s:` labels.
 * Throws LabelSyntaxError when the key is empty or the source malformed.
 */
export function parseLabel(text: string, defaultSource: LabelSourceName = LabelSource.Unspec): Label {
  const { source, key, value } = splitLabelText(text.trim());
  if (key === '') throw new LabelSyntaxError(text, 'the key is empty');
  return label(source ?? defaultSource, key, value);
}

/**
 * Parses a selecting label: like parseLabel, but a label written without a source matches any
 * source (`any:`), as in Cilium's ParseSelectLabel.
 */
export function parseSelectLabel(text: string): Label {
  return parseLabel(text, LabelSource.Any);
}

/** Formats a label as `source:key=value`, or `source:key` when the value is empty (Cilium's String()). */
export function formatLabel(l: Label): string {
  return l.value === '' ? `${l.source}:${l.key}` : `${l.source}:${l.key}=${l.value}`;
}

/**
 * Formats a label as Cilium's kvstore form `source:key=value;` (always with `=` and the trailing
 * `;`). Identity allocation keys on the concatenation of these, so the format must never change.
 */
export function formatLabelForKey(l: Label): string {
  return `${l.source}:${l.key}=${l.value};`;
}
