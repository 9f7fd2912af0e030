// Owns the validation shared by Cilium and Kubernetes objects: metadata, label selectors,
// port numbers and names, CIDRs.
import { SELECTOR_OPERATORS, canonicalPrefix, parsePrefix, prefixContains, PrefixSyntaxError, type LabelSelectorSpec } from '../../labels/index.js';
import { type JsonObject, type Validator, field, item } from './validator.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const SOURCE = /^[a-z0-9][a-z0-9-]*$/;

/** Kubernetes qualified-name check (label keys): `[prefix/]name`. Returns the problem or undefined. */
export function qualifiedNameProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return 'a label key has at most one "/"';
  const name = parts[parts.length - 1];
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME_PART.test(name)) {
    return 'a label key name must be 1-63 characters of letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  }
  if (parts.length === 2 && (parts[0].length > 253 || !DNS_SUBDOMAIN.test(parts[0]))) return 'a label key prefix must be a DNS subdomain';
  return undefined;
}

/** Kubernetes label-value check. Returns the problem or undefined. */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !QUALIFIED_NAME_PART.test(value)) {
    return 'a label value must be empty or 1-63 characters of letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  }
  return undefined;
}

/** Cilium selector-key check: `[source:]key`, both parts non-empty. Returns the problem or undefined. */
function ciliumKeyProblem(key: string): string | undefined {
  const colon = key.indexOf(':');
  if (colon >= 0 && !SOURCE.test(key.slice(0, colon))) return `the label source "${key.slice(0, colon)}" must be lower-case letters, digits and "-"`;
  if (key.slice(colon + 1) === '') return 'a label key must not be empty';
  return undefined;
}

/** IANA service name (named port) check, as Kubernetes and Cilium apply it. */
export function portNameProblem(name: string): string | undefined {
  if (name.length > 15) return 'a port name has at most 15 characters';
  if (!/^[a-z0-9-]+$/.test(name)) return 'a port name has only lower-case letters, digits and "-"';
  if (!/[a-z]/.test(name)) return 'a port name must contain at least one letter';
  if (name.startsWith('-') || name.endsWith('-') || name.includes('--')) return 'a port name must not start or end with "-" nor contain "--"';
  return undefined;
}

/**
 * Validates a label selector. With `kubernetes`, keys and values must be Kubernetes label
 * keys/values (no source prefix); otherwise keys may carry a Cilium source (`k8s:app`).
 */
export function labelSelector(v: Validator, value: unknown, path: string, kubernetes: boolean): LabelSelectorSpec | undefined {
  if (value === null) return {};
  const obj = v.object(value, path);
  if (!obj) return undefined;
  const before = v.errorCount;
  v.keys(obj, path, ['matchLabels', 'matchExpressions']);
  const keyProblem = (k: string): string | undefined => (kubernetes ? qualifiedNameProblem(k) : ciliumKeyProblem(k));
  let matchLabels: Record<string, string> | undefined;
  if (obj['matchLabels'] !== undefined && obj['matchLabels'] !== null) {
    const mlPath = field(path, 'matchLabels');
    matchLabels = v.stringMap(obj['matchLabels'], mlPath);
    for (const [k, val] of Object.entries(matchLabels ?? {})) {
      const kp = keyProblem(k);
      if (kp) v.fail(field(mlPath, k), kp);
      const vp = kubernetes ? labelValueProblem(val) : undefined;
      if (vp) v.fail(field(mlPath, k), vp);
    }
  }
  const matchExpressions: { key: string; operator: string; values?: string[] }[] = [];
  (v.optionalArray(obj, 'matchExpressions', path) ?? []).forEach((e, i) => {
    const ePath = item(field(path, 'matchExpressions'), i);
    const eo = v.object(e, ePath);
    if (!eo) return;
    v.keys(eo, ePath, ['key', 'operator', 'values']);
    const key = v.string(eo['key'], field(ePath, 'key'));
    const kp = key !== undefined ? keyProblem(key) : undefined;
    if (kp) v.fail(field(ePath, 'key'), kp);
    const op = v.string(eo['operator'], field(ePath, 'operator'));
    if (op !== undefined && !(SELECTOR_OPERATORS as readonly string[]).includes(op)) {
      v.fail(field(ePath, 'operator'), `expected one of ${SELECTOR_OPERATORS.join(', ')}, got "${op}"`);
    }
    const values = (v.optionalArray(eo, 'values', ePath) ?? []).map((x, j) => v.string(x, item(field(ePath, 'values'), j)));
    if ((op === 'In' || op === 'NotIn') && values.length === 0) v.fail(field(ePath, 'values'), `operator ${op} needs at least one value`);
    if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0) v.fail(field(ePath, 'values'), `operator ${op} takes no values`);
    if (key !== undefined && op !== undefined) matchExpressions.push({ key, operator: op, values: values.filter((x): x is string => x !== undefined) });
  });
  if (v.errorCount > before) return undefined;
  return { ...(matchLabels ? { matchLabels } : {}), ...(matchExpressions.length > 0 ? { matchExpressions } : {}) };
}

/**
 * Validates a CIDR and returns it canonical. With `allowBareAddress`, `10.0.0.1` means /32
 * (Cilium's fromCIDR); Kubernetes ipBlock requires the prefix length.
 */
export function cidr(v: Validator, value: unknown, path: string, allowBareAddress: boolean): string | undefined {
  const s = v.string(value, path);
  if (s === undefined) return undefined;
  try {
    return canonicalPrefix(s, { allowBareAddress });
  } catch (e) {
    if (e instanceof PrefixSyntaxError) return v.fail(path, `${e.message}; expected an IPv4 or IPv6 prefix like 10.0.0.0/8`);
    throw e;
  }
}

/**
 * Validates `except` prefixes of a CIDR: each must lie strictly inside `outer` (Kubernetes
 * rejects excepts outside or equal to the cidr; Cilia applies the same rule to CIDRSet).
 */
export function exceptCidrs(v: Validator, list: unknown[] | undefined, path: string, outer: string | undefined, allowBare: boolean): string[] {
  const out: string[] = [];
  (list ?? []).forEach((x, i) => {
    const p = cidr(v, x, item(path, i), allowBare);
    if (p === undefined) return;
    if (outer !== undefined) {
      const o = parsePrefix(outer);
      const e = parsePrefix(p);
      if (!prefixContains(o, e) || e.length === o.length) return v.fail(item(path, i), `${p} must be a strict subset of ${outer}`);
    }
    out.push(p);
  });
  return out;
}

/** Validated object metadata. */
export interface Metadata {
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
}

/**
 * Validates `metadata`: `name` (required, DNS subdomain), `namespace` (DNS label), `uid`.
 * Other metadata fields (labels, annotations, resourceVersion, ...) are accepted and ignored.
 */
export function metadata(v: Validator, obj: JsonObject): Metadata | undefined {
  const md = v.object(obj['metadata'] ?? undefined, 'metadata');
  if (!md) return undefined;
  const name = md['name'] === undefined ? v.fail('metadata.name', 'expected the object name') : v.string(md['name'], 'metadata.name');
  if (name !== undefined && (name.length > 253 || !DNS_SUBDOMAIN.test(name))) {
    v.fail('metadata.name', 'a name must be lower-case letters, digits, "-" and ".", starting and ending with a letter or digit');
  }
  let namespace: string | undefined;
  if (md['namespace'] !== undefined && md['namespace'] !== null) {
    namespace = v.string(md['namespace'], 'metadata.namespace');
    if (namespace !== undefined && (namespace.length > 63 || !DNS_LABEL.test(namespace))) {
      v.fail('metadata.namespace', 'a namespace must be at most 63 lower-case letters, digits and "-", starting and ending with a letter or digit');
    }
  }
  const uid = md['uid'] === undefined ? undefined : v.string(md['uid'], 'metadata.uid');
  if (name === undefined) return undefined;
  return { name, ...(namespace !== undefined ? { namespace } : {}), ...(uid !== undefined ? { uid } : {}) };
}
