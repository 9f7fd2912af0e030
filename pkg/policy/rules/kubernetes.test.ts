// Kubernetes NetworkPolicy semantics, checked end to end (parse → translate → resolve → lookup).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from '../testing/cluster.js';
import { parsePolicies } from '../parse/index.js';
import { effectivePolicyTypes } from './kubernetes.js';

const opts = { timeout: 10_000 };

/**
 * Namespaces `prod` (team=a) and `dev` (team=b); in prod: web, db, client; in dev: client-dev
 * and web-dev. Outside: 192.0.2.10 (world).
 */
function cluster(): TestCluster {
  const c = new TestCluster();
  c.namespace('prod', { team: 'a' }).namespace('dev', { team: 'b' });
  c.pod('web', { namespace: 'prod', labels: { app: 'web' }, ip: '10.244.1.1', namedPorts: [{ name: 'http', port: 8080, protocol: 6 }] });
  c.pod('db', { namespace: 'prod', labels: { app: 'db' }, ip: '10.244.1.2' });
  c.pod('client', { namespace: 'prod', labels: { app: 'client' }, ip: '10.244.1.3' });
  c.pod('client-dev', { namespace: 'dev', labels: { app: 'client' }, ip: '10.244.2.3' });
  c.pod('web-dev', { namespace: 'dev', labels: { app: 'web' }, ip: '10.244.2.1' });
  return c;
}

const knp = (spec: string, name = 'np', namespace = 'prod'): string => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ${name}, namespace: ${namespace}}
spec:
${spec.replace(/^/gm, '  ')}`;

const WORLD = 'ip:192.0.2.10';

test('deny all ingress: empty podSelector selects every pod of the namespace, and only those', opts, () => {
  const c = cluster();
  c.apply(knp('podSelector: {}\npolicyTypes: [Ingress]'));
  for (const src of ['client', 'client-dev', 'db', WORLD]) assert.ok(!c.allowed(src, 'web', 80), src);
  assert.ok(c.allowed('host', 'web', 80), 'the local node may always reach its pods');
  assert.ok(c.allowed('client', 'web-dev', 80), 'pods of other namespaces are not selected');
  assert.equal(c.verdict('web', 'client', 80).egress, 'allowed', 'egress is not affected');
  assert.ok(c.allowed('web', 'web-dev', 80));
});

test('missing ingress, ingress: [] and no policyTypes all mean "deny all ingress"', opts, () => {
  for (const spec of ['podSelector: {}', 'podSelector: {}\ningress: []', 'podSelector: {}\npolicyTypes: []']) {
    const c = cluster();
    c.apply(knp(spec));
    assert.equal(c.verdict('client', 'web', 80).ingress, 'denied', spec);
    assert.equal(c.verdict('web', 'client', 80).egress, 'allowed', spec);
  }
});

test('allow all ingress: a rule without from and ports matches every source and port', opts, () => {
  const c = cluster();
  c.apply(knp('podSelector: {}\ningress: [{}]'));
  for (const src of ['client', 'client-dev', WORLD, 'host']) assert.ok(c.allowed(src, 'web', 1234), src);
  assert.ok(c.allowed('client', 'web', 8, 'ICMP'));
});

test('missing from and from: [] both match all sources (Kubernetes API doc)', opts, () => {
  for (const rule of ['{ports: [{port: 80}]}', '{from: [], ports: [{port: 80}]}']) {
    const c = cluster();
    c.apply(knp(`podSelector: {matchLabels: {app: web}}\ningress: [${rule}]`));
    assert.ok(c.allowed('client-dev', 'web', 80), rule);
    assert.ok(c.allowed(WORLD, 'web', 80), rule);
    assert.ok(!c.allowed('client', 'web', 81), rule);
  }
});

test('podSelector peer: same namespace only', opts, () => {
  const c = cluster();
  c.apply(knp(`podSelector: {matchLabels: {app: web}}
ingress:
- from: [{podSelector: {matchLabels: {app: client}}}]`));
  assert.ok(c.allowed('client', 'web', 80));
  assert.ok(!c.allowed('client-dev', 'web', 80));
  assert.ok(!c.allowed('db', 'web', 80));
});

test('namespaceSelector and podSelector in one peer are ANDed; in two peers ORed', opts, () => {
  const and = cluster();
  and.apply(knp(`podSelector: {matchLabels: {app: web}}
ingress:
- from:
  - namespaceSelector: {matchLabels: {team: b}}
    podSelector: {matchLabels: {app: client}}`));
  assert.ok(and.allowed('client-dev', 'web', 80));
  assert.ok(!and.allowed('web-dev', 'web', 80), 'in team b but not a client');
  assert.ok(!and.allowed('client', 'web', 80), 'a client but in team a');

  const or = cluster();
  or.apply(knp(`podSelector: {matchLabels: {app: web}}
ingress:
- from:
  - namespaceSelector: {matchLabels: {team: b}}
  - podSelector: {matchLabels: {app: client}}`));
  assert.ok(or.allowed('client-dev', 'web', 80));
  assert.ok(or.allowed('web-dev', 'web', 80), 'any pod of team b');
  assert.ok(or.allowed('client', 'web', 80), 'clients of the policy namespace');
  assert.ok(!or.allowed('db', 'web', 80));
});

test('empty namespaceSelector: every pod of every namespace, but not the outside world', opts, () => {
  const c = cluster();
  c.apply(knp(`podSelector: {matchLabels: {app: web}}
ingress:
- from: [{namespaceSelector: {}}]`));
  assert.ok(c.allowed('client-dev', 'web', 80));
  assert.ok(c.allowed('db', 'web', 80));
  assert.ok(!c.allowed(WORLD, 'web', 80));
  const p = cluster();
  p.apply(knp(`podSelector: {matchLabels: {app: web}}
ingress:
- from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: client}}}]`));
  assert.ok(p.allowed('client-dev', 'web', 80));
  assert.ok(!p.allowed('web-dev', 'web', 80));
});

test('namespaceSelector can use the automatic kubernetes.io/metadata.name label', opts, () => {
  const c = cluster();
  c.apply(knp(`podSelector: {matchLabels: {app: web}}
ingress:
- from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: dev}}}]`));
  assert.ok(c.allowed('client-dev', 'web', 80));
  assert.ok(!c.allowed('client', 'web', 80));
});

test('ipBlock with except: by address, not namespace-restricted, pod addresses included', opts, () => {
  const c = cluster();
  c.apply(knp(`podSelector: {matchLabels: {app: web}}
ingress:
- from: [{ipBlock: {cidr: 10.244.0.0/16, except: [10.244.1.0/24]}}]
- from: [{ipBlock: {cidr: 192.0.2.0/24}}]`));
  assert.ok(c.allowed('client-dev', 'web', 80), '10.244.2.3 is inside the block, from another namespace');
  assert.ok(!c.allowed('client', 'web', 80), '10.244.1.3 is in the except');
  assert.ok(c.allowed(WORLD, 'web', 80));
  assert.ok(!c.allowed('ip:198.51.100.1', 'web', 80));
});

test('egress ipBlock 0.0.0.0/0 except the pod network', opts, () => {
  const c = cluster();
  c.apply(knp(`podSelector: {matchLabels: {app: web}}
policyTypes: [Egress]
egress:
- to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.244.0.0/16]}}]`));
  assert.ok(c.allowed('web', WORLD, 443));
  assert.ok(!c.allowed('web', 'db', 5432));
});

test('ports: protocol defaults to TCP, endPort makes a range, no number means every port', opts, () => {
  const c = cluster();
  c.apply(knp(`podSelector: {matchLabels: {app: web}}
ingress:
- from: [{podSelector: {matchLabels: {app: client}}}]
  ports:
  - port: 80
  - {protocol: UDP, port: 5000, endPort: 5010}
  - {protocol: SCTP}`));
  assert.ok(c.allowed('client', 'web', 80));
  assert.ok(!c.allowed('client', 'web', 80, 'UDP'), 'TCP by default');
  assert.ok(c.allowed('client', 'web', 5005, 'UDP'));
  assert.ok(!c.allowed('client', 'web', 5011, 'UDP'));
  assert.ok(c.allowed('client', 'web', 9999, 'SCTP'));
  assert.ok(!c.allowed('client', 'web', 8, 'ICMP'), 'a rule with ports never matches ICMP');
});

test('named ports resolve to the selected pod\'s container port', opts, () => {
  const c = cluster();
  c.apply(knp(`podSelector: {matchLabels: {app: web}}
ingress:
- ports: [{port: http}]`));
  assert.ok(c.allowed('client', 'web', 8080));
  assert.ok(!c.allowed('client', 'web', 80));
  const e = cluster();
  e.apply(knp(`podSelector: {matchLabels: {app: client}}
policyTypes: [Egress]
egress:
- to: [{podSelector: {}}]
  ports: [{port: http}]`));
  assert.ok(e.allowed('client', 'web', 8080), 'egress: the destination declares http=8080');
  assert.ok(!e.allowed('client', 'db', 8080), 'db declares no port named http');
});

test('policyTypes inference: Ingress always, Egress iff there are egress rules', opts, () => {
  const types = (spec: string): string[] => {
    const { policies } = parsePolicies(knp(spec));
    const r = policies[0].rules[0];
    return [r.enforces.ingress ? 'Ingress' : '', r.enforces.egress ? 'Egress' : ''].filter(Boolean);
  };
  assert.deepEqual(types('podSelector: {}'), ['Ingress']);
  assert.deepEqual(types('podSelector: {}\negress: []'), ['Ingress']);
  assert.deepEqual(types('podSelector: {}\negress: [{}]'), ['Ingress', 'Egress']);
  assert.deepEqual(types('podSelector: {}\npolicyTypes: [Egress]'), ['Egress']);
  assert.deepEqual(types('podSelector: {}\npolicyTypes: [Egress, Ingress]'), ['Ingress', 'Egress']);
  assert.deepEqual(effectivePolicyTypes({ podSelector: {}, egress: [{}] }), ['Ingress', 'Egress']);
});

test('an egress-only policy leaves ingress open', opts, () => {
  const c = cluster();
  c.apply(knp(`podSelector: {matchLabels: {app: web}}
policyTypes: [Egress]
egress:
- to: [{podSelector: {matchLabels: {app: db}}}]`));
  assert.equal(c.policyOf('web').ingressEnforced, false);
  assert.ok(c.allowed('client', 'web', 80));
  assert.ok(c.allowed('web', 'db', 5432));
  assert.ok(!c.allowed('web', 'client', 80));
});

test('a direction missing from policyTypes is ignored even if it has rules', opts, () => {
  const c = cluster();
  c.apply(knp(`podSelector: {matchLabels: {app: web}}
policyTypes: [Ingress]
ingress:
- from: [{podSelector: {matchLabels: {app: client}}}]
egress:
- to: [{podSelector: {matchLabels: {app: db}}}]`));
  assert.equal(c.policyOf('web').egressEnforced, false);
  assert.ok(c.allowed('web', 'client', 80), 'egress rules are ignored: egress stays open');
});

test('deny all egress', opts, () => {
  const c = cluster();
  c.apply(knp('podSelector: {}\npolicyTypes: [Egress]'));
  assert.ok(!c.allowed('web', 'db', 5432));
  assert.ok(!c.allowed('web', WORLD, 443));
  assert.equal(c.verdict('client', 'web', 80).ingress, 'allowed', 'ingress is open');
  assert.ok(c.allowed('client-dev', 'web', 80));
});

test('several policies are additive', opts, () => {
  const c = cluster();
  c.apply(knp('podSelector: {matchLabels: {app: web}}\ningress:\n- from: [{podSelector: {matchLabels: {app: client}}}]', 'a'));
  c.apply(knp('podSelector: {matchLabels: {app: web}}\ningress:\n- from: [{podSelector: {matchLabels: {app: db}}}]', 'b'));
  assert.ok(c.allowed('client', 'web', 80));
  assert.ok(c.allowed('db', 'web', 80));
  assert.ok(!c.allowed('client-dev', 'web', 80));
});

test('translation keeps rule labels and origins for tracing', opts, () => {
  const { policies } = parsePolicies(knp(`podSelector: {}
ingress:
- from: [{podSelector: {}}, {ipBlock: {cidr: 10.0.0.0/8}}]`, 'np', 'prod').replace('metadata: {name: np, namespace: prod}', 'metadata: {name: np, namespace: prod, uid: u-1}'));
  const r = policies[0].rules[0];
  assert.deepEqual(r.labels.toStrings(), [
    'k8s:io.cilium.k8s.policy.derived-from=NetworkPolicy',
    'k8s:io.cilium.k8s.policy.name=np',
    'k8s:io.cilium.k8s.policy.namespace=prod',
    'k8s:io.cilium.k8s.policy.uid=u-1',
  ]);
  assert.deepEqual(r.ingress.map((c) => c.origin), ['spec.ingress[0].from[0]', 'spec.ingress[0].from[1]']);
  assert.equal(r.subject.toString(), '{k8s:io.kubernetes.pod.namespace=prod}');
  assert.deepEqual(r.ingress[1].prefixes, ['10.0.0.0/8']);
});
