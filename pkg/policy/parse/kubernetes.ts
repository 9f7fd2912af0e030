// Owns the validation of Kubernetes NetworkPolicy objects (networking.k8s.io/v1), with the API
// server's own rules, into NetworkPolicySpec.
import type { NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicyRule, NetworkPolicySpec } from '../rules/api.js';
import { cidr, exceptCidrs, labelSelector, portNameProblem } from './common.js';
import { type JsonObject, type Validator, field, item } from './validator.js';

function peer(v: Validator, value: unknown, path: string): NetworkPolicyPeer | undefined {
  const o = v.object(value, path);
  if (!o) return undefined;
  v.keys(o, path, ['podSelector', 'namespaceSelector', 'ipBlock']);
  const has = (k: string): boolean => o[k] !== undefined && o[k] !== null;
  if (!has('podSelector') && !has('namespaceSelector') && !has('ipBlock')) {
    return v.fail(path, 'expected podSelector, namespaceSelector or ipBlock');
  }
  if (has('ipBlock') && (has('podSelector') || has('namespaceSelector'))) {
    return v.fail(path, 'ipBlock cannot be combined with podSelector or namespaceSelector in one peer');
  }
  if (has('ipBlock')) {
    const bPath = field(path, 'ipBlock');
    const b = v.object(o['ipBlock'], bPath);
    if (!b) return undefined;
    v.keys(b, bPath, ['cidr', 'except']);
    const outer = b['cidr'] === undefined ? v.fail(field(bPath, 'cidr'), 'expected a CIDR') : cidr(v, b['cidr'], field(bPath, 'cidr'), false);
    const except = exceptCidrs(v, v.optionalArray(b, 'except', bPath), field(bPath, 'except'), outer, false);
    return outer === undefined ? undefined : { ipBlock: { cidr: outer, except } };
  }
  const out: { podSelector?: NetworkPolicyPeer['podSelector']; namespaceSelector?: NetworkPolicyPeer['namespaceSelector'] } = {};
  if (has('podSelector')) out.podSelector = labelSelector(v, o['podSelector'], field(path, 'podSelector'), true);
  if (has('namespaceSelector')) out.namespaceSelector = labelSelector(v, o['namespaceSelector'], field(path, 'namespaceSelector'), true);
  return out;
}

function port(v: Validator, value: unknown, path: string): NetworkPolicyPort | undefined {
  const o = v.object(value, path);
  if (!o) return undefined;
  v.keys(o, path, ['protocol', 'port', 'endPort']);
  let protocol: NetworkPolicyPort['protocol'] = 'TCP';
  if (o['protocol'] !== undefined && o['protocol'] !== null) {
    const p = v.string(o['protocol'], field(path, 'protocol'));
    // Kubernetes compares protocol names case-sensitively.
    if (p === 'TCP' || p === 'UDP' || p === 'SCTP') protocol = p;
    else if (p !== undefined) v.fail(field(path, 'protocol'), `expected TCP, UDP or SCTP, got "${p}"`);
  }
  let portValue: number | string | undefined;
  const raw = o['port'];
  const pPath = field(path, 'port');
  if (typeof raw === 'number') portValue = v.integer(raw, pPath, 1, 65535);
  else if (typeof raw === 'string') {
    // An IntOrString holding a string is a port name; Kubernetes refuses "80" as a name.
    const problem = portNameProblem(raw);
    portValue = problem ? v.fail(pPath, `"${raw}" is not a valid port name: ${problem} (write a number without quotes)`) : raw;
  } else if (raw !== undefined && raw !== null) v.fail(pPath, 'expected a port number (1-65535) or a port name');
  let endPort: number | undefined;
  if (o['endPort'] !== undefined && o['endPort'] !== null) {
    const ePath = field(path, 'endPort');
    endPort = v.integer(o['endPort'], ePath, 1, 65535);
    if (endPort !== undefined) {
      if (raw === undefined || raw === null) return v.fail(ePath, 'endPort requires port');
      if (typeof portValue === 'string') return v.fail(ePath, 'endPort cannot be used with a named port');
      if (typeof portValue === 'number' && endPort < portValue) return v.fail(ePath, `endPort ${endPort} must be greater than or equal to port ${portValue}`);
    }
  }
  return {
    protocol,
    ...(portValue !== undefined ? { port: portValue } : {}),
    ...(endPort !== undefined && endPort !== portValue ? { endPort } : {}),
  };
}

function rules(v: Validator, list: unknown[] | undefined, path: string, peerField: 'from' | 'to'): NetworkPolicyRule[] | undefined {
  if (list === undefined) return undefined;
  return list.map((r, i) => {
    const rPath = item(path, i);
    const o = v.object(r, rPath) ?? {};
    v.keys(o, rPath, [peerField, 'ports']);
    const peers = v.optionalArray(o, peerField, rPath)?.map((p, j) => peer(v, p, item(field(rPath, peerField), j)));
    const ports = v.optionalArray(o, 'ports', rPath)?.map((p, j) => port(v, p, item(field(rPath, 'ports'), j)));
    return {
      ...(peers ? { peers: peers.filter((p) => p !== undefined) } : {}),
      ...(ports ? { ports: ports.filter((p) => p !== undefined) } : {}),
    };
  });
}

/** Validates the `spec` of a NetworkPolicy. Returns undefined when it recorded errors. */
export function networkPolicySpec(v: Validator, obj: JsonObject): NetworkPolicySpec | undefined {
  const before = v.errorCount;
  const spec = v.object(obj['spec'], 'spec');
  if (!spec) return undefined;
  v.keys(spec, 'spec', ['podSelector', 'policyTypes', 'ingress', 'egress']);
  const podSelector = spec['podSelector'] === undefined
    ? v.fail('spec.podSelector', 'expected a podSelector (use {} to select every pod of the namespace)')
    : labelSelector(v, spec['podSelector'], 'spec.podSelector', true);
  let policyTypes: ('Ingress' | 'Egress')[] | undefined;
  const types = v.optionalArray(spec, 'policyTypes', 'spec');
  if (types) {
    policyTypes = [];
    types.forEach((t, i) => {
      const s = v.string(t, item('spec.policyTypes', i));
      if (s !== 'Ingress' && s !== 'Egress') {
        if (s !== undefined) v.fail(item('spec.policyTypes', i), `expected Ingress or Egress, got "${s}"`);
      } else if (policyTypes!.includes(s)) v.fail(item('spec.policyTypes', i), `duplicate policy type ${s}`);
      else policyTypes!.push(s);
    });
  }
  const ingress = rules(v, v.optionalArray(spec, 'ingress', 'spec'), 'spec.ingress', 'from');
  const egress = rules(v, v.optionalArray(spec, 'egress', 'spec'), 'spec.egress', 'to');
  if (v.errorCount > before || podSelector === undefined) return undefined;
  return {
    podSelector,
    ...(policyTypes ? { policyTypes } : {}),
    ...(ingress ? { ingress } : {}),
    ...(egress ? { egress } : {}),
  };
}
