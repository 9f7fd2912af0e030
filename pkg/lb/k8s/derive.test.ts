import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LbValidationError } from '../model/index.js';
import { deriveBackends, selectorMatches, type K8sService, type SelectableEndpoint } from './index.js';

const T = { timeout: 10_000 };

const svc: K8sService = {
  metadata: { name: 'web', namespace: 'shop' },
  spec: {
    clusterIP: '10.96.0.20',
    selector: { app: 'web', tier: 'front' },
    ports: [
      { name: 'http', port: 80, targetPort: 'http' },
      { name: 'admin', port: 81, targetPort: 9000 },
      { name: 'dns', port: 53, protocol: 'UDP', targetPort: 'dns' },
    ],
  },
};

const labels = { app: 'web', tier: 'front', version: 'v2' };
const pod = (ipv4: string, extra: Partial<SelectableEndpoint> = {}): SelectableEndpoint => ({
  namespace: 'shop',
  labels,
  ipv4,
  namedPorts: { http: { port: 8080 }, dns: { port: 5353, protocol: 'UDP' } },
  ready: true,
  ...extra,
});

describe('deriveBackends', () => {
  test('matches the selector in the service namespace, per port, numbered and named targets', T, () => {
    const backends = deriveBackends(svc, [
      pod('10.244.1.9', { nodeName: 'node-a' }),
      pod('10.244.1.5', { namedPorts: { http: { port: 8443 } } }), // no "dns" port: skipped for dns only
      pod('10.244.1.6', { namespace: 'other' }),
      pod('10.244.1.7', { labels: { app: 'web' } }),
      pod('10.244.1.8', { ready: false }),
      pod('10.244.1.4', { namedPorts: { http: { port: 8080, protocol: 'UDP' } } }), // protocol mismatch for http
    ]);
    assert.deepEqual(
      backends.map((b) => `${b.portName} ${b.address}:${b.port}/${b.protocol}${b.nodeName ? ' @' + b.nodeName : ''}`),
      [
        'admin 10.244.1.4:9000/TCP',
        'admin 10.244.1.5:9000/TCP',
        'admin 10.244.1.9:9000/TCP @node-a',
        'dns 10.244.1.9:5353/UDP @node-a',
        'http 10.244.1.5:8443/TCP',
        'http 10.244.1.9:8080/TCP @node-a',
      ],
    );
    assert.ok(backends.every((b) => b.state === 'active' && b.weight === 1));
  });

  test('a service without selector has no derived backends', T, () => {
    const manual: K8sService = { ...svc, spec: { ...svc.spec, selector: undefined } };
    assert.deepEqual(deriveBackends(manual, [pod('10.244.1.9')]), []);
  });

  test('endpoints sharing an address (host network) merge', T, () => {
    assert.equal(deriveBackends(svc, [pod('10.244.1.9'), pod('10.244.1.9')]).length, 3);
  });

  test('bad endpoint data names the endpoint', T, () => {
    assert.throws(() => deriveBackends(svc, [pod('10.244.1.9'), pod('10.244.1.999')]), (e: unknown) => e instanceof LbValidationError && e.field === 'endpoints[1].ipv4');
    assert.throws(
      () => deriveBackends(svc, [pod('10.244.1.9', { namedPorts: { http: { port: 0 } } })]),
      (e: unknown) => e instanceof LbValidationError && e.field === 'endpoints[0].namedPorts["http"].port',
    );
  });
});

describe('selectorMatches', () => {
  test('every key=value must be present', T, () => {
    assert.equal(selectorMatches({ app: 'web' }, { app: 'web', x: 'y' }), true);
    assert.equal(selectorMatches({ app: 'web', tier: 'front' }, { app: 'web' }), false);
    assert.equal(selectorMatches({ app: 'web' }, { app: 'api' }), false);
    assert.equal(selectorMatches({ toString: 'x' }, {}), false, 'no prototype keys');
  });
});
