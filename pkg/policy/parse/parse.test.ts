// Input shapes accepted by parsePolicies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyParseError } from '../errors.js';
import { formatRuleRef } from '../rules/model.js';
import { parsePolicies } from './parse.js';

const opts = { timeout: 10_000 };
const ids = (text: string, o = {}): string[] => parsePolicies(text, o).policies.map(formatRuleRef);

const CNP = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: a, namespace: prod}
spec: {endpointSelector: {}}`;
const KNP = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b}
spec: {podSelector: {}}`;

test('a single YAML object', opts, () => {
  assert.deepEqual(ids(CNP), ['CiliumNetworkPolicy prod/a']);
});

test('a YAML multi-document stream, empty documents skipped', opts, () => {
  assert.deepEqual(ids(`---\n${CNP}\n---\n---\n${KNP}\n...\n`), ['CiliumNetworkPolicy prod/a', 'NetworkPolicy default/b']);
});

test('kind: List and typed lists', opts, () => {
  const list = JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'cilium.io/v2', kind: 'CiliumClusterwideNetworkPolicy', metadata: { name: 'c' }, spec: { endpointSelector: {} } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod', labels: { team: 'a' } } },
    ],
  });
  const r = parsePolicies(list);
  assert.deepEqual(r.policies.map(formatRuleRef), ['CiliumClusterwideNetworkPolicy c']);
  assert.deepEqual(r.others.map((o) => [o.kind, o.path, o.document]), [['Namespace', 'items[1]', 0]]);
  assert.deepEqual(ids(`apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicyList\nitems:\n- ${CNP.replace(/\n/g, '\n  ')}`), ['CiliumNetworkPolicy prod/a']);
});

test('JSON: one object, and an array of bare rules (cilium policy import)', opts, () => {
  assert.deepEqual(ids(JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'j', namespace: 'x' }, spec: { podSelector: {} } })), ['NetworkPolicy x/j']);
  const rules = JSON.stringify([
    { endpointSelector: { matchLabels: { app: 'a' } }, labels: ['team=x'] },
    { endpointSelector: { matchLabels: { app: 'b' } }, labels: [{ key: 'team', value: 'x' }] },
    { endpointSelector: { matchLabels: { app: 'c' } } },
  ]);
  const r = parsePolicies(rules);
  // Bare rules are grouped by their labels, like rules imported through Cilium's API.
  assert.deepEqual(r.policies.map((p) => [formatRuleRef(p), p.rules.map((x) => x.origin)]), [
    ['CiliumRules unspec:team=x', ['[0]', '[1]']],
    ['CiliumRules ', ['[2]']],
  ]);
});

test('a single bare rule without an array is accepted', opts, () => {
  assert.deepEqual(ids('endpointSelector: {}\ningress: [{fromEntities: [world]}]'), ['CiliumRules ']);
});

test('other objects are returned untouched, with their position', opts, () => {
  const svc = 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}';
  const r = parsePolicies(`${svc}\n---\n${CNP}\n---\n[{"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "e"}}]`);
  assert.deepEqual(r.others.map((o) => [o.kind, o.apiVersion, o.document, o.path]), [
    ['Service', 'v1', 0, ''],
    ['EndpointSlice', 'discovery.k8s.io/v1', 2, '[0]'],
  ]);
  assert.deepEqual(r.others[0].object['spec'], { ports: [{ port: 80 }] });
});

test('namespaces: metadata, then the defaultNamespace option; cluster-wide objects have none', opts, () => {
  assert.deepEqual(ids(KNP, { defaultNamespace: 'team-a' }), ['NetworkPolicy team-a/b']);
  assert.deepEqual(ids(CNP, { defaultNamespace: 'team-a' }), ['CiliumNetworkPolicy prod/a']);
  const ccnp = 'apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: c, namespace: ignored}\nspec: {endpointSelector: {}}';
  assert.deepEqual(ids(ccnp), ['CiliumClusterwideNetworkPolicy c']);
});

test('empty input gives an empty result', opts, () => {
  assert.deepEqual(parsePolicies(''), { policies: [], others: [] });
  assert.deepEqual(parsePolicies('---\n# nothing\n'), { policies: [], others: [] });
});

test('syntax errors and duplicates are reported with their document', opts, () => {
  const err = (text: string): PolicyParseError => {
    try {
      parsePolicies(text);
    } catch (e) {
      if (e instanceof PolicyParseError) return e;
      throw e;
    }
    assert.fail('expected a PolicyParseError');
  };
  const syntax = err(`${CNP}\n---\nkind: [unclosed`);
  assert.equal(syntax.errors.length, 1);
  assert.equal(syntax.errors[0].document, 1);
  assert.match(syntax.errors[0].detail, /^YAML\/JSON syntax: /);
  const dupKey = err('a: 1\na: 2');
  assert.match(dupKey.errors[0].detail, /duplicated mapping key/);
  const dup = err(`${CNP}\n---\n${CNP}`);
  assert.deepEqual([dup.errors[0].document, dup.errors[0].path, dup.errors[0].detail], [1, 'metadata.name', 'CiliumNetworkPolicy prod/a is defined twice in the input (also at document 0)']);
  assert.match(dup.message, /^invalid policy: document 1: CiliumNetworkPolicy prod\/a: metadata.name: /);
});

test('one bad object rejects the whole input', opts, () => {
  assert.throws(() => parsePolicies(`${CNP}\n---\n${KNP.replace('podSelector: {}', 'podSelector: 7')}`), PolicyParseError);
});
