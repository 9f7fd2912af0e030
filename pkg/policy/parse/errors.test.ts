// Every validation error, with its exact field path and message, per kind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyParseError } from '../errors.js';
import { parsePolicies } from './parse.js';

const opts = { timeout: 10_000 };

/** The errors of an input as `path: detail` strings. */
function errors(text: string): string[] {
  try {
    parsePolicies(text);
  } catch (e) {
    if (e instanceof PolicyParseError) return e.errors.map((x) => `${x.path}: ${x.detail}`);
    throw e;
  }
  return [];
}

const cnp = (spec: string): string => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p}
spec:
  endpointSelector: {}
${spec.replace(/^/gm, '  ')}`;
const knp = (spec: string): string => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p}
spec:
  podSelector: {}
${spec.replace(/^/gm, '  ')}`;

test('Cilium rule errors', opts, () => {
  const cases: [string, string[]][] = [
    ['ingress:\n- toPorts: [{ports: [{port: "80"}, {port: "99999"}]}]', ['spec.ingress[0].toPorts[0].ports[1].port: expected a port number from 0 to 65535, got "99999"']],
    ['ingress:\n- toPorts: [{ports: [{port: "ht_tp"}]}]', ['spec.ingress[0].toPorts[0].ports[0].port: "ht_tp" is neither a port number nor a valid port name: a port name has only lower-case letters, digits and "-"']],
    ['ingress:\n- toPorts: [{ports: [{port: "80", protocol: QUIC}]}]', ['spec.ingress[0].toPorts[0].ports[0].protocol: expected TCP, UDP, SCTP or ANY, got "QUIC"']],
    ['ingress:\n- toPorts: [{ports: [{port: "80", endPort: 79}]}]', ['spec.ingress[0].toPorts[0].ports[0].endPort: endPort 79 is below port 80']],
    ['ingress:\n- toPorts: [{ports: [{port: "0", endPort: 79}]}]', ['spec.ingress[0].toPorts[0].ports[0].endPort: endPort needs a non-zero port']],
    ['ingress:\n- toPorts: [{ports: [{port: http, endPort: 90}]}]', ['spec.ingress[0].toPorts[0].ports[0].endPort: endPort cannot be used with a named port']],
    ['ingress:\n- toPorts: [{}]', ['spec.ingress[0].toPorts[0].ports: expected a non-empty list of ports (use port "0" for every port)']],
    ['ingress:\n- toPorts: [{ports: [{prot: TCP}]}]', ['spec.ingress[0].toPorts[0].ports[0].prot: unknown field "prot"; expected one of: port, endPort, protocol']],
    ['ingress:\n- fromEndpoints: [{matchLabels: {app: 1}}]', ['spec.ingress[0].fromEndpoints[0].matchLabels.app: expected a string, got number 1']],
    ['ingress:\n- fromEndpoints: [{matchExpressions: [{key: app, operator: In}]}]', ['spec.ingress[0].fromEndpoints[0].matchExpressions[0].values: operator In needs at least one value']],
    ['ingress:\n- fromEndpoints: [{matchExpressions: [{key: app, operator: Exists, values: [x]}]}]', ['spec.ingress[0].fromEndpoints[0].matchExpressions[0].values: operator Exists takes no values']],
    ['ingress:\n- fromEndpoints: [{matchExpressions: [{key: app, operator: Has}]}]', ['spec.ingress[0].fromEndpoints[0].matchExpressions[0].operator: expected one of In, NotIn, Exists, DoesNotExist, got "Has"']],
    ['ingress:\n- fromEndpoints: [{matchLabels: {"K8S:app": x}}]', ['spec.ingress[0].fromEndpoints[0].matchLabels["K8S:app"]: the label source "K8S" must be lower-case letters, digits and "-"']],
    ['egress:\n- toCIDR: [10.0.0.0/33]', ['spec.egress[0].toCIDR[0]: invalid CIDR "10.0.0.0/33": prefix length must be 0..32; expected an IPv4 or IPv6 prefix like 10.0.0.0/8']],
    ['egress:\n- toCIDRSet: [{cidr: 10.0.0.0/8, except: [11.0.0.0/16, 10.0.0.0/8]}]', [
      'spec.egress[0].toCIDRSet[0].except[0]: 11.0.0.0/16 must be a strict subset of 10.0.0.0/8',
      'spec.egress[0].toCIDRSet[0].except[1]: 10.0.0.0/8 must be a strict subset of 10.0.0.0/8',
    ]],
    ['egress:\n- toEntities: [wrld]', ['spec.egress[0].toEntities[0]: unknown entity "wrld"; expected one of all, world, cluster, host, remote-node, health, init, unmanaged, kube-apiserver, none']],
    ['egress:\n- toEndpoints: [{}]\n  toCIDR: [10.0.0.0/8]', ['spec.egress[0]: toEndpoints and toCIDR cannot be combined in one rule; write one rule for each']],
    ['ingress: {fromEntities: [world]}', ['spec.ingress: expected a list, got an object']],
    ['enableDefaultDeny: {ingress: "no"}', ['spec.enableDefaultDeny.ingress: expected true or false, got string "no"']],
    ['ingres: []', ['spec.ingres: unknown field "ingres"; expected one of: endpointSelector, ingress, ingressDeny, egress, egressDeny, labels, description, enableDefaultDeny']],
    ['labels: [{value: x}]', ['spec.labels[0].key: expected a string, got nothing']],
  ];
  for (const [spec, want] of cases) assert.deepEqual(errors(cnp(spec)), want, spec);
});

test('Cilium object errors', opts, () => {
  const cases: [string, string[]][] = [
    ['apiVersion: cilium.io/v1\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\nspec: {endpointSelector: {}}', ['apiVersion: expected cilium.io/v2, got "cilium.io/v1"']],
    ['apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {}\nspec: {endpointSelector: {}}', ['metadata.name: expected the object name']],
    ['apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: Bad_Name}\nspec: {endpointSelector: {}}', ['metadata.name: a name must be lower-case letters, digits, "-" and ".", starting and ending with a letter or digit']],
    ['apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p}', ['spec: expected spec or specs (a policy needs at least one rule)']],
    ['apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\nspec: {ingress: []}', ['spec.endpointSelector: expected an endpointSelector (use {} to select every endpoint)']],
    ['apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\nspecs: [{endpointSelector: {}}, {endpointSelector: []}]', ['specs[1].endpointSelector: expected an object, got a list']],
    ['apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\nspec: {endpointSelector: {}}\nextra: 1', ['extra: unknown field "extra"; expected one of: apiVersion, kind, metadata, spec, specs, status']],
    ['[{"endpointSelector": {}}, {"endpointSelector": {}, "ingress": [{"fromCIDR": ["x"]}]}]', ['[1].ingress[0].fromCIDR[0]: invalid CIDR "x": "x" is not an IPv4 address; expected an IPv4 or IPv6 prefix like 10.0.0.0/8']],
    ['{"hello": "world"}', [': expected a Kubernetes object (apiVersion, kind), a List, or Cilium rules (objects with endpointSelector)']],
  ];
  for (const [text, want] of cases) assert.deepEqual(errors(text), want, text);
});

test('errors name the object and the document', opts, () => {
  try {
    parsePolicies(`${knp('ingress: []')}\n---\n${cnp('ingress: [{fromEntities: [x]}]')}`);
    assert.fail('expected an error');
  } catch (e) {
    assert.ok(e instanceof PolicyParseError);
    const err = e.errors[0];
    assert.deepEqual([err.document, err.object, err.path], [1, 'CiliumNetworkPolicy default/p', 'spec.ingress[0].fromEntities[0]']);
    assert.equal(e.message, 'invalid policy: document 1: CiliumNetworkPolicy default/p: spec.ingress[0].fromEntities[0]: unknown entity "x"; expected one of all, world, cluster, host, remote-node, health, init, unmanaged, kube-apiserver, none');
  }
});

test('every error of the input is reported, not only the first', opts, () => {
  const got = errors(cnp('ingress:\n- fromEntities: [x]\n  toPorts: [{ports: [{port: "-1"}]}]\negress: 5'));
  assert.equal(got.length, 3, got.join('\n'));
});

test('valid Cilium fields that Cilia does not implement are refused by name', opts, () => {
  const cases: [string, string][] = [
    ['ingress: [{fromRequires: [{}]}]', 'spec.ingress[0].fromRequires: not supported by Cilia: fromRequires'],
    ['ingress: [{fromGroups: [{}]}]', 'spec.ingress[0].fromGroups: not supported by Cilia: fromGroups'],
    ['ingress: [{fromNodes: [{}]}]', 'spec.ingress[0].fromNodes: not supported by Cilia: fromNodes'],
    ['ingress: [{icmps: [{fields: [{type: 8}]}]}]', 'spec.ingress[0].icmps: not supported by Cilia: icmps'],
    ['ingress: [{authentication: {mode: required}}]', 'spec.ingress[0].authentication: not supported by Cilia: authentication'],
    ['ingressDeny: [{icmps: []}]', 'spec.ingressDeny[0].icmps: not supported by Cilia: icmps'],
    ['egress: [{toRequires: [{}]}]', 'spec.egress[0].toRequires: not supported by Cilia: toRequires'],
    ['egress: [{toServices: [{k8sService: {serviceName: a}}]}]', 'spec.egress[0].toServices: not supported by Cilia: toServices'],
    ['egress: [{toFQDNs: [{matchName: a.com}]}]', 'spec.egress[0].toFQDNs: not supported by Cilia: toFQDNs'],
    ['egress: [{toGroups: [{}]}]', 'spec.egress[0].toGroups: not supported by Cilia: toGroups'],
    ['egress: [{toNodes: [{}]}]', 'spec.egress[0].toNodes: not supported by Cilia: toNodes'],
    ['egressDeny: [{toServices: []}]', 'spec.egressDeny[0].toServices: not supported by Cilia: toServices'],
    ['egress: [{toPorts: [{ports: [{port: "53"}], rules: {dns: [{matchPattern: "*"}]}}]}]', 'spec.egress[0].toPorts[0].rules: not supported by Cilia: rules'],
    ['ingress: [{toPorts: [{ports: [{port: "443"}], terminatingTLS: {secret: {name: x}}}]}]', 'spec.ingress[0].toPorts[0].terminatingTLS: not supported by Cilia: terminatingTLS'],
    ['ingress: [{toPorts: [{ports: [{port: "443"}], originatingTLS: {}}]}]', 'spec.ingress[0].toPorts[0].originatingTLS: not supported by Cilia: originatingTLS'],
    ['ingress: [{toPorts: [{ports: [{port: "443"}], serverNames: [a]}]}]', 'spec.ingress[0].toPorts[0].serverNames: not supported by Cilia: serverNames'],
    ['ingress: [{toPorts: [{ports: [{port: "443"}], listener: {name: l}}]}]', 'spec.ingress[0].toPorts[0].listener: not supported by Cilia: listener'],
    ['ingress: [{toPorts: [{ports: [{port: "0", protocol: ICMP}]}]}]', 'spec.ingress[0].toPorts[0].ports[0].protocol: not supported by Cilia: protocol ICMP'],
    ['ingress: [{fromCIDRSet: [{cidrGroupRef: g}]}]', 'spec.ingress[0].fromCIDRSet[0].cidrGroupRef: not supported by Cilia: cidrGroupRef'],
    ['ingress: [{fromCIDRSet: [{cidrGroupSelector: {}}]}]', 'spec.ingress[0].fromCIDRSet[0].cidrGroupSelector: not supported by Cilia: cidrGroupSelector'],
    ['ingress: [{fromEntities: [ingress]}]', 'spec.ingress[0].fromEntities[0]: not supported by Cilia: entity "ingress"'],
    ['egress: [{toEntities: [world-ipv4]}]', 'spec.egress[0].toEntities[0]: not supported by Cilia: entity "world-ipv4"'],
    ['log: {value: x}', 'spec.log: not supported by Cilia: log'],
  ];
  for (const [spec, want] of cases) assert.deepEqual(errors(cnp(spec)), [want], spec);
  // nodeSelector (host policies): refused, and no "missing endpointSelector" error on top.
  const host = 'apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: h}\nspec: {nodeSelector: {}}';
  assert.deepEqual(errors(host), ['spec.nodeSelector: not supported by Cilia: nodeSelector']);
  // A deny port rule has no L7 fields at all.
  assert.deepEqual(errors(cnp('ingressDeny: [{toPorts: [{ports: [{port: "1"}], rules: {}}]}]')), ['spec.ingressDeny[0].toPorts[0].rules: unknown field "rules"; expected one of: ports']);
});

test('Kubernetes NetworkPolicy errors', opts, () => {
  const cases: [string, string[]][] = [
    ['ingress:\n- from: [{}]', ['spec.ingress[0].from[0]: expected podSelector, namespaceSelector or ipBlock']],
    ['ingress:\n- from: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]', ['spec.ingress[0].from[0]: ipBlock cannot be combined with podSelector or namespaceSelector in one peer']],
    ['ingress:\n- from: [{ipBlock: {cidr: 10.0.0.1}}]', ['spec.ingress[0].from[0].ipBlock.cidr: invalid CIDR "10.0.0.1": expected address/prefix-length; expected an IPv4 or IPv6 prefix like 10.0.0.0/8']],
    ['ingress:\n- from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.0.0/8]}}]', ['spec.ingress[0].from[0].ipBlock.except[0]: 10.0.0.0/8 must be a strict subset of 10.0.0.0/16']],
    ['ingress:\n- from: [{ipBlock: {except: [10.0.0.0/8]}}]', ['spec.ingress[0].from[0].ipBlock.cidr: expected a CIDR']],
    ['ingress:\n- ports: [{port: "80"}]', ['spec.ingress[0].ports[0].port: "80" is not a valid port name: a port name must contain at least one letter (write a number without quotes)']],
    ['ingress:\n- ports: [{port: 0}]', ['spec.ingress[0].ports[0].port: expected an integer from 1 to 65535, got number 0']],
    ['ingress:\n- ports: [{protocol: tcp, port: 80}]', ['spec.ingress[0].ports[0].protocol: expected TCP, UDP or SCTP, got "tcp"']],
    ['ingress:\n- ports: [{port: 90, endPort: 80}]', ['spec.ingress[0].ports[0].endPort: endPort 80 must be greater than or equal to port 90']],
    ['ingress:\n- ports: [{endPort: 80}]', ['spec.ingress[0].ports[0].endPort: endPort requires port']],
    ['ingress:\n- ports: [{port: http, endPort: 80}]', ['spec.ingress[0].ports[0].endPort: endPort cannot be used with a named port']],
    ['egress:\n- to: [{podSelector: {matchLabels: {"k8s:app": web}}}]', ['spec.egress[0].to[0].podSelector.matchLabels["k8s:app"]: a label key name must be 1-63 characters of letters, digits, "-", "_" or ".", starting and ending with a letter or digit']],
    ['egress:\n- to: [{namespaceSelector: {matchLabels: {team: "a b"}}}]', ['spec.egress[0].to[0].namespaceSelector.matchLabels.team: a label value must be empty or 1-63 characters of letters, digits, "-", "_" or ".", starting and ending with a letter or digit']],
    ['egress:\n- from: []', ['spec.egress[0].from: unknown field "from"; expected one of: to, ports']],
    ['policyTypes: [Ingress, Ingress]', ['spec.policyTypes[1]: duplicate policy type Ingress']],
    ['policyTypes: [ingress]', ['spec.policyTypes[0]: expected Ingress or Egress, got "ingress"']],
  ];
  for (const [spec, want] of cases) assert.deepEqual(errors(knp(spec)), want, spec);
  assert.deepEqual(errors('apiVersion: extensions/v1beta1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelector: {}}'), ['apiVersion: expected networking.k8s.io/v1, got "extensions/v1beta1"']);
  assert.deepEqual(errors('apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {}'), ['spec.podSelector: expected a podSelector (use {} to select every pod of the namespace)']);
  assert.deepEqual(errors('apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: Prod}\nspec: {podSelector: {}}'), ['metadata.namespace: a namespace must be at most 63 lower-case letters, digits and "-", starting and ending with a letter or digit']);
});
