import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ENTITIES, LabelSet, ReservedIdentity, cidrLabelKey, cidrLabels, entitySelectors, isLocalIdentity, localIdentity,
  parsePrefix, podIdentityLabels, reservedIdentities, reservedIdentityName, type Entity,
} from './index.js';

const opts = { timeout: 10_000 };

test('reserved identities carry Cilium numbers and labels', opts, () => {
  const table = Object.fromEntries(reservedIdentities().map((r) => [r.id, r.labels.toString()]));
  assert.deepEqual(table, {
    1: 'reserved:host',
    2: 'reserved:world',
    3: 'reserved:unmanaged',
    4: 'reserved:health',
    5: 'reserved:init',
    6: 'reserved:remote-node',
    7: 'reserved:kube-apiserver,reserved:remote-node',
  });
  assert.equal(reservedIdentityName(ReservedIdentity.Host), 'host');
  assert.equal(reservedIdentityName(0), 'unknown');
  assert.equal(reservedIdentityName(300), undefined);
});

test('local identities are scoped 1<<24', opts, () => {
  assert.equal(localIdentity(1), 16777217);
  assert.ok(isLocalIdentity(localIdentity(5)));
  assert.ok(!isLocalIdentity(256));
  assert.throws(() => localIdentity(0), RangeError);
});

test('entities select the right identities', opts, () => {
  const identities: Record<string, LabelSet> = Object.fromEntries(reservedIdentities().map((r) => [r.name, r.labels]));
  identities['pod'] = podIdentityLabels({ namespace: 'default', labels: { app: 'web' } });
  identities['pod-other-cluster'] = podIdentityLabels({ namespace: 'default', labels: { app: 'web' }, clusterName: 'east' });
  identities['cidr-10/8'] = cidrLabels('10.0.0.0/8');
  const selected = (e: Entity): string[] =>
    Object.entries(identities).filter(([, l]) => entitySelectors(e).some((s) => s.matches(l))).map(([n]) => n).sort();
  const want: Record<Entity, string[]> = {
    all: Object.keys(identities).sort(),
    // world: the world identity only, not CIDR identities (see entitySelectors).
    world: ['world'],
    cluster: ['health', 'host', 'init', 'kube-apiserver', 'pod', 'remote-node', 'unmanaged'],
    host: ['host'],
    'remote-node': ['kube-apiserver', 'remote-node'],
    health: ['health'],
    init: ['init'],
    unmanaged: ['unmanaged'],
    'kube-apiserver': ['kube-apiserver'],
    none: [],
  };
  for (const e of ENTITIES) assert.deepEqual(selected(e), want[e], e);
});

test('the cluster entity follows the configured cluster name', opts, () => {
  const pod = podIdentityLabels({ namespace: 'ns', clusterName: 'east' });
  assert.ok(entitySelectors('cluster', { clusterName: 'east' }).some((s) => s.matches(pod)));
  assert.ok(!entitySelectors('cluster').some((s) => s.matches(pod)));
});

test('the world selector excludes both families of CIDR identities', opts, () => {
  // The literal keys in reserved.ts must equal cidrLabelKey of the /0 prefixes.
  const world = entitySelectors('world')[0];
  assert.ok(world.hasKey(cidrLabelKey(parsePrefix('0.0.0.0/0')), ['cidr']));
  assert.ok(world.hasKey(cidrLabelKey(parsePrefix('::/0')), ['cidr']));
  assert.ok(!world.matches(cidrLabels('2001:db8::/32')));
});

test('podIdentityLabels builds Cilium pod labels', opts, () => {
  const l = podIdentityLabels({ namespace: 'prod', labels: { app: 'web' }, namespaceLabels: { team: 'a' }, serviceAccount: 'sa1' });
  assert.deepEqual(l.toStrings(), [
    'k8s:app=web',
    'k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=prod',
    'k8s:io.cilium.k8s.namespace.labels.team=a',
    'k8s:io.cilium.k8s.policy.cluster=default',
    'k8s:io.cilium.k8s.policy.serviceaccount=sa1',
    'k8s:io.kubernetes.pod.namespace=prod',
  ]);
});
