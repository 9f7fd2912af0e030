// The tracer (label-level rule evaluation) and the resolver + datapath model (identity-level
// map entries, longest-prefix match, deny wins) must always agree. This walks a mix of every
// construct over every pair of peers, ports and protocols.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from './testing/cluster.js';
import { trace } from './trace/index.js';
import type { EnforcementMode } from './resolve/index.js';

const POLICIES = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: prod}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: client}}}, {namespaceSelector: {matchLabels: {team: b}}}]
    ports: [{port: 80}, {port: http}, {protocol: UDP, port: 5000, endPort: 5003}]
  - from: [{ipBlock: {cidr: 192.0.2.0/24, except: [192.0.2.128/25]}}]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
    ports: [{port: db}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: web}}]
  - toPorts: [{ports: [{port: "81", endPort: 82, protocol: TCP}]}]
  ingressDeny:
  - fromEntities: [world]
    toPorts: [{ports: [{port: "81"}]}]
  - fromCIDR: [10.244.2.0/24]
  egressDeny:
  - toCIDRSet: [{cidr: 0.0.0.0/0, except: [10.244.0.0/16]}]
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: dev}
spec:
  endpointSelector: {matchLabels: {k8s:io.kubernetes.pod.namespace: dev}}
  enableDefaultDeny: {egress: false}
  egressDeny:
  - toEndpoints: [{matchLabels: {app: db}}]
    toPorts: [{ports: [{port: "80", endPort: 83, protocol: TCP}]}]
  egress:
  - toEndpoints: [{matchLabels: {app: db}}]
    toPorts: [{ports: [{port: "81", protocol: TCP}]}]
  ingress:
  - fromEntities: [cluster]
    toPorts: [{ports: [{port: "80", protocol: ANY}]}]
  - fromCIDR: [192.0.2.0/25]
`;

function cluster(mode: EnforcementMode): TestCluster {
  const c = new TestCluster({ enforcementMode: mode });
  c.namespace('prod', { team: 'a' }).namespace('dev', { team: 'b' });
  c.pod('web', { namespace: 'prod', labels: { app: 'web' }, ip: '10.244.1.1', namedPorts: [{ name: 'http', port: 8080, protocol: 6 }] });
  c.pod('db', { namespace: 'prod', labels: { app: 'db' }, ip: '10.244.1.2', namedPorts: [{ name: 'db', port: 5432, protocol: 6 }] });
  c.pod('client', { namespace: 'prod', labels: { app: 'client' }, ip: '10.244.1.3' });
  c.pod('client-dev', { namespace: 'dev', labels: { app: 'client' }, ip: '10.244.2.3' });
  c.pod('db-dev', { namespace: 'dev', labels: { app: 'db' }, ip: '10.244.2.2', namedPorts: [{ name: 'db', port: 5433, protocol: 6 }] });
  c.apply(POLICIES);
  return c;
}

const PEERS = ['web', 'db', 'client', 'client-dev', 'db-dev', 'host', 'ip:192.0.2.1', 'ip:192.0.2.200', 'ip:198.51.100.7'];
const PROBES: [number, 'TCP' | 'UDP' | 'SCTP' | 'ICMP'][] = [
  [80, 'TCP'], [81, 'TCP'], [82, 'TCP'], [83, 'TCP'], [8080, 'TCP'], [5432, 'TCP'], [5433, 'TCP'], [22, 'TCP'],
  [80, 'UDP'], [5001, 'UDP'], [5004, 'UDP'], [80, 'SCTP'], [8, 'ICMP'],
];

for (const mode of ['default', 'always', 'never'] as const) {
  test(`trace and resolve+lookup agree (mode ${mode})`, { timeout: 60_000 }, () => {
    const c = cluster(mode);
    let allowed = 0;
    let checked = 0;
    for (const src of PEERS) {
      for (const dst of PEERS) {
        if (src === dst || (!c.pods.has(src) && !c.pods.has(dst))) continue;
        for (const [port, proto] of PROBES) {
          const datapath = c.verdict(src, dst, port, proto);
          const t = trace({ src: c.labelSetsOf(src), dst: c.labelSetsOf(dst), dport: port, protocol: proto, dstNamedPorts: c.pods.get(dst)?.namedPorts ?? [] }, c.repo, { enforcementMode: mode });
          const where = `${src} -> ${dst} ${port}/${proto}`;
          if (c.pods.has(src)) assert.equal(t.egress.verdict, datapath.egress === 'allowed' ? 'allowed' : 'denied', `egress ${where}`);
          if (c.pods.has(dst)) assert.equal(t.ingress.verdict, datapath.ingress === 'allowed' ? 'allowed' : 'denied', `ingress ${where}`);
          if (c.pods.has(dst) && t.ingress.reason === 'denied-by-rule') assert.equal(datapath.ingress, 'denied-by-denylist', where);
          if (c.pods.has(dst) && t.ingress.reason === 'default-deny') assert.equal(datapath.ingress, 'denied', where);
          checked++;
          if (datapath.allowed) allowed++;
        }
      }
    }
    // The matrix must exercise both outcomes to mean anything.
    assert.ok(checked > 500, `${checked} probes`);
    if (mode === 'never') assert.equal(allowed, checked);
    else assert.ok(allowed > 20 && allowed < checked - 20, `${allowed} of ${checked} allowed`);
  });
}

test('spot checks of the mixed policy set', { timeout: 10_000 }, () => {
  const c = cluster('default');
  assert.ok(c.allowed('client', 'web', 8080), 'named port http');
  assert.ok(c.allowed('client-dev', 'web', 5002, 'UDP'), 'namespace team b, UDP range');
  assert.ok(c.allowed('ip:192.0.2.1', 'web', 9999), 'ipBlock');
  assert.ok(!c.allowed('ip:192.0.2.200', 'web', 9999), 'ipBlock except');
  assert.ok(c.allowed('web', 'db', 5432), 'egress named port of db; db allows web');
  assert.ok(!c.allowed('web', 'db-dev', 5432), 'db-dev declares db=5433');
  assert.equal(c.verdict('ip:198.51.100.7', 'db', 81).ingress, 'denied-by-denylist', 'world denied on 81');
  assert.equal(c.verdict('ip:198.51.100.7', 'db', 82).ingress, 'allowed', 'L4-only rule on 81-82');
  assert.equal(c.verdict('client-dev', 'db', 80).ingress, 'denied-by-denylist', 'fromCIDR deny of 10.244.2.0/24');
  assert.equal(c.verdict('db', 'ip:198.51.100.7', 443).egress, 'denied-by-denylist', 'db may not leave the pod network');
  assert.equal(c.verdict('client-dev', 'db', 81).egress, 'denied-by-denylist', 'dev: deny 80-83 to db wins over allow 81');
  assert.equal(c.verdict('client-dev', 'ip:198.51.100.7', 443).egress, 'allowed', 'dev: egress without default-deny');
  assert.equal(c.verdict('client', 'client-dev', 80, 'UDP').ingress, 'allowed', 'cluster entity, protocol ANY');
});
