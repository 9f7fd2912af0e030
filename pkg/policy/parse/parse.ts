// Owns reading policy text: YAML or JSON, one object, a multi-document stream, a `kind: List`,
// or an array of bare Cilium rules, into translated policy objects plus the other objects.
import { YamlSyntaxError, parseDocuments } from '../../manifest/index.js';
import { DEFAULT_CLUSTER_NAME, LabelSet } from '../../labels/index.js';
import { PolicyParseError, PolicyValidationError } from '../errors.js';
import { translateCiliumRule } from '../rules/cilium.js';
import { translateNetworkPolicy } from '../rules/kubernetes.js';
import { type PolicyObject, type Rule, formatRuleRef } from '../rules/model.js';
import type { CiliumRuleSpec } from '../rules/api.js';
import { ciliumPolicySpecs, ciliumRule } from './cilium.js';
import { metadata } from './common.js';
import { networkPolicySpec } from './kubernetes.js';
import { type JsonObject, Validator, item } from './validator.js';

/** Options of parsePolicies. */
export interface ParseOptions {
  /** Namespace of namespaced objects that do not name one (kubectl's -n). Default `default`. */
  defaultNamespace?: string;
  /** Cluster name the `cluster` entity refers to. Default `default`. */
  clusterName?: string;
}

/** A non-policy object found in the input (Namespace, Service, EndpointSlice, ...), untouched. */
export interface OtherObject {
  /** Index of the YAML document (or JSON text) it came from. */
  readonly document: number;
  /** Its position inside the document: '' for the document itself, `items[2]`, `[0]`. */
  readonly path: string;
  readonly apiVersion?: string;
  readonly kind: string;
  readonly object: JsonObject;
}

/** The result of parsePolicies. */
export interface ParsedInput {
  /** Policy objects, translated, in input order (bare rules grouped by their labels, see below). */
  readonly policies: PolicyObject[];
  readonly others: OtherObject[];
}

const RULE_KEYS = ['endpointSelector', 'nodeSelector', 'ingress', 'ingressDeny', 'egress', 'egressDeny'];
const CILIUM_API_VERSION = 'cilium.io/v2';
const NETWORKING_API_VERSION = 'networking.k8s.io/v1';

/** Mutable state of one parsePolicies call. */
class ParseRun {
  readonly errors: PolicyValidationError[] = [];
  readonly policies: PolicyObject[] = [];
  readonly others: OtherObject[] = [];
  readonly bareRules = new Map<string, Rule[]>();
  readonly seen = new Map<string, string>();

  constructor(readonly opts: Required<ParseOptions>) {}

  add(v: Validator, policy: PolicyObject, where: string): void {
    const id = formatRuleRef(policy);
    const previous = this.seen.get(id);
    if (previous !== undefined) {
      v.fail('metadata.name', `${id} is defined twice in the input (also at ${previous})`);
      return;
    }
    this.seen.set(id, where);
    this.policies.push(policy);
  }

  value(value: unknown, document: number, base: string, allowArray: boolean): void {
    if (value === null || value === undefined) return;
    if (Array.isArray(value) && allowArray) {
      value.forEach((x, i) => this.value(x, document, item(base, i), false));
      return;
    }
    const v = new Validator(this.errors, document, base);
    const obj = v.object(value, '');
    if (!obj) return;
    if (obj['kind'] === undefined) {
      if (RULE_KEYS.some((k) => k in obj)) this.bareRule(v, obj);
      else v.fail('', 'expected a Kubernetes object (apiVersion, kind), a List, or Cilium rules (objects with endpointSelector)');
      return;
    }
    const kind = v.string(obj['kind'], 'kind');
    const apiVersion = typeof obj['apiVersion'] === 'string' ? obj['apiVersion'] : undefined;
    if (kind === undefined) return;
    if (kind.endsWith('List') && Array.isArray(obj['items'])) {
      (obj['items'] as unknown[]).forEach((x, i) => this.value(x, document, base === '' ? `items[${i}]` : `${base}.items[${i}]`, false));
      return;
    }
    switch (kind) {
      case 'CiliumNetworkPolicy':
      case 'CiliumClusterwideNetworkPolicy':
        return this.ciliumPolicy(v, obj, kind, apiVersion, document, base);
      case 'NetworkPolicy':
        return this.networkPolicy(v, obj, apiVersion, document, base);
      default:
        this.others.push({ document, path: base, ...(apiVersion !== undefined ? { apiVersion } : {}), kind, object: obj });
    }
  }

  where(document: number, base: string): string {
    return `document ${document}${base === '' ? '' : ` ${base}`}`;
  }

  checkApiVersion(v: Validator, apiVersion: string | undefined, want: string): void {
    if (apiVersion !== want) v.fail('apiVersion', `expected ${want}, got ${apiVersion === undefined ? 'nothing' : `"${apiVersion}"`}`);
  }

  ciliumPolicy(v: Validator, obj: JsonObject, kind: 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy', apiVersion: string | undefined, document: number, base: string): void {
    const before = v.errorCount;
    v.keys(obj, '', ['apiVersion', 'kind', 'metadata', 'spec', 'specs', 'status']);
    this.checkApiVersion(v, apiVersion, CILIUM_API_VERSION);
    const md = metadata(v, obj);
    // A cluster-wide object has no namespace; like the API server, ignore one if written.
    const namespace = kind === 'CiliumNetworkPolicy' ? (md?.namespace ?? this.opts.defaultNamespace) : '';
    if (md) v.objectName = formatRuleRef({ kind, namespace, name: md.name });
    const specs = ciliumPolicySpecs(v, obj);
    if (!md || v.errorCount > before) return;
    const ctx = { kind, namespace, name: md.name, clusterName: this.opts.clusterName, ...(md.uid !== undefined ? { uid: md.uid } : {}) };
    const rules = specs.map((s) => translateCiliumRule(s, ctx));
    this.add(v, { kind, namespace, name: md.name, ...(md.uid !== undefined ? { uid: md.uid } : {}), rules }, this.where(document, base));
  }

  networkPolicy(v: Validator, obj: JsonObject, apiVersion: string | undefined, document: number, base: string): void {
    const before = v.errorCount;
    v.keys(obj, '', ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
    this.checkApiVersion(v, apiVersion, NETWORKING_API_VERSION);
    const md = metadata(v, obj);
    const namespace = md?.namespace ?? this.opts.defaultNamespace;
    if (md) v.objectName = formatRuleRef({ kind: 'NetworkPolicy', namespace, name: md.name });
    const spec = networkPolicySpec(v, obj);
    if (!md || !spec || v.errorCount > before) return;
    const rule = translateNetworkPolicy(spec, { namespace, name: md.name, ...(md.uid !== undefined ? { uid: md.uid } : {}) });
    this.add(v, { kind: 'NetworkPolicy', namespace, name: md.name, ...(md.uid !== undefined ? { uid: md.uid } : {}), rules: [rule] }, this.where(document, base));
  }

  bareRule(v: Validator, obj: JsonObject): void {
    const spec: CiliumRuleSpec | undefined = ciliumRule(v, obj, '');
    if (!spec) return;
    // Bare rules have no name; like `cilium policy import`, they are identified by their labels.
    const name = LabelSet.of(spec.labels).toString();
    // Origins are paths inside the input: prefix the rule's position (`[3]`) to its sections.
    const at = (o: string): string => (v.base === '' ? o : `${v.base}.${o}`);
    const prefixed = (sections: CiliumRuleSpec['ingress']): CiliumRuleSpec['ingress'] => sections.map((s) => ({ ...s, origin: at(s.origin) }));
    const located: CiliumRuleSpec = {
      ...spec,
      origin: v.base,
      ingress: prefixed(spec.ingress),
      ingressDeny: prefixed(spec.ingressDeny),
      egress: prefixed(spec.egress),
      egressDeny: prefixed(spec.egressDeny),
    };
    const rule = translateCiliumRule(located, { kind: 'CiliumRules', namespace: '', name, clusterName: this.opts.clusterName });
    const group = this.bareRules.get(name);
    if (group) group.push(rule);
    else {
      const rules = [rule];
      this.bareRules.set(name, rules);
      this.policies.push({ kind: 'CiliumRules', namespace: '', name, rules });
    }
  }
}

/**
 * Parses policy text (YAML or JSON). Accepted shapes, freely mixed in a multi-document stream:
 * CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy (cilium.io/v2, `spec` and/or `specs`),
 * NetworkPolicy (networking.k8s.io/v1), `kind: List` (or `*List`) of those, a JSON/YAML array of
 * bare Cilium rules (the `cilium policy import` format; one rule alone is accepted too), and any
 * other Kubernetes object, returned untouched in `others`.
 *
 * Bare rules become CiliumRules policy objects, one per distinct rule-label set (the name is the
 * labels, `''` when unlabelled), not namespace-scoped — as rules imported through Cilium's API.
 * Empty input gives an empty result.
 *
 * Throws PolicyParseError listing every problem (YAML syntax, unknown or unsupported fields,
 * wrong types, invalid values, duplicates) when there is at least one; nothing is returned then.
 */
export function parsePolicies(text: string, opts: ParseOptions = {}): ParsedInput {
  const run = new ParseRun({ defaultNamespace: opts.defaultNamespace ?? 'default', clusterName: opts.clusterName ?? DEFAULT_CLUSTER_NAME });
  let docs: unknown[] = [];
  try {
    docs = parseDocuments(text);
  } catch (err) {
    if (!(err instanceof YamlSyntaxError)) throw err;
    run.errors.push(new PolicyValidationError('', `YAML/JSON syntax: ${err.message}`, err.document));
  }
  docs.forEach((doc, index) => {
    if (doc !== null && doc !== undefined) run.value(doc, index, '', true);
  });
  if (run.errors.length > 0) throw new PolicyParseError(run.errors);
  return { policies: run.policies, others: run.others };
}
