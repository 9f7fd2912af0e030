import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LabelSet } from '../../labels/index.js';
import { TestCluster } from '../testing/cluster.js';
import { trace, type TraceQuery } from './trace.js';

const opts = { timeout: 10_000 };

function cluster(mode?: 'always' | 'never'): TestCluster {
  const c = new TestCluster(mode ? { enforcementMode: mode } : {});
  c.pod('app1', { labels: { id: 'app1' }, ip: '10.244.0.1', namedPorts: [{ name: 'http', port: 8080, protocol: 6 }] });
  c.pod('app2', { labels: { id: 'app2' }, ip: '10.244.0.2' });
  c.pod('app3', { labels: { id: 'app3' }, ip: '10.244.0.3' });
  c.apply(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: l3-rule, namespace: default}
spec:
  endpointSelector: {matchLabels: {id: app1}}
  ingress:
  - fromEndpoints: [{matchLabels: {id: app2}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}, {port: http}]}]
  ingressDeny:
  - fromEndpoints: [{matchLabels: {id: app2}}]
    toPorts: [{ports: [{port: "22"}]}]`);
  return c;
}

const q = (c: TestCluster, src: string, dst: string, dport: number, protocol: TraceQuery['protocol'] = 'TCP'): TraceQuery => ({
  src: c.labelSetsOf(src),
  dst: c.labelSetsOf(dst),
  dport,
  protocol,
  dstNamedPorts: c.pods.get(dst)?.namedPorts ?? [],
});

test('trace names the rule and clause that allowed the traffic', opts, () => {
  const c = cluster();
  const t = trace(q(c, 'app2', 'app1', 80), c.repo);
  assert.equal(t.verdict, 'allowed');
  assert.equal(t.egress.reason, 'not-enforced');
  assert.equal(t.ingress.reason, 'allowed-by-rule');
  assert.deepEqual(t.ingress.allowedBy, [{ ref: { kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'l3-rule' }, origin: 'spec.ingress[0]', deny: false }]);
  assert.equal(t.text, [
    'Tracing from [k8s:id=app2,k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=default,k8s:io.cilium.k8s.policy.cluster=default,k8s:io.kubernetes.pod.namespace=default] to [k8s:id=app1,k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=default,k8s:io.cilium.k8s.policy.cluster=default,k8s:io.kubernetes.pod.namespace=default] port 80/TCP',
    '',
    'Egress from the source [k8s:id=app2,k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=default,k8s:io.cilium.k8s.policy.cluster=default,k8s:io.kubernetes.pod.namespace=default]:',
    '  no rule selects the source',
    '  => ALLOWED: no rule enforces this direction',
    '',
    'Ingress to the destination [k8s:id=app1,k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=default,k8s:io.cilium.k8s.policy.cluster=default,k8s:io.kubernetes.pod.namespace=default]:',
    '  selected by: CiliumNetworkPolicy default/l3-rule',
    '  ingress enforced by: CiliumNetworkPolicy default/l3-rule',
    '  allowed by CiliumNetworkPolicy default/l3-rule spec.ingress[0]',
    '  => ALLOWED: allowed by a rule',
    '',
    'Final verdict: ALLOWED',
  ].join('\n'));
});

test('trace reasons', opts, () => {
  const c = cluster();
  const cases: [string, string, number, TraceQuery['protocol'], string, string][] = [
    // src, dst, port, protocol, ingress reason, final verdict
    ['app3', 'app1', 80, 'TCP', 'default-deny', 'denied'],
    ['app2', 'app1', 81, 'TCP', 'default-deny', 'denied'],
    ['app2', 'app1', 22, 'TCP', 'denied-by-rule', 'denied'],
    ['app2', 'app1', 8080, 'TCP', 'allowed-by-rule', 'allowed'], // the named port http
    ['host', 'app1', 22, 'TCP', 'allow-localhost', 'allowed'],
    ['app1', 'app2', 22, 'TCP', 'not-enforced', 'allowed'],
  ];
  for (const [src, dst, port, proto, reason, verdict] of cases) {
    const t = trace(q(c, src, dst, port, proto), c.repo);
    assert.deepEqual([t.ingress.reason, t.verdict], [reason, verdict], `${src}->${dst}:${port}`);
  }
  const denied = trace(q(c, 'app2', 'app1', 22), c.repo);
  assert.deepEqual(denied.ingress.deniedBy.map((m) => m.origin), ['spec.ingressDeny[0]']);
  assert.match(denied.text, /denied by CiliumNetworkPolicy default\/l3-rule spec.ingressDeny\[0\]/);
});

test('trace follows the enforcement mode', opts, () => {
  const never = cluster('never');
  assert.equal(trace(q(never, 'app3', 'app1', 80), never.repo, { enforcementMode: 'never' }).ingress.reason, 'policy-disabled');
  const always = cluster('always');
  const t = trace(q(always, 'app2', 'app3', 80), always.repo, { enforcementMode: 'always' });
  assert.deepEqual([t.egress.reason, t.ingress.reason, t.verdict], ['default-deny', 'default-deny', 'denied']);
  assert.match(t.text, /egress enforced \(mode always\)/);
});

test('trace with enableDefaultDeny: false', opts, () => {
  const c = new TestCluster();
  c.pod('a', { labels: { id: 'a' }, ip: '10.244.0.1' });
  c.apply(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: audit}
spec:
  endpointSelector: {}
  enableDefaultDeny: {egress: false}
  egress: [{toEntities: [world]}]`);
  const t = trace({ src: c.labelSetsOf('a'), dst: LabelSet.parse(['reserved:health']), dport: 4240, protocol: 'TCP' }, c.repo);
  assert.equal(t.egress.reason, 'no-default-deny');
  assert.throws(() => trace({ src: LabelSet.empty, dst: LabelSet.empty, dport: 1, protocol: 'QUIC' as 'TCP' }, c.repo), RangeError);
});
