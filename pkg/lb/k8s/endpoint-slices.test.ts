import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backendsForFrontend, LbUnsupportedError, LbValidationError } from '../model/index.js';
import {
  backendsFromEndpointSlices,
  endpointState,
  parseEndpointSlice,
  parseK8sManifests,
  serviceFromK8s,
  type K8sEndpointConditions,
  type K8sEndpointSlice,
} from './index.js';

const T = { timeout: 10_000 };

const { services, endpointSlices } = parseK8sManifests(`
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec:
  clusterIP: 10.96.0.20
  selector: { app: web }
  ports:
  - { name: http, port: 80, targetPort: http-alt }
  - { name: dns, protocol: UDP, port: 53, targetPort: 5353 }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
  namespace: shop
  labels: { kubernetes.io/service-name: web }
addressType: IPv4
ports:
- { name: http, port: 8081, protocol: TCP }
- { name: dns, port: 5353, protocol: UDP }
endpoints:
- addresses: [10.244.2.9]
  conditions: { ready: true, serving: true, terminating: false }
  nodeName: node-b
- addresses: [10.244.1.5]
  nodeName: node-a
- addresses: [10.244.1.6]
  conditions: { ready: false, serving: true, terminating: true }
- addresses: [10.244.1.7]
  conditions: { ready: false, serving: false, terminating: false }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-def
  namespace: shop
  labels: { kubernetes.io/service-name: web }
addressType: IPv4
ports:
- { name: http, port: 8081 }
- { name: unused, port: null }
endpoints:
- addresses: [10.244.1.6]
  conditions: { ready: true }
- addresses: [10.244.3.3, 10.244.3.4]
  conditions: { ready: false, terminating: true }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-v6
  namespace: shop
  labels: { kubernetes.io/service-name: web }
addressType: IPv6
ports: [{ name: http, port: 8081 }]
endpoints: [{ addresses: ["fd00::5"] }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: other
  namespace: shop
  labels: { kubernetes.io/service-name: api }
addressType: IPv4
ports: [{ name: http, port: 8081 }]
endpoints: [{ addresses: [10.244.9.9] }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-elsewhere
  namespace: other
  labels: { kubernetes.io/service-name: web }
addressType: IPv4
ports: [{ name: http, port: 8081 }]
endpoints: [{ addresses: [10.244.8.8] }]
`);
const web = services[0];

describe('endpointState (condition mapping)', () => {
  const rows: [K8sEndpointConditions | undefined, 'active' | 'terminating' | undefined][] = [
    [undefined, 'active'],
    [{}, 'active'],
    [{ ready: true }, 'active'],
    [{ ready: null, serving: null, terminating: null }, 'active'],
    [{ ready: true, serving: true, terminating: true }, 'active'],
    [{ ready: false, serving: true, terminating: true }, 'terminating'],
    [{ ready: false, terminating: true }, 'terminating'],
    [{ ready: false, serving: false, terminating: true }, undefined],
    [{ ready: false, serving: true, terminating: false }, undefined],
    [{ ready: false }, undefined],
  ];
  for (const [conditions, expected] of rows) {
    test(`${JSON.stringify(conditions)} → ${String(expected)}`, T, () => assert.equal(endpointState(conditions), expected));
  }
});

describe('backendsFromEndpointSlices', () => {
  test('merges the slices of a service, per port, mapping conditions', T, () => {
    assert.deepEqual(backendsFromEndpointSlices(web, endpointSlices), [
      { address: '10.244.1.5', port: 5353, protocol: 'UDP', portName: 'dns', weight: 1, state: 'active', nodeName: 'node-a' },
      { address: '10.244.1.6', port: 5353, protocol: 'UDP', portName: 'dns', weight: 1, state: 'terminating' },
      { address: '10.244.2.9', port: 5353, protocol: 'UDP', portName: 'dns', weight: 1, state: 'active', nodeName: 'node-b' },
      { address: '10.244.1.5', port: 8081, protocol: 'TCP', portName: 'http', weight: 1, state: 'active', nodeName: 'node-a' },
      // Terminating in the first slice, ready in the second: the ready copy wins.
      { address: '10.244.1.6', port: 8081, protocol: 'TCP', portName: 'http', weight: 1, state: 'active' },
      { address: '10.244.2.9', port: 8081, protocol: 'TCP', portName: 'http', weight: 1, state: 'active', nodeName: 'node-b' },
      // Only the first of several addresses counts.
      { address: '10.244.3.3', port: 8081, protocol: 'TCP', portName: 'http', weight: 1, state: 'terminating' },
    ]);
  });

  test('order of slices does not matter', T, () => {
    assert.deepEqual(backendsFromEndpointSlices(web, [...endpointSlices].reverse()), backendsFromEndpointSlices(web, endpointSlices));
  });

  test('no slices: no backends; the translated service is still valid', T, () => {
    assert.deepEqual(backendsFromEndpointSlices(web, []), []);
    assert.deepEqual(serviceFromK8s(web, []).backends, []);
  });

  test('end to end: Service + slices → model, backends per frontend', T, () => {
    const service = serviceFromK8s(web, backendsFromEndpointSlices(web, endpointSlices));
    const [http, dns] = service.frontends;
    assert.deepEqual(backendsForFrontend(service, http).map((b) => `${b.address}:${b.port}`), ['10.244.1.5:8081', '10.244.1.6:8081', '10.244.2.9:8081', '10.244.3.3:8081']);
    assert.deepEqual(backendsForFrontend(service, dns).map((b) => `${b.address}:${b.port}/${b.state}`), [
      '10.244.1.5:5353/active',
      '10.244.1.6:5353/terminating',
      '10.244.2.9:5353/active',
    ]);
  });

  test('errors inside a slice name the slice and the field', T, () => {
    const bad: K8sEndpointSlice = {
      ...endpointSlices[0],
      endpoints: [{ addresses: ['10.244.1.300'] }],
    };
    assert.throws(
      () => backendsFromEndpointSlices(web, [endpointSlices[1], bad]),
      (e: unknown) => e instanceof LbValidationError && e.field === 'endpointSlices[1].endpoints[0].addresses[0]',
    );
  });
});

describe('parseEndpointSlice', () => {
  test('keeps usable ports and backend endpoints', T, () => {
    assert.deepEqual(parseEndpointSlice(endpointSlices[1]), {
      namespace: 'shop',
      serviceName: 'web',
      ports: [{ name: 'http', port: 8081, protocol: 'TCP' }],
      endpoints: [
        { address: '10.244.1.6', state: 'active' },
        { address: '10.244.3.3', state: 'terminating' },
      ],
    });
  });

  test('IPv6 and FQDN slices are unsupported', T, () => {
    for (const addressType of ['IPv6', 'FQDN']) {
      assert.throws(
        () => parseEndpointSlice({ ...endpointSlices[0], addressType }),
        (e: unknown) => e instanceof LbUnsupportedError && e.field === 'addressType',
      );
    }
  });

  const cases: [string, K8sEndpointSlice, string][] = [
    ['no service label', { addressType: 'IPv4', metadata: { name: 'x' } }, 'metadata.labels["kubernetes.io/service-name"]'],
    ['port 0', { ...endpointSlices[0], ports: [{ port: 0 }] }, 'ports[0].port'],
    ['bad port protocol', { ...endpointSlices[0], ports: [{ port: 80, protocol: 'tcp' }] }, 'ports[0].protocol'],
    ['endpoint without addresses', { ...endpointSlices[0], endpoints: [{ addresses: [] }] }, 'endpoints[0].addresses'],
    ['bad address', { ...endpointSlices[0], endpoints: [{ addresses: ['1.2.3.4'] }, { addresses: ['x'] }] }, 'endpoints[1].addresses[0]'],
    ['wrong kind', { ...endpointSlices[0], kind: 'Endpoints' }, 'kind'],
  ];
  for (const [name, slice, field] of cases) {
    test(`rejects ${name} at ${field}`, T, () => {
      assert.throws(() => parseEndpointSlice(slice), (e: unknown) => e instanceof LbValidationError && e.field === field);
    });
  }

  test('an unready endpoint with a bad address is skipped, not an error', T, () => {
    const slice = { ...endpointSlices[0], endpoints: [{ addresses: ['x'], conditions: { ready: false } }] };
    assert.deepEqual(parseEndpointSlice(slice).endpoints, []);
  });
});
