import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicies } from '../parse/index.js';
import { SelectorCache } from '../selectorcache/index.js';
import { formatRuleRef, type PolicyObject } from '../rules/model.js';
import { Repository } from './repository.js';

const opts = { timeout: 10_000 };

const cnp = (name: string, spec: string): PolicyObject => parsePolicies(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ${name}, namespace: default}
spec:
  endpointSelector: {}
${spec.replace(/^/gm, '  ')}`).policies[0];

test('revisions grow on every change and only then', opts, () => {
  const r = new Repository();
  assert.equal(r.revision, 0);
  assert.equal(r.upsert(cnp('a', 'ingress: [{}]')), 1);
  assert.equal(r.upsert(cnp('b', 'ingress: [{}]'), cnp('c', 'ingress: [{}]')), 2, 'several objects, one change');
  assert.equal(r.upsert(cnp('a', 'egress: [{}]')), 3, 'replace by key');
  assert.deepEqual(r.list().map(formatRuleRef), ['CiliumNetworkPolicy default/a', 'CiliumNetworkPolicy default/b', 'CiliumNetworkPolicy default/c']);
  assert.equal(r.get({ kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'a' })?.rules[0]?.enforces.egress, true);
  assert.equal(r.delete({ kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'b' }), 4);
  assert.equal(r.delete({ kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'b' }), 4, 'absent: unchanged');
  assert.equal(r.delete({ kind: 'NetworkPolicy', namespace: 'default', name: 'a' }), 4, 'the kind is part of the key');
  assert.equal(r.rules().length, 2);
  assert.equal(r.deleteAll(), 5);
  assert.equal(r.deleteAll(), 5);
  assert.deepEqual(r.list(), []);
  assert.equal(r.upsert(), 5, 'nothing to add');
});

test('referencedPrefixes lists cidrs and excepts, canonical and sorted', opts, () => {
  const r = new Repository();
  r.upsert(cnp('a', `egress:
- toCIDR: [192.168.1.7, 10.1.2.3/8]
- toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.96.0.0/12]}, {cidr: "2001:db8::/32"}]`));
  r.upsert(cnp('b', 'ingressDeny: [{fromCIDR: [10.96.0.0/12]}]'));
  assert.deepEqual(r.referencedPrefixes(), ['10.0.0.0/8', '10.96.0.0/12', '192.168.1.7/32', '2001:db8::/32']);
  r.deleteAll();
  assert.deepEqual(r.referencedPrefixes(), []);
});

test('a linked selector cache tracks exactly the selectors of stored rules', opts, () => {
  const cache = new SelectorCache();
  const r = new Repository({ selectorCache: cache });
  r.upsert(cnp('a', 'ingress: [{fromEntities: [world]}, {fromEndpoints: [{matchLabels: {app: x}}]}]'));
  r.upsert(cnp('b', 'ingress: [{fromEndpoints: [{matchLabels: {app: x}}]}]'));
  const appX = 'any:app=x, k8s:io.kubernetes.pod.namespace=default';
  assert.equal(cache.refCount(appX), 2);
  assert.equal(cache.registeredKeys().length, 2);
  r.upsert(cnp('a', 'ingress: [{fromEndpoints: [{matchLabels: {app: x}}]}]'));
  assert.equal(cache.refCount(appX), 2, 'replacing keeps shared selectors');
  assert.deepEqual(cache.registeredKeys(), [appX], 'the world selector was released');
  r.delete({ kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'b' });
  assert.equal(cache.refCount(appX), 1);
  r.deleteAll();
  assert.deepEqual(cache.registeredKeys(), []);
});
