import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LbValidationError } from '../model/index.js';
import { parseK8sManifests } from './index.js';

const T = { timeout: 10_000 };

describe('parseK8sManifests', () => {
  test('collects Services and EndpointSlices across documents and Lists, ignores other kinds', T, () => {
    const { services, endpointSlices } = parseK8sManifests(`
apiVersion: v1
kind: Service
metadata: { name: a }
spec: { clusterIP: 10.96.0.1, ports: [{ port: 80 }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: d }
---
---
apiVersion: v1
kind: List
items:
- { apiVersion: v1, kind: Service, metadata: { name: b } }
- { apiVersion: discovery.k8s.io/v1, kind: EndpointSlice, metadata: { name: s }, addressType: IPv4 }
- { apiVersion: discovery.k8s.io/v1beta1, kind: EndpointSlice, metadata: { name: old } }
`);
    assert.deepEqual(services.map((s) => s.metadata?.name), ['a', 'b']);
    assert.deepEqual(endpointSlices.map((s) => s.metadata?.name), ['s']);
  });

  test('JSON is YAML too', T, () => {
    assert.equal(parseK8sManifests('{"apiVersion":"v1","kind":"Service","metadata":{"name":"j"}}').services.length, 1);
    assert.deepEqual(parseK8sManifests(''), { services: [], endpointSlices: [] });
  });

  test('syntax errors name the document', T, () => {
    assert.throws(
      () => parseK8sManifests('kind: Service\n---\nkind: [unclosed\n'),
      (e: unknown) => e instanceof LbValidationError && e.field === 'manifest[1]',
    );
  });
});
