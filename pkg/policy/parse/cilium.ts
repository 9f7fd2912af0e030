// Owns the validation of Cilium rules (the `spec`/`specs` of CiliumNetworkPolicy and
// CiliumClusterwideNetworkPolicy, and bare rules) into CiliumRuleSpec.
import { ENTITIES, UNSUPPORTED_ENTITIES, LabelSyntaxError, parseLabel, label, type Entity, type Label } from '../../labels/index.js';
import type { CiliumCidrRule, CiliumPeers, CiliumPortProtocol, CiliumProtocol, CiliumRuleSpec, CiliumSection } from '../rules/api.js';
import { cidr, exceptCidrs, labelSelector, portNameProblem } from './common.js';
import { type JsonObject, type Validator, field, item } from './validator.js';

type SectionKind = 'ingress' | 'ingressDeny' | 'egress' | 'egressDeny';

/** Per section kind: its peer field names and the valid Cilium fields Cilia does not implement. */
const SECTIONS: Record<SectionKind, { peer: { endpoints: string; cidr: string; cidrSet: string; entities: string }; unsupported: string[]; deny: boolean }> = {
  ingress: {
    peer: { endpoints: 'fromEndpoints', cidr: 'fromCIDR', cidrSet: 'fromCIDRSet', entities: 'fromEntities' },
    unsupported: ['fromRequires', 'fromGroups', 'fromNodes', 'icmps', 'authentication'],
    deny: false,
  },
  ingressDeny: {
    peer: { endpoints: 'fromEndpoints', cidr: 'fromCIDR', cidrSet: 'fromCIDRSet', entities: 'fromEntities' },
    unsupported: ['fromRequires', 'fromGroups', 'fromNodes', 'icmps'],
    deny: true,
  },
  egress: {
    peer: { endpoints: 'toEndpoints', cidr: 'toCIDR', cidrSet: 'toCIDRSet', entities: 'toEntities' },
    unsupported: ['toRequires', 'toServices', 'toFQDNs', 'toGroups', 'toNodes', 'icmps', 'authentication'],
    deny: false,
  },
  egressDeny: {
    peer: { endpoints: 'toEndpoints', cidr: 'toCIDR', cidrSet: 'toCIDRSet', entities: 'toEntities' },
    unsupported: ['toRequires', 'toServices', 'toGroups', 'toNodes', 'icmps'],
    deny: true,
  },
};

/** Fields of a Rule that Cilia does not implement. */
const UNSUPPORTED_RULE_FIELDS = ['nodeSelector', 'log'];
/** Fields of a PortRule that need the L7 proxy or TLS interception, which Cilia does not have. */
const UNSUPPORTED_PORT_RULE_FIELDS = ['rules', 'terminatingTLS', 'originatingTLS', 'serverNames', 'listener'];
/** Cilium's limit of ports per PortRule. */
const MAX_PORTS = 40;
const PROTOCOLS: readonly string[] = ['TCP', 'UDP', 'SCTP', 'ANY'];
const UNSUPPORTED_PROTOCOLS: readonly string[] = ['ICMP', 'ICMPV6', 'VRRP', 'IGMP'];

function portProtocol(v: Validator, value: unknown, path: string): CiliumPortProtocol | undefined {
  const o = v.object(value, path);
  if (!o) return undefined;
  v.keys(o, path, ['port', 'endPort', 'protocol']);
  let protocol: CiliumProtocol = 'ANY';
  if (o['protocol'] !== undefined && o['protocol'] !== '') {
    const p = v.string(o['protocol'], field(path, 'protocol'))?.toUpperCase();
    if (p !== undefined && UNSUPPORTED_PROTOCOLS.includes(p)) v.unsupported(field(path, 'protocol'), `protocol ${p}`);
    else if (p !== undefined && !PROTOCOLS.includes(p)) v.fail(field(path, 'protocol'), `expected TCP, UDP, SCTP or ANY, got "${p}"`);
    else if (p !== undefined) protocol = p as CiliumProtocol;
  }
  // Cilium's port is a string: a number ("0" or "" = every port) or a named port. A YAML
  // integer is accepted too.
  let port: number | string | undefined = 0;
  const raw = o['port'];
  const pPath = field(path, 'port');
  if (typeof raw === 'number') port = v.integer(raw, pPath, 0, 65535);
  else if (raw === undefined || raw === '') port = 0;
  else if (typeof raw !== 'string') port = v.fail(pPath, 'expected a port number (0-65535) or a port name');
  else if (/^[0-9]+$/.test(raw)) port = Number(raw) <= 65535 ? Number(raw) : v.fail(pPath, `expected a port number from 0 to 65535, got "${raw}"`);
  else {
    const problem = portNameProblem(raw);
    port = problem ? v.fail(pPath, `"${raw}" is neither a port number nor a valid port name: ${problem}`) : raw;
  }
  let endPort: number | undefined;
  if (o['endPort'] !== undefined && o['endPort'] !== null && o['endPort'] !== 0) {
    endPort = v.integer(o['endPort'], field(path, 'endPort'), 1, 65535);
    if (endPort !== undefined && typeof port === 'string') return v.fail(field(path, 'endPort'), 'endPort cannot be used with a named port');
    if (endPort !== undefined && port === 0) return v.fail(field(path, 'endPort'), 'endPort needs a non-zero port');
    if (endPort !== undefined && typeof port === 'number' && endPort < port) return v.fail(field(path, 'endPort'), `endPort ${endPort} is below port ${port}`);
  }
  if (port === undefined) return undefined;
  return { port, protocol, ...(endPort !== undefined && endPort !== port ? { endPort } : {}) };
}

function toPorts(v: Validator, list: unknown[] | undefined, path: string, deny: boolean): CiliumPortProtocol[] {
  const out: CiliumPortProtocol[] = [];
  (list ?? []).forEach((pr, i) => {
    const prPath = item(path, i);
    const o = v.object(pr, prPath);
    if (!o) return;
    // A deny PortRule (PortDenyRule) has no L7 fields at all: they are unknown there.
    v.keys(o, prPath, ['ports'], deny ? [] : UNSUPPORTED_PORT_RULE_FIELDS);
    const ports = v.optionalArray(o, 'ports', prPath);
    if (ports === undefined || ports.length === 0) {
      v.fail(field(prPath, 'ports'), 'expected a non-empty list of ports (use port "0" for every port)');
      return;
    }
    if (ports.length > MAX_PORTS) v.fail(field(prPath, 'ports'), `at most ${MAX_PORTS} ports per entry, got ${ports.length}`);
    ports.forEach((p, j) => {
      const pp = portProtocol(v, p, item(field(prPath, 'ports'), j));
      if (pp) out.push(pp);
    });
  });
  return out;
}

function entities(v: Validator, list: unknown[], path: string): Entity[] {
  const out: Entity[] = [];
  list.forEach((e, i) => {
    const s = v.string(e, item(path, i));
    if (s === undefined) return;
    if (UNSUPPORTED_ENTITIES.includes(s)) v.unsupported(item(path, i), `entity "${s}"`);
    else if (!(ENTITIES as readonly string[]).includes(s)) v.fail(item(path, i), `unknown entity "${s}"; expected one of ${ENTITIES.join(', ')}`);
    else out.push(s as Entity);
  });
  return out;
}

function cidrRules(v: Validator, list: unknown[], path: string): CiliumCidrRule[] {
  const out: CiliumCidrRule[] = [];
  list.forEach((c, i) => {
    const cPath = item(path, i);
    const o = v.object(c, cPath);
    if (!o) return;
    v.keys(o, cPath, ['cidr', 'except'], ['cidrGroupRef', 'cidrGroupSelector']);
    if (o['cidr'] === undefined) {
      // cidrGroupRef/cidrGroupSelector were already reported as unsupported.
      if (o['cidrGroupRef'] === undefined && o['cidrGroupSelector'] === undefined) v.fail(field(cPath, 'cidr'), 'expected a CIDR');
      return;
    }
    const outer = cidr(v, o['cidr'], field(cPath, 'cidr'), true);
    const except = exceptCidrs(v, v.optionalArray(o, 'except', cPath), field(cPath, 'except'), outer, true);
    if (outer !== undefined) out.push({ cidr: outer, except });
  });
  return out;
}

function section(v: Validator, value: unknown, path: string, kind: SectionKind): CiliumSection | undefined {
  const o = v.object(value, path);
  if (!o) return undefined;
  const spec = SECTIONS[kind];
  const names = spec.peer;
  v.keys(o, path, [...Object.values(names), 'toPorts'], spec.unsupported);
  const present = Object.values(names).filter((n) => o[n] !== undefined && o[n] !== null && !(Array.isArray(o[n]) && (o[n] as unknown[]).length === 0));
  if (present.length > 1) {
    // Cilium refuses this as well ("combining ... is not supported yet").
    v.fail(path, `${present.join(' and ')} cannot be combined in one rule; write one rule for each`);
  }
  const peers: { -readonly [K in keyof CiliumPeers]: CiliumPeers[K] } = {};
  const eps = v.optionalArray(o, names.endpoints, path);
  if (eps) peers.endpoints = eps.map((s, i) => labelSelector(v, s, item(field(path, names.endpoints), i), false)).filter((s) => s !== undefined);
  const cidrs = v.optionalArray(o, names.cidr, path);
  if (cidrs) peers.cidr = cidrs.map((c, i) => cidr(v, c, item(field(path, names.cidr), i), true)).filter((c) => c !== undefined);
  const sets = v.optionalArray(o, names.cidrSet, path);
  if (sets) peers.cidrSet = cidrRules(v, sets, field(path, names.cidrSet));
  const ents = v.optionalArray(o, names.entities, path);
  if (ents) peers.entities = entities(v, ents, field(path, names.entities));
  const ports = toPorts(v, v.optionalArray(o, 'toPorts', path), field(path, 'toPorts'), spec.deny);
  return { origin: path, peers, ports };
}

function ruleLabels(v: Validator, list: unknown[] | undefined, path: string): Label[] {
  const out: Label[] = [];
  (list ?? []).forEach((l, i) => {
    const lPath = item(path, i);
    try {
      if (typeof l === 'string') {
        out.push(parseLabel(l));
        return;
      }
      const o = v.object(l, lPath);
      if (!o) return;
      v.keys(o, lPath, ['key', 'value', 'source']);
      const key = v.string(o['key'], field(lPath, 'key'));
      const value = o['value'] === undefined ? '' : v.string(o['value'], field(lPath, 'value'));
      const source = o['source'] === undefined ? 'unspec' : v.string(o['source'], field(lPath, 'source'));
      if (key !== undefined && value !== undefined && source !== undefined) out.push(label(source, key, value));
    } catch (e) {
      if (e instanceof LabelSyntaxError) v.fail(lPath, e.message);
      else throw e;
    }
  });
  return out;
}

/**
 * Validates one Cilium rule at `path` (`spec`, `specs[1]`, or '' for a bare rule). Returns
 * undefined when it recorded errors.
 */
export function ciliumRule(v: Validator, value: unknown, path: string): CiliumRuleSpec | undefined {
  const o = v.object(value, path);
  if (!o) return undefined;
  const before = v.errorCount;
  v.keys(o, path, ['endpointSelector', 'ingress', 'ingressDeny', 'egress', 'egressDeny', 'labels', 'description', 'enableDefaultDeny'], UNSUPPORTED_RULE_FIELDS);
  let endpointSelector;
  if (o['endpointSelector'] === undefined || o['endpointSelector'] === null) {
    if (o['nodeSelector'] === undefined) v.fail(field(path, 'endpointSelector'), 'expected an endpointSelector (use {} to select every endpoint)');
  } else {
    endpointSelector = labelSelector(v, o['endpointSelector'], field(path, 'endpointSelector'), false);
  }
  const sections = (kind: SectionKind): CiliumSection[] =>
    (v.optionalArray(o, kind, path) ?? []).map((s, i) => section(v, s, item(field(path, kind), i), kind)).filter((s) => s !== undefined);
  const ingress = sections('ingress');
  const ingressDeny = sections('ingressDeny');
  const egress = sections('egress');
  const egressDeny = sections('egressDeny');
  const labels = ruleLabels(v, v.optionalArray(o, 'labels', path), field(path, 'labels'));
  const description = o['description'] === undefined ? undefined : v.string(o['description'], field(path, 'description'));
  const enableDefaultDeny: { ingress?: boolean; egress?: boolean } = {};
  if (o['enableDefaultDeny'] !== undefined) {
    const dPath = field(path, 'enableDefaultDeny');
    const d = v.object(o['enableDefaultDeny'], dPath);
    if (d) {
      v.keys(d, dPath, ['ingress', 'egress']);
      for (const dir of ['ingress', 'egress'] as const) {
        if (d[dir] === undefined) continue;
        const b = v.boolean(d[dir], field(dPath, dir));
        if (b !== undefined) enableDefaultDeny[dir] = b;
      }
    }
  }
  if (v.errorCount > before || endpointSelector === undefined) return undefined;
  return {
    origin: path,
    endpointSelector,
    ingress,
    ingressDeny,
    egress,
    egressDeny,
    labels,
    ...(description !== undefined ? { description } : {}),
    enableDefaultDeny,
  };
}

/**
 * Validates the `spec` and/or `specs` of a CNP/CCNP (at least one must be present) and returns
 * the rules in order: spec first, then specs.
 */
export function ciliumPolicySpecs(v: Validator, obj: JsonObject): CiliumRuleSpec[] {
  const out: CiliumRuleSpec[] = [];
  const hasSpec = obj['spec'] !== undefined && obj['spec'] !== null;
  const specs = v.optionalArray(obj, 'specs', '');
  if (!hasSpec && (specs === undefined || specs.length === 0)) {
    v.fail('spec', 'expected spec or specs (a policy needs at least one rule)');
    return out;
  }
  if (hasSpec) {
    const r = ciliumRule(v, obj['spec'], 'spec');
    if (r) out.push(r);
  }
  (specs ?? []).forEach((s, i) => {
    const r = ciliumRule(v, s, item('specs', i));
    if (r) out.push(r);
  });
  return out;
}
