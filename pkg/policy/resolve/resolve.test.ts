// How each construct of the policy language becomes policy map entries. Entries are written
// `direction identity protocol port/prefix verdict`, identity names for readability.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from '../testing/cluster.js';
import { ALLOW_LOCALHOST } from './resolve.js';
import type { ResolvedPolicy } from './types.js';

const opts = { timeout: 10_000 };

/** A cluster with app1 (the subject, 256), app2 (257) and app3 (258) in `default`. */
function cluster(options: ConstructorParameters<typeof TestCluster>[0] = {}): TestCluster {
  const c = new TestCluster(options);
  c.pod('app1', { labels: { id: 'app1' }, ip: '10.244.0.1', namedPorts: [{ name: 'http', port: 8080, protocol: 6 }] });
  c.pod('app2', { labels: { id: 'app2' }, ip: '10.244.0.2', namedPorts: [{ name: 'web', port: 8000, protocol: 6 }] });
  c.pod('app3', { labels: { id: 'app3' }, ip: '10.244.0.3', namedPorts: [{ name: 'web', port: 9000, protocol: 6 }] });
  return c;
}

function names(c: TestCluster): Map<number, string> {
  const m = new Map<number, string>([[0, 'any'], [1, 'host'], [2, 'world'], [3, 'unmanaged'], [4, 'health'], [5, 'init'], [6, 'remote-node'], [7, 'kube-apiserver']]);
  for (const p of c.pods.values()) m.set(p.identity, p.name);
  for (const p of c.repo.referencedPrefixes()) m.set(c.cidrIdentity(p)!, `cidr:${p}`);
  return m;
}

/** Entries as text, e.g. `ingress app2 6 80/16 allow`. */
function entries(c: TestCluster, pod = 'app1', direction?: 'ingress' | 'egress'): string[] {
  const n = names(c);
  return c.policyOf(pod).entries
    .filter((e) => direction === undefined || e.direction === direction)
    .map((e) => `${e.direction} ${n.get(e.identity) ?? e.identity} ${e.protocol} ${e.port}/${e.portPrefixLen} ${e.deny ? 'deny' : 'allow'}`);
}

const cnp = (spec: string, name = 'p'): string => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ${name}, namespace: default}
spec:
  endpointSelector: {matchLabels: {id: app1}}
${spec.replace(/^/gm, '  ')}`;

test('the Cilium classic example: app2 may reach app1 on 80/TCP only', opts, () => {
  const c = cluster();
  c.apply(cnp(`ingress:
- fromEndpoints: [{matchLabels: {id: app2}}]
  toPorts: [{ports: [{port: "80", protocol: TCP}]}]`));
  assert.deepEqual(entries(c), ['ingress host 0 0/0 allow', 'ingress app2 6 80/16 allow']);
  const p: ResolvedPolicy = c.policyOf('app1');
  assert.equal(p.ingressEnforced, true);
  assert.equal(p.egressEnforced, false);
  assert.deepEqual(p.entries[1].derivedFrom, [{ kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'p' }]);
  assert.deepEqual(p.entries[0].derivedFrom, [ALLOW_LOCALHOST]);
  assert.equal(c.verdict('app2', 'app1', 80).ingress, 'allowed');
  assert.equal(c.verdict('app3', 'app1', 80).ingress, 'denied');
  assert.equal(c.verdict('app2', 'app1', 22).ingress, 'denied');
  assert.equal(c.verdict('app2', 'app1', 80, 'UDP').ingress, 'denied');
  assert.equal(c.verdict('host', 'app1', 22).ingress, 'allowed', 'the local host is always allowed');
  assert.equal(c.verdict('app1', 'app3', 5432).egress, 'allowed', 'egress is not enforced');
});

test('toPorts: protocol ANY, port 0, endPort', opts, () => {
  const cases: [string, string[]][] = [
    ['{port: "80"}', ['ingress app2 6 80/16 allow', 'ingress app2 17 80/16 allow', 'ingress app2 132 80/16 allow']],
    ['{port: "80", protocol: ANY}', ['ingress app2 6 80/16 allow', 'ingress app2 17 80/16 allow', 'ingress app2 132 80/16 allow']],
    ['{port: "0", protocol: UDP}', ['ingress app2 17 0/0 allow']],
    ['{port: "80", endPort: 83, protocol: TCP}', ['ingress app2 6 80/14 allow']],
    ['{port: 1024, endPort: 65535, protocol: SCTP}', ['1024/6', '2048/5', '4096/4', '8192/3', '16384/2', '32768/1'].map((b) => `ingress app2 132 ${b} allow`)],
  ];
  for (const [port, want] of cases) {
    const c = cluster();
    c.apply(cnp(`ingress:
- fromEndpoints: [{matchLabels: {id: app2}}]
  toPorts: [{ports: [${port}]}]`));
    assert.deepEqual(entries(c, 'app1', 'ingress').filter((e) => !e.includes('host')), want, port);
  }
});

test('entities become reserved identities; all becomes identity 0', opts, () => {
  const cases: [string, string[]][] = [
    ['[world]', ['world']],
    ['[host]', ['host']],
    ['[remote-node]', ['remote-node', 'kube-apiserver']],
    ['[health, init]', ['health', 'init']],
    ['[cluster]', ['host', 'unmanaged', 'health', 'init', 'remote-node', 'kube-apiserver', 'app1', 'app2', 'app3']],
    ['[all]', ['any']],
    ['[none]', []],
  ];
  for (const [ents, want] of cases) {
    const c = cluster();
    c.apply(cnp(`egress:\n- toEntities: ${ents}`));
    const got = entries(c, 'app1', 'egress').map((e) => e.split(' ')[1]);
    assert.deepEqual(got, want, ents);
  }
});

test('fromCIDR and fromCIDRSet select CIDR identities; except prefixes get identities that are not selected', opts, () => {
  const c = cluster();
  c.apply(cnp(`ingress:
- fromCIDR: [192.168.0.0/16]
- fromCIDRSet: [{cidr: 10.0.0.0/8, except: [10.96.0.0/12]}]`));
  assert.deepEqual(c.repo.referencedPrefixes(), ['10.0.0.0/8', '10.96.0.0/12', '192.168.0.0/16']);
  assert.deepEqual(entries(c, 'app1', 'ingress'), ['ingress host 0 0/0 allow', 'ingress cidr:10.0.0.0/8 0 0/0 allow', 'ingress cidr:192.168.0.0/16 0 0/0 allow']);
  assert.ok(c.allowed('ip:192.168.3.4', 'app1', 80));
  assert.ok(c.allowed('ip:10.1.2.3', 'app1', 80));
  assert.ok(!c.allowed('ip:10.100.0.1', 'app1', 80), 'inside the except');
  assert.ok(!c.allowed('ip:172.16.0.1', 'app1', 80));
  // Pod addresses carry the CIDR identity of the longest referenced prefix too (ipBlock semantics).
  assert.ok(c.allowed('app2', 'app1', 80));
});

test('deny wins: deny on a port beats allow on all ports', opts, () => {
  const c = cluster();
  c.apply(cnp(`ingress:
- fromEndpoints: [{matchLabels: {id: app2}}]
ingressDeny:
- fromEndpoints: [{matchLabels: {id: app2}}]
  toPorts: [{ports: [{port: "22", protocol: TCP}]}]`));
  assert.deepEqual(entries(c), ['ingress host 0 0/0 allow', 'ingress app2 0 0/0 allow', 'ingress app2 6 22/16 deny']);
  assert.equal(c.verdict('app2', 'app1', 22).ingress, 'denied-by-denylist');
  assert.equal(c.verdict('app2', 'app1', 80).ingress, 'allowed');
});

test('deny on a range vs allow on one port inside it: the allow entry is dropped', opts, () => {
  const c = cluster();
  c.apply(cnp(`ingress:
- fromEndpoints: [{matchLabels: {id: app2}}]
  toPorts: [{ports: [{port: "81", protocol: TCP}]}]
ingressDeny:
- fromEndpoints: [{matchLabels: {id: app2}}]
  toPorts: [{ports: [{port: "80", endPort: 83, protocol: TCP}]}]`));
  // An allow 81/16 entry would be the longest match for port 81 and win over the deny 80/14.
  assert.deepEqual(entries(c), ['ingress host 0 0/0 allow', 'ingress app2 6 80/14 deny']);
  assert.equal(c.verdict('app2', 'app1', 81).ingress, 'denied-by-denylist');
});

test('allow on a range vs deny on one port inside it: both stay, the deny is longer', opts, () => {
  const c = cluster();
  c.apply(cnp(`ingress:
- fromEndpoints: [{matchLabels: {id: app2}}]
  toPorts: [{ports: [{port: "80", endPort: 83, protocol: TCP}]}]
ingressDeny:
- fromEndpoints: [{matchLabels: {id: app2}}]
  toPorts: [{ports: [{port: "81", protocol: TCP}]}]`));
  assert.deepEqual(entries(c), ['ingress host 0 0/0 allow', 'ingress app2 6 80/14 allow', 'ingress app2 6 81/16 deny']);
  assert.equal(c.verdict('app2', 'app1', 80).ingress, 'allowed');
  assert.equal(c.verdict('app2', 'app1', 81).ingress, 'denied-by-denylist');
  assert.equal(c.verdict('app2', 'app1', 83).ingress, 'allowed');
});

test('an L3 deny drops every allow of that identity; a deny for all identities is checked separately', opts, () => {
  const c = cluster();
  c.apply(cnp(`ingress:
- fromEndpoints: [{matchLabels: {id: app2}}, {matchLabels: {id: app3}}]
  toPorts: [{ports: [{port: "80", protocol: TCP}]}]
ingressDeny:
- fromEndpoints: [{matchLabels: {id: app3}}]
- fromEntities: [all]
  toPorts: [{ports: [{port: "80", protocol: TCP}]}]`));
  assert.deepEqual(entries(c), ['ingress any 6 80/16 deny', 'ingress host 0 0/0 allow', 'ingress app2 6 80/16 allow', 'ingress app3 0 0/0 deny']);
  assert.equal(c.verdict('app2', 'app1', 80).ingress, 'denied-by-denylist', 'identity-0 deny wins over the app2 allow');
});

test('a rule with only ingressDeny still makes the endpoint default-deny', opts, () => {
  const c = cluster();
  c.apply(cnp(`ingressDeny:
- fromEndpoints: [{matchLabels: {id: app3}}]`));
  const p = c.policyOf('app1');
  assert.equal(p.ingressEnforced, true);
  assert.equal(c.verdict('app3', 'app1', 80).ingress, 'denied-by-denylist');
  assert.equal(c.verdict('app2', 'app1', 80).ingress, 'denied');
});

test('enableDefaultDeny: false adds allows without making the endpoint default-deny', opts, () => {
  const c = cluster();
  c.apply(cnp(`enableDefaultDeny: {ingress: false}
ingressDeny:
- fromEndpoints: [{matchLabels: {id: app3}}]`));
  assert.deepEqual(entries(c), ['ingress any 0 0/0 allow', 'ingress host 0 0/0 allow', 'ingress app3 0 0/0 deny']);
  assert.ok(c.allowed('app2', 'app1', 80));
  assert.ok(!c.allowed('app3', 'app1', 80));
  // A second, default-deny rule selecting the endpoint turns default-deny on.
  c.apply(cnp(`ingress:\n- fromEndpoints: [{matchLabels: {id: app2}}]`, 'q'));
  assert.ok(!entries(c).includes('ingress any 0 0/0 allow'));
  assert.ok(c.allowed('app2', 'app1', 80));
  assert.ok(!c.allowed('ip:1.1.1.1', 'app1', 80));
});

test('ingress: [{}] enforces and allows nothing; ingress: [] does not enforce', opts, () => {
  const c = cluster();
  c.apply(cnp('ingress: [{}]'));
  assert.deepEqual(entries(c), ['ingress host 0 0/0 allow']);
  assert.ok(!c.allowed('app2', 'app1', 80));
  const d = cluster();
  d.apply(cnp('ingress: []'));
  assert.equal(d.policyOf('app1').ingressEnforced, false);
  assert.deepEqual(entries(d), []);
});

test('a section with ports but no peers applies to every peer; an explicitly empty peer list to none', opts, () => {
  const c = cluster();
  c.apply(cnp(`ingress:
- toPorts: [{ports: [{port: "80", protocol: TCP}]}]
- fromEndpoints: []
  toPorts: [{ports: [{port: "443", protocol: TCP}]}]`));
  assert.deepEqual(entries(c), ['ingress any 6 80/16 allow', 'ingress host 0 0/0 allow']);
});

test('enforcement modes', opts, () => {
  const always = cluster({ enforcementMode: 'always' });
  const p = always.policyOf('app2');
  assert.deepEqual([p.ingressEnforced, p.egressEnforced], [true, true]);
  assert.deepEqual(entries(always, 'app2'), ['ingress host 0 0/0 allow']);
  assert.equal(always.verdict('app2', 'app3', 80).egress, 'denied');
  const never = cluster({ enforcementMode: 'never' });
  never.apply(cnp('ingress: [{}]'));
  assert.deepEqual(never.policyOf('app1'), { ingressEnforced: false, egressEnforced: false, entries: [], selectorKeys: [], matchingRules: [] });
  assert.ok(never.allowed('app2', 'app1', 80));
});

test('ingress named ports resolve to the endpoint\'s own ports', opts, () => {
  const cases: [string, string[]][] = [
    ['{port: http}', ['ingress app2 6 8080/16 allow']],
    ['{port: http, protocol: TCP}', ['ingress app2 6 8080/16 allow']],
    ['{port: http, protocol: UDP}', []], // the declared protocol contradicts the rule
    ['{port: metrics}', []], // not declared by app1: matches nothing
  ];
  for (const [port, want] of cases) {
    const c = cluster();
    c.apply(cnp(`ingress:
- fromEndpoints: [{matchLabels: {id: app2}}]
  toPorts: [{ports: [${port}]}]`));
    assert.deepEqual(entries(c, 'app1', 'ingress').filter((e) => !e.includes('host')), want, port);
    assert.equal(c.policyOf('app1').ingressEnforced, true);
  }
});

test('egress named ports resolve per destination identity', opts, () => {
  const c = cluster();
  c.apply(cnp(`egress:
- toEndpoints: [{}]
  toPorts: [{ports: [{port: web}]}]`));
  assert.deepEqual(entries(c, 'app1', 'egress'), ['egress app2 6 8000/16 allow', 'egress app3 6 9000/16 allow']);
  assert.ok(c.allowed('app1', 'app2', 8000));
  assert.ok(!c.allowed('app1', 'app2', 9000));
  assert.ok(c.allowed('app1', 'app3', 9000));
});

test('only L3 allows match ICMP', opts, () => {
  const c = cluster();
  c.apply(cnp(`ingress:
- fromEndpoints: [{matchLabels: {id: app2}}]
- fromEndpoints: [{matchLabels: {id: app3}}]
  toPorts: [{ports: [{port: "0"}]}]`));
  assert.ok(c.allowed('app2', 'app1', 8, 'ICMP'));
  assert.ok(!c.allowed('app3', 'app1', 8, 'ICMP'));
  assert.ok(c.allowed('app3', 'app1', 8, 'TCP'));
});

test('a deny for the host entity overrides the implicit host allow', opts, () => {
  const c = cluster();
  c.apply(cnp('ingressDeny:\n- fromEntities: [host]'));
  assert.deepEqual(entries(c), ['ingress host 0 0/0 deny']);
  assert.equal(c.verdict('host', 'app1', 80).ingress, 'denied-by-denylist');
});

test('selectorKeys name the selectors the result depends on', opts, () => {
  const c = cluster();
  c.apply(cnp(`ingress:
- fromEndpoints: [{matchLabels: {id: app2}}]
- fromEntities: [all]
  toPorts: [{ports: [{port: "53", protocol: UDP}]}]`));
  const p = c.policyOf('app1');
  // The wildcard (entity all) resolves to identity 0 and depends on no identity.
  assert.deepEqual(p.selectorKeys, ['any:id=app2, k8s:io.kubernetes.pod.namespace=default']);
  assert.deepEqual(p.matchingRules, [{ kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'p' }]);
  assert.deepEqual(c.policyOf('app2').selectorKeys, [], 'app2 is not selected by any rule');
  // Egress named ports with a wildcard peer depend on every identity: the wildcard key is listed.
  c.apply(cnp('egress:\n- toPorts: [{ports: [{port: web}]}]', 'named'));
  assert.ok(c.policyOf('app1').selectorKeys.includes(''));
});

test('entries from several rules are merged and remember every source', opts, () => {
  const c = cluster();
  c.apply(cnp('ingress:\n- fromEndpoints: [{matchLabels: {id: app2}}]', 'b'));
  c.apply(cnp('ingress:\n- fromEndpoints: [{matchLabels: {id: app2}}]', 'a'));
  const e = c.policyOf('app1').entries.find((x) => x.identity === c.pods.get('app2')!.identity)!;
  assert.deepEqual(e.derivedFrom.map((r) => r.name), ['a', 'b']);
});

test('incremental flow: a new identity changes a selector that the endpoint depends on', opts, () => {
  const c = cluster();
  c.apply(cnp('ingress:\n- fromEndpoints: [{matchLabels: {role: client}}]'));
  const before = c.policyOf('app1');
  assert.deepEqual(entries(c), ['ingress host 0 0/0 allow']);
  // A pod with a new label set appears: the cache reports which selectors changed.
  const changed = c.cache.upsertIdentity(900, c.pods.get('app2')!.labels.union([{ source: 'k8s', key: 'role', value: 'client' }]));
  assert.ok(changed.some((k) => before.selectorKeys.includes(k)), 'app1 must be recomputed');
  assert.deepEqual(c.policyOf('app1').entries.map((e) => e.identity), [1, 900]);
  // An unrelated identity changes nothing app1 depends on.
  const unrelated = c.cache.upsertIdentity(901, c.pods.get('app3')!.labels);
  assert.ok(!unrelated.some((k) => before.selectorKeys.includes(k)));
});
