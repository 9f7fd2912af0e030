import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { LbUnsupportedError, LbValidationError } from '../model/index.js';
import { parseK8sManifests, parseK8sService, serviceFromK8s, type K8sEndpointSlice, type K8sService } from './index.js';

const T = { timeout: 10_000 };

// Compile-time check: objects from @kubernetes/client-node fit our shapes (tsc fails otherwise).
export function clientNodeObjectsFit(service: V1Service, slice: V1EndpointSlice): [K8sService, K8sEndpointSlice] {
  return [service, slice];
}

const WEB = parseK8sManifests(`
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  annotations:
    service.cilium.io/lb-algorithm: maglev
spec:
  type: ClusterIP
  clusterIP: 10.96.0.20
  clusterIPs: [10.96.0.20, fd00::20]
  selector: { app: web }
  sessionAffinity: ClientIP
  internalTrafficPolicy: Local
  ports:
  - name: http
    port: 80
    targetPort: http-alt
  - name: metrics
    port: 9090
  - name: dns
    protocol: UDP
    port: 53
    targetPort: 5353
`).services[0];

function withSpec(spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): K8sService {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc', namespace: 'ns', ...metadata }, spec: { clusterIP: '10.96.0.30', ports: [{ port: 80 }], ...spec } };
}

describe('parseK8sService', () => {
  test('multi-port service with named target port, dual-stack IPs, affinity default, Local policy, annotation', T, () => {
    assert.deepEqual(parseK8sService(WEB), {
      name: 'web',
      namespace: 'shop',
      clusterIP: '10.96.0.20',
      ports: [
        { name: 'http', protocol: 'TCP', port: 80, targetPort: 'http-alt' },
        { name: 'metrics', protocol: 'TCP', port: 9090, targetPort: 9090 },
        { name: 'dns', protocol: 'UDP', port: 53, targetPort: 5353 },
      ],
      selector: { app: 'web' },
      sessionAffinity: { timeoutSeconds: 10800 },
      trafficPolicy: 'Local',
      algorithm: 'maglev',
    });
  });

  test('an IPv6-first dual-stack service uses its IPv4 cluster IP', T, () => {
    assert.equal(parseK8sService(withSpec({ clusterIP: 'fd00::1', clusterIPs: ['fd00::1', '10.96.0.31'] })).clusterIP, '10.96.0.31');
  });

  test('defaults: namespace default, no selector, no affinity, Cluster policy, no algorithm', T, () => {
    const spec = parseK8sService({ metadata: { name: 'plain' }, spec: { clusterIP: '10.96.0.40', ports: [{ port: 443, targetPort: 8443 }], selector: {} } });
    assert.deepEqual(spec, { name: 'plain', namespace: 'default', clusterIP: '10.96.0.40', ports: [{ name: '', protocol: 'TCP', port: 443, targetPort: 8443 }], trafficPolicy: 'Cluster' });
  });

  const cases: { name: string; svc: K8sService; field: string; pattern: RegExp; unsupported?: boolean }[] = [
    { name: 'NodePort', svc: withSpec({ type: 'NodePort' }), field: 'spec.type', pattern: /"NodePort" is not supported; only ClusterIP/, unsupported: true },
    { name: 'LoadBalancer', svc: withSpec({ type: 'LoadBalancer' }), field: 'spec.type', pattern: /not supported/, unsupported: true },
    { name: 'ExternalName', svc: withSpec({ type: 'ExternalName' }), field: 'spec.type', pattern: /not supported/, unsupported: true },
    { name: 'headless', svc: withSpec({ clusterIP: 'None' }), field: 'spec.clusterIP', pattern: /headless/, unsupported: true },
    { name: 'IPv6-only', svc: withSpec({ clusterIP: 'fd00::1', clusterIPs: ['fd00::1'] }), field: 'spec.clusterIPs[0]', pattern: /IPv6-only/, unsupported: true },
    { name: 'no cluster IP yet', svc: withSpec({ clusterIP: '' }), field: 'spec.clusterIP', pattern: /no cluster IP allocated/ },
    { name: 'clusterIPs disagreeing with clusterIP', svc: withSpec({ clusterIPs: ['10.96.0.31'] }), field: 'spec.clusterIPs[0]', pattern: /must equal spec.clusterIP/ },
    { name: 'bad cluster IP', svc: withSpec({ clusterIP: '10.96.0.999' }), field: 'spec.clusterIP', pattern: /not an IPv4 address/ },
    { name: 'no ports', svc: withSpec({ ports: [] }), field: 'spec.ports', pattern: /at least one port/ },
    { name: 'port 0', svc: withSpec({ ports: [{ name: 'a', port: 80 }, { name: 'b', port: 0 }] }), field: 'spec.ports[1].port', pattern: /port 0 is out of range/ },
    { name: 'unnamed port among several', svc: withSpec({ ports: [{ name: 'a', port: 80 }, { port: 81 }] }), field: 'spec.ports[1].name', pattern: /every port needs a name/ },
    { name: 'duplicate port name', svc: withSpec({ ports: [{ name: 'a', port: 80 }, { name: 'a', port: 81 }] }), field: 'spec.ports[1].name', pattern: /duplicate port name "a"/ },
    { name: 'duplicate port/protocol', svc: withSpec({ ports: [{ name: 'a', port: 80 }, { name: 'b', port: 80, protocol: 'TCP' }] }), field: 'spec.ports[1]', pattern: /duplicate port 80\/TCP/ },
    { name: 'bad protocol', svc: withSpec({ ports: [{ port: 80, protocol: 'HTTP' }] }), field: 'spec.ports[0].protocol', pattern: /unknown protocol "HTTP"/ },
    { name: 'quoted numeric targetPort', svc: withSpec({ ports: [{ port: 80, targetPort: '8080' }] }), field: 'spec.ports[0].targetPort', pattern: /without quotes/ },
    { name: 'long targetPort name', svc: withSpec({ ports: [{ port: 80, targetPort: 'a-very-long-port-name' }] }), field: 'spec.ports[0].targetPort', pattern: /not a valid port name/ },
    { name: 'targetPort 70000', svc: withSpec({ ports: [{ port: 80, targetPort: 70000 }] }), field: 'spec.ports[0].targetPort', pattern: /out of range/ },
    { name: 'unknown affinity', svc: withSpec({ sessionAffinity: 'Cookie' }), field: 'spec.sessionAffinity', pattern: /expected None or ClientIP/ },
    {
      name: 'affinity timeout 0',
      svc: withSpec({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 0 } } }),
      field: 'spec.sessionAffinityConfig.clientIP.timeoutSeconds',
      pattern: /out of range 1\.\.86400/,
    },
    {
      name: 'affinity timeout 86401',
      svc: withSpec({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 86401 } } }),
      field: 'spec.sessionAffinityConfig.clientIP.timeoutSeconds',
      pattern: /out of range/,
    },
    { name: 'unknown internalTrafficPolicy', svc: withSpec({ internalTrafficPolicy: 'Node' }), field: 'spec.internalTrafficPolicy', pattern: /expected Cluster or Local/ },
    { name: 'bad selector value', svc: withSpec({ selector: { app: 1 } }), field: 'spec.selector["app"]', pattern: /must be a string/ },
    {
      name: 'unknown lb-algorithm',
      svc: withSpec({}, { annotations: { 'service.cilium.io/lb-algorithm': 'least-conn' } }),
      field: 'metadata.annotations["service.cilium.io/lb-algorithm"]',
      pattern: /expected random or maglev/,
    },
    { name: 'bad name', svc: withSpec({}, { name: 'Web' }), field: 'metadata.name', pattern: /not a DNS label/ },
    { name: 'wrong kind', svc: { ...withSpec({}), kind: 'Pod' }, field: 'kind', pattern: /expected Service/ },
    { name: 'no spec', svc: { metadata: { name: 'x' } }, field: 'spec', pattern: /needs a spec/ },
  ];
  for (const c of cases) {
    test(`rejects ${c.name} at ${c.field}`, T, () => {
      assert.throws(
        () => parseK8sService(c.svc),
        (e: unknown) =>
          e instanceof LbValidationError && e.field === c.field && c.pattern.test(e.reason) && e instanceof LbUnsupportedError === Boolean(c.unsupported),
      );
    });
  }
});

describe('serviceFromK8s', () => {
  test('one frontend per port on the cluster IP; annotation or default algorithm', T, () => {
    const service = serviceFromK8s(WEB);
    assert.deepEqual(service.frontends, [
      { address: '10.96.0.20', port: 80, protocol: 'TCP', portName: 'http' },
      { address: '10.96.0.20', port: 9090, protocol: 'TCP', portName: 'metrics' },
      { address: '10.96.0.20', port: 53, protocol: 'UDP', portName: 'dns' },
    ]);
    assert.equal(service.algorithm, 'maglev');
    assert.deepEqual(service.sessionAffinity, { timeoutSeconds: 10800 });
    assert.equal(service.trafficPolicy, 'Local');
    assert.deepEqual(service.sourceRanges, []);
    assert.equal(serviceFromK8s(withSpec({})).algorithm, 'random');
    assert.equal(serviceFromK8s(withSpec({}), [], { defaultAlgorithm: 'maglev' }).algorithm, 'maglev');
  });
});
