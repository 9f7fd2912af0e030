import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  backendIdentity,
  backendsForFrontend,
  eligibleForNewConnections,
  LbUnsupportedError,
  LbValidationError,
  validateService,
  type ServiceInput,
} from './index.js';

const T = { timeout: 10_000 };

const base: ServiceInput = {
  name: 'web',
  namespace: 'shop',
  frontends: [{ address: '10.96.0.10', port: 80 }],
  backends: [{ address: '10.244.1.5', port: 8080 }],
};

function expectFieldError(input: ServiceInput, field: string, pattern: RegExp, kind: typeof LbValidationError = LbValidationError): void {
  assert.throws(
    () => validateService(input),
    (error: unknown) => {
      assert.ok(error instanceof kind, `expected ${kind.name}, got ${String(error)}`);
      assert.equal(error.field, field);
      assert.match(error.reason, pattern);
      assert.equal(error.message, `${field}: ${error.reason}`);
      return true;
    },
  );
}

describe('validateService', () => {
  test('fills defaults and returns a normalised service', T, () => {
    const service = validateService({
      name: 'web',
      frontends: [{ address: '10.96.0.10', port: 80 }],
      sourceRanges: ['192.168.0.0/16'],
    });
    assert.deepEqual(service, {
      name: 'web',
      namespace: 'default',
      type: 'ClusterIP',
      frontends: [{ address: '10.96.0.10', port: 80, protocol: 'TCP', portName: '' }],
      sourceRanges: ['192.168.0.0/16'],
      trafficPolicy: 'Cluster',
      algorithm: 'random',
      backends: [],
    });
  });

  test('backend defaults: TCP, weight 1, active; affinity default timeout 10800', T, () => {
    const service = validateService({ ...base, sessionAffinity: {} });
    assert.deepEqual(service.backends, [{ address: '10.244.1.5', port: 8080, protocol: 'TCP', portName: '', weight: 1, state: 'active' }]);
    assert.deepEqual(service.sessionAffinity, { timeoutSeconds: 10800 });
  });

  test('a service without backends is valid', T, () => {
    assert.deepEqual(validateService({ ...base, backends: [] }).backends, []);
  });

  test('keeps weight 0 and non-active states (known, but not for new connections)', T, () => {
    const service = validateService({
      ...base,
      backends: [
        { address: '10.244.1.5', port: 8080, weight: 0 },
        { address: '10.244.1.6', port: 8080, state: 'terminating' },
        { address: '10.244.1.7', port: 8080, state: 'maintenance', nodeName: 'node-a' },
      ],
    });
    assert.deepEqual(
      service.backends.map((b) => [b.weight, b.state, b.nodeName]),
      [[0, 'active', undefined], [1, 'terminating', undefined], [1, 'maintenance', 'node-a']],
    );
  });

  const cases: { name: string; input: ServiceInput; field: string; pattern: RegExp; kind?: typeof LbValidationError }[] = [
    { name: 'bad name', input: { ...base, name: 'Web_1' }, field: 'name', pattern: /not a DNS label/ },
    { name: 'long namespace', input: { ...base, namespace: 'a'.repeat(64) }, field: 'namespace', pattern: /longer than 63/ },
    { name: 'unsupported type', input: { ...base, type: 'NodePort' }, field: 'type', pattern: /not supported/, kind: LbUnsupportedError },
    { name: 'no frontends', input: { ...base, frontends: [] }, field: 'frontends', pattern: /at least one frontend/ },
    { name: 'bad frontend address', input: { ...base, frontends: [{ address: '10.96.0.300', port: 80 }] }, field: 'frontends[0].address', pattern: /not an IPv4 address/ },
    { name: 'leading zero octet', input: { ...base, frontends: [{ address: '10.96.0.010', port: 80 }] }, field: 'frontends[0].address', pattern: /not an IPv4 address/ },
    { name: 'unspecified address', input: { ...base, frontends: [{ address: '0.0.0.0', port: 80 }] }, field: 'frontends[0].address', pattern: /not a usable address/ },
    { name: 'multicast backend', input: { ...base, backends: [{ address: '224.0.0.1', port: 80 }] }, field: 'backends[0].address', pattern: /multicast/ },
    { name: 'port 0', input: { ...base, frontends: [{ address: '10.96.0.10', port: 0 }] }, field: 'frontends[0].port', pattern: /out of range 1\.\.65535/ },
    { name: 'port 65536', input: { ...base, backends: [{ address: '10.244.1.5', port: 65536 }] }, field: 'backends[0].port', pattern: /out of range/ },
    { name: 'fractional port', input: { ...base, backends: [{ address: '10.244.1.5', port: 80.5 }] }, field: 'backends[0].port', pattern: /must be an integer/ },
    { name: 'string port', input: { ...base, backends: [{ address: '10.244.1.5', port: '80' as unknown as number }] }, field: 'backends[0].port', pattern: /must be an integer/ },
    { name: 'unknown protocol', input: { ...base, frontends: [{ address: '10.96.0.10', port: 80, protocol: 'ICMP' as 'TCP' }] }, field: 'frontends[0].protocol', pattern: /unknown protocol "ICMP"/ },
    { name: 'lower-case protocol', input: { ...base, frontends: [{ address: '10.96.0.10', port: 80, protocol: 'tcp' as 'TCP' }] }, field: 'frontends[0].protocol', pattern: /unknown protocol/ },
    { name: 'duplicate frontend', input: { ...base, frontends: [{ address: '10.96.0.10', port: 80 }, { address: '10.96.0.10', port: 80, protocol: 'TCP' }] }, field: 'frontends[1]', pattern: /duplicate frontend 10\.96\.0\.10:80\/TCP/ },
    { name: 'duplicate backend', input: { ...base, backends: [{ address: '10.244.1.5', port: 8080 }, { address: '10.244.1.6', port: 8080 }, { address: '10.244.1.5', port: 8080 }] }, field: 'backends[2]', pattern: /duplicate backend 10\.244\.1\.5:8080\/TCP \(same as backends\[0\]\)/ },
    { name: 'backend serving no frontend', input: { ...base, backends: [{ address: '10.244.1.5', port: 53, protocol: 'UDP' }] }, field: 'backends[0]', pattern: /serves no frontend/ },
    { name: 'bad weight', input: { ...base, backends: [{ address: '10.244.1.5', port: 8080, weight: 70000 }] }, field: 'backends[0].weight', pattern: /weight 70000 is out of range 0\.\.65535/ },
    { name: 'negative weight', input: { ...base, backends: [{ address: '10.244.1.5', port: 8080, weight: -1 }] }, field: 'backends[0].weight', pattern: /out of range/ },
    { name: 'unknown state', input: { ...base, backends: [{ address: '10.244.1.5', port: 8080, state: 'draining' as 'active' }] }, field: 'backends[0].state', pattern: /unknown state "draining"/ },
    { name: 'bad CIDR', input: { ...base, sourceRanges: ['10.0.0.0/33'] }, field: 'sourceRanges[0]', pattern: /prefix length must be 0\.\.32/ },
    { name: 'CIDR without prefix', input: { ...base, sourceRanges: ['10.0.0.0'] }, field: 'sourceRanges[0]', pattern: /missing "\/<prefix length>"/ },
    { name: 'CIDR with host bits', input: { ...base, sourceRanges: ['10.1.2.3/8'] }, field: 'sourceRanges[0]', pattern: /host bits set; did you mean 10\.0\.0\.0\/8/ },
    { name: 'duplicate CIDR', input: { ...base, sourceRanges: ['10.0.0.0/8', '192.168.0.0/16', '10.0.0.0/8'] }, field: 'sourceRanges[2]', pattern: /duplicate source range/ },
    { name: 'affinity timeout 0', input: { ...base, sessionAffinity: { timeoutSeconds: 0 } }, field: 'sessionAffinity.timeoutSeconds', pattern: /affinity timeout 0 is out of range 1\.\.86400/ },
    { name: 'affinity timeout above a day', input: { ...base, sessionAffinity: { timeoutSeconds: 86401 } }, field: 'sessionAffinity.timeoutSeconds', pattern: /out of range 1\.\.86400/ },
    { name: 'unknown traffic policy', input: { ...base, trafficPolicy: 'Node' as 'Local' }, field: 'trafficPolicy', pattern: /expected one of Cluster, Local/ },
    { name: 'unknown algorithm', input: { ...base, algorithm: 'roundrobin' as 'random' }, field: 'algorithm', pattern: /expected one of random, maglev/ },
    { name: 'bad port name', input: { ...base, frontends: [{ address: '10.96.0.10', port: 80, portName: 'HTTP' }] }, field: 'frontends[0].portName', pattern: /not a DNS label/ },
    { name: 'empty nodeName', input: { ...base, backends: [{ address: '10.244.1.5', port: 8080, nodeName: '' }] }, field: 'backends[0].nodeName', pattern: /non-empty/ },
  ];
  for (const c of cases) {
    test(`rejects ${c.name} naming ${c.field}`, T, () => expectFieldError(c.input, c.field, c.pattern, c.kind));
  }

  test('too many backends', T, () => {
    const backends = Array.from({ length: 65536 }, (_, i) => ({ address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${(i & 255) + 0}`, port: 80 }));
    expectFieldError({ ...base, backends }, 'backends', /exceed the limit of 65535/);
  });

  test('the same address:port may serve two named ports', T, () => {
    const service = validateService({
      name: 'multi',
      frontends: [
        { address: '10.96.0.11', port: 80, portName: 'http' },
        { address: '10.96.0.11', port: 8080, portName: 'alt' },
      ],
      backends: [
        { address: '10.244.1.5', port: 8080, portName: 'http' },
        { address: '10.244.1.5', port: 8080, portName: 'alt' },
      ],
    });
    assert.equal(service.backends.length, 2);
  });
});

describe('backendsForFrontend and eligibility', () => {
  const dns = validateService({
    name: 'dns',
    frontends: [
      { address: '10.96.0.53', port: 53, protocol: 'UDP', portName: 'dns' },
      { address: '10.96.0.53', port: 53, protocol: 'TCP', portName: 'dns-tcp' },
    ],
    backends: [
      { address: '10.244.1.5', port: 53, protocol: 'UDP', portName: 'dns', nodeName: 'a' },
      { address: '10.244.1.6', port: 53, protocol: 'UDP', portName: 'dns', nodeName: 'b', state: 'terminating' },
      { address: '10.244.1.7', port: 53, protocol: 'UDP', portName: 'dns', weight: 0 },
      { address: '10.244.1.5', port: 53, protocol: 'TCP', portName: 'dns-tcp' },
    ],
  });

  test('backends are matched to frontends by port name and protocol', T, () => {
    assert.deepEqual(backendsForFrontend(dns, dns.frontends[0]).map(backendIdentity), ['10.244.1.5:53/UDP', '10.244.1.6:53/UDP', '10.244.1.7:53/UDP']);
    assert.deepEqual(backendsForFrontend(dns, dns.frontends[1]).map(backendIdentity), ['10.244.1.5:53/TCP']);
  });

  test('only active backends with weight > 0 take new connections', T, () => {
    const udp = backendsForFrontend(dns, dns.frontends[0]);
    assert.deepEqual(eligibleForNewConnections(udp).map((b) => b.address), ['10.244.1.5']);
  });

  test('Local policy keeps local backends; terminating fallback only when asked', T, () => {
    const udp = backendsForFrontend(dns, dns.frontends[0]);
    assert.deepEqual(eligibleForNewConnections(udp, { trafficPolicy: 'Local', localNodeName: 'a' }).map((b) => b.address), ['10.244.1.5']);
    assert.deepEqual(eligibleForNewConnections(udp, { trafficPolicy: 'Local', localNodeName: 'b' }), []);
    assert.deepEqual(
      eligibleForNewConnections(udp, { trafficPolicy: 'Local', localNodeName: 'b', terminatingFallback: true }).map((b) => b.address),
      ['10.244.1.6'],
    );
    assert.deepEqual(eligibleForNewConnections(udp, { trafficPolicy: 'Local' }), [], 'unknown local node: nothing is local');
  });
});
