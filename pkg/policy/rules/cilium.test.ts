// Namespace scoping and section semantics of CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy
// and bare Cilium rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicies } from '../parse/index.js';
import { TestCluster } from '../testing/cluster.js';
import type { Rule } from './model.js';

const opts = { timeout: 10_000 };

function cluster(): TestCluster {
  const c = new TestCluster();
  c.namespace('prod', { team: 'a' }).namespace('dev', { team: 'b' });
  c.pod('web', { namespace: 'prod', labels: { app: 'web' }, ip: '10.244.1.1' });
  c.pod('client', { namespace: 'prod', labels: { app: 'client' }, ip: '10.244.1.3' });
  c.pod('web-dev', { namespace: 'dev', labels: { app: 'web' }, ip: '10.244.2.1' });
  c.pod('client-dev', { namespace: 'dev', labels: { app: 'client' }, ip: '10.244.2.3' });
  return c;
}

const policy = (kind: string, spec: string, ns = 'prod'): string => `apiVersion: cilium.io/v2
kind: ${kind}
metadata: {name: p, namespace: ${ns}}
spec:
${spec.replace(/^/gm, '  ')}`;

const rule = (kind: string, spec: string): Rule => parsePolicies(policy(kind, spec)).policies[0].rules[0];
const peers = (r: Rule): string[] => r.ingress.flatMap((c) => c.peers.map(String));

test('CNP: the endpointSelector is restricted to the policy namespace', opts, () => {
  const r = rule('CiliumNetworkPolicy', 'endpointSelector: {matchLabels: {app: web}}\ningress: [{}]');
  assert.equal(r.subject.toString(), '{any:app=web, k8s:io.kubernetes.pod.namespace=prod}');
  const c = cluster();
  c.apply(policy('CiliumNetworkPolicy', 'endpointSelector: {matchLabels: {app: web}}\ningress: [{}]'));
  assert.ok(!c.allowed('client', 'web', 80));
  assert.ok(c.allowed('client', 'web-dev', 80), 'web in dev is not selected');
});

test('CNP: a namespace written in the endpointSelector is replaced by the policy namespace (as Cilium)', opts, () => {
  const r = rule('CiliumNetworkPolicy', 'endpointSelector: {matchLabels: {k8s:io.kubernetes.pod.namespace: dev}}\ningress: [{}]');
  assert.equal(r.subject.toString(), '{k8s:io.kubernetes.pod.namespace=prod}');
});

test('CNP peer scoping', opts, () => {
  const cases: [string, string][] = [
    ['{}', '{k8s:io.kubernetes.pod.namespace=prod}'],
    ['{matchLabels: {app: client}}', '{any:app=client, k8s:io.kubernetes.pod.namespace=prod}'],
    // Naming the namespace (any source) reaches another namespace.
    ['{matchLabels: {k8s:io.kubernetes.pod.namespace: dev}}', '{k8s:io.kubernetes.pod.namespace=dev}'],
    ['{matchLabels: {io.kubernetes.pod.namespace: dev}}', '{any:io.kubernetes.pod.namespace=dev}'],
    // Selecting on namespace labels is not restricted either.
    ['{matchLabels: {io.cilium.k8s.namespace.labels.team: b}}', '{any:io.cilium.k8s.namespace.labels.team=b}'],
    // Reserved labels are never namespaced.
    ['{matchLabels: {reserved:host: ""}}', '{reserved:host=}'],
  ];
  for (const [sel, want] of cases) {
    const r = rule('CiliumNetworkPolicy', `endpointSelector: {}\ningress:\n- fromEndpoints: [${sel}]`);
    assert.deepEqual(peers(r), [want], sel);
  }
  const c = cluster();
  c.apply(policy('CiliumNetworkPolicy', 'endpointSelector: {matchLabels: {app: web}}\ningress:\n- fromEndpoints: [{}]'));
  assert.ok(c.allowed('client', 'web', 80));
  assert.ok(!c.allowed('client-dev', 'web', 80));
  assert.ok(!c.allowed('ip:192.0.2.1', 'web', 80));
});

test('CCNP: the endpointSelector is not scoped; peers are restricted to pods of any namespace', opts, () => {
  const r = rule('CiliumClusterwideNetworkPolicy', `endpointSelector: {matchLabels: {app: web}}
ingress:
- fromEndpoints: [{}, {matchLabels: {app: client}}, {matchLabels: {k8s:io.kubernetes.pod.namespace: dev}}, {matchLabels: {reserved:world: ""}}]`);
  assert.equal(r.subject.toString(), '{any:app=web}');
  assert.equal(r.ref.namespace, '', 'cluster-wide objects have no namespace');
  assert.deepEqual(peers(r), [
    '{k8s:io.kubernetes.pod.namespace}',
    '{any:app=client, k8s:io.kubernetes.pod.namespace}',
    '{k8s:io.kubernetes.pod.namespace=dev}',
    '{reserved:world=}',
  ]);
  const c = cluster();
  c.apply(policy('CiliumClusterwideNetworkPolicy', 'endpointSelector: {matchLabels: {app: web}}\ningress:\n- fromEndpoints: [{matchLabels: {app: client}}]'));
  assert.ok(c.allowed('client', 'web', 80));
  assert.ok(c.allowed('client-dev', 'web-dev', 80), 'selects web in every namespace, clients of every namespace');
  assert.ok(!c.allowed('web', 'web-dev', 80));
});

test('CCNP: a subject selecting reserved:init keeps unscoped peers', opts, () => {
  const r = rule('CiliumClusterwideNetworkPolicy', 'endpointSelector: {matchLabels: {reserved:init: ""}}\negress:\n- toEndpoints: [{}]');
  assert.deepEqual(r.egress.flatMap((c) => c.peers.map(String)), ['{}']);
});

test('bare rules are not scoped at all', opts, () => {
  const { policies } = parsePolicies('[{"endpointSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"fromEndpoints": [{}]}]}]');
  const r = policies[0].rules[0];
  assert.equal(r.subject.toString(), '{any:app=web}');
  assert.deepEqual(peers(r), ['{}']);
  assert.equal(r.labels.size, 0, 'no derived policy labels');
});

test('rule labels: derived policy labels plus the rule\'s own', opts, () => {
  const r = rule('CiliumNetworkPolicy', 'endpointSelector: {}\nlabels: [{key: owner, value: me}, "k8s:tier=1"]');
  assert.deepEqual(r.labels.toStrings(), [
    'k8s:io.cilium.k8s.policy.derived-from=CiliumNetworkPolicy',
    'k8s:io.cilium.k8s.policy.name=p',
    'k8s:io.cilium.k8s.policy.namespace=prod',
    'unspec:owner=me',
    'k8s:tier=1',
  ]);
});

test('enforcement per rule: a direction is enforced iff the rule has a section for it', opts, () => {
  const cases: [string, boolean, boolean][] = [
    ['endpointSelector: {}', false, false],
    ['endpointSelector: {}\ningress: []', false, false],
    ['endpointSelector: {}\ningress: [{}]', true, false],
    ['endpointSelector: {}\negressDeny: [{toEntities: [world]}]', false, true],
    ['endpointSelector: {}\ningressDeny: [{}]\negress: [{}]', true, true],
  ];
  for (const [spec, ingress, egress] of cases) {
    const r = rule('CiliumNetworkPolicy', spec);
    assert.deepEqual(r.enforces, { ingress, egress }, spec);
  }
});

test('spec and specs both contribute rules, in order', opts, () => {
  const { policies } = parsePolicies(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p}
spec: {endpointSelector: {matchLabels: {a: "1"}}}
specs:
- endpointSelector: {matchLabels: {b: "2"}}
  egress: [{toEntities: [world]}]`);
  const p = policies[0];
  assert.equal(p.namespace, 'default', 'the default namespace');
  assert.deepEqual(p.rules.map((r) => r.origin), ['spec', 'specs[0]']);
  assert.deepEqual(p.rules[1].egress.map((c) => c.origin), ['specs[0].egress[0]']);
});

test('the cluster entity uses the configured cluster name', opts, () => {
  const { policies } = parsePolicies(policy('CiliumNetworkPolicy', 'endpointSelector: {}\negress: [{toEntities: [cluster]}]'), { clusterName: 'east' });
  const sels = policies[0].rules[0].egress[0].peers.map(String);
  assert.ok(sels.includes('{k8s:io.cilium.k8s.policy.cluster=east}'), sels.join(' '));
});
