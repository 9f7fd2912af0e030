import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  cidrContains,
  formatIPv4,
  LbValidationError,
  parseBackend,
  parseBackendList,
  parseFrontend,
  parseIPv4,
  parseIPv4Cidr,
  parseSessionAffinity,
} from './index.js';

const T = { timeout: 10_000 };

function throwsField(fn: () => unknown, field: string, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => error instanceof LbValidationError && error.field === field && pattern.test(error.reason));
}

describe('CLI parsers', () => {
  test('frontend IP:PORT[/proto]', T, () => {
    assert.deepEqual(parseFrontend('10.96.0.10:80'), { address: '10.96.0.10', port: 80, protocol: 'TCP' });
    assert.deepEqual(parseFrontend('10.96.0.10:53/udp'), { address: '10.96.0.10', port: 53, protocol: 'UDP' });
    assert.deepEqual(parseFrontend(' 10.96.0.10:9000/SCTP '), { address: '10.96.0.10', port: 9000, protocol: 'SCTP' });
  });

  const bad: [string, RegExp][] = [
    ['10.96.0.10', /not of the form IP:PORT/],
    ['10.96.0.10:', /not of the form/],
    ['10.96.0.10:http', /port "http" is not a number/],
    ['10.96.0.10:0', /out of range 1\.\.65535/],
    ['10.96.0.10:70000', /out of range/],
    ['10.96.0.10:80/icmp', /unknown protocol "icmp"/],
    ['10.96.0.10:80/', /unknown protocol ""/],
    ['10.96.0.256:80', /not an IPv4 address/],
    ['10.96.0.10:80@2', /not of the form IP:PORT\[\/tcp\|udp\|sctp\]$/],
    ['[::1]:80', /not of the form/],
  ];
  for (const [text, pattern] of bad) {
    test(`frontend "${text}" is rejected naming the flag`, T, () => throwsField(() => parseFrontend(text, '--frontend'), '--frontend', pattern));
  }

  test('backend with weight and default protocol', T, () => {
    assert.deepEqual(parseBackend('10.244.1.5:8080@3'), { address: '10.244.1.5', port: 8080, protocol: 'TCP', weight: 3 });
    assert.deepEqual(parseBackend('10.244.1.5:53', 'b', 'UDP'), { address: '10.244.1.5', port: 53, protocol: 'UDP' });
    assert.deepEqual(parseBackend('10.244.1.5:53/tcp@0', 'b', 'UDP'), { address: '10.244.1.5', port: 53, protocol: 'TCP', weight: 0 });
    throwsField(() => parseBackend('10.244.1.5:80@x'), 'backend', /weight "x" is not a number/);
    throwsField(() => parseBackend('10.244.1.5:80@70000'), 'backend', /weight 70000 is out of range/);
  });

  test('comma-separated backend lists name the bad item', T, () => {
    assert.deepEqual(parseBackendList(''), []);
    assert.deepEqual(parseBackendList('  '), []);
    assert.deepEqual(parseBackendList('10.244.1.5:8080, 10.244.2.7:8080@2'), [
      { address: '10.244.1.5', port: 8080, protocol: 'TCP' },
      { address: '10.244.2.7', port: 8080, protocol: 'TCP', weight: 2 },
    ]);
    throwsField(() => parseBackendList('10.244.1.5:8080,10.244.1.6'), 'backends[1]', /not of the form/);
    throwsField(() => parseBackendList('10.244.1.5:8080,,10.244.1.6:80', '--backends'), '--backends[1]', /empty item/);
  });

  test('session affinity forms', T, () => {
    assert.equal(parseSessionAffinity('none'), undefined);
    assert.deepEqual(parseSessionAffinity('clientip'), { timeoutSeconds: 10800 });
    assert.deepEqual(parseSessionAffinity('ClientIP:60'), { timeoutSeconds: 60 });
    throwsField(() => parseSessionAffinity('clientip:0'), 'sessionAffinity', /out of range 1\.\.86400/);
    throwsField(() => parseSessionAffinity('clientip:86401'), 'sessionAffinity', /out of range/);
    throwsField(() => parseSessionAffinity('cookie:60', '--affinity'), '--affinity', /not of the form none \| clientip/);
  });
});

describe('IPv4 helpers', () => {
  test('parse and format round-trip', T, () => {
    assert.equal(parseIPv4('10.96.0.10'), 0x0a60000a);
    assert.equal(parseIPv4('255.255.255.255'), 0xffffffff);
    assert.equal(formatIPv4(0x0a60000a), '10.96.0.10');
    for (const bad of ['1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.-4', ' 1.2.3.4', '1.2.3.4 ', '256.0.0.0', '']) {
      assert.equal(parseIPv4(bad), undefined, bad);
    }
  });

  test('CIDRs are canonical and containment works', T, () => {
    const cidr = parseIPv4Cidr('10.244.0.0/16', 'c');
    assert.deepEqual(cidr, { address: '10.244.0.0', prefixLength: 16 });
    assert.equal(cidrContains(cidr, '10.244.255.1'), true);
    assert.equal(cidrContains(cidr, '10.245.0.1'), false);
    assert.equal(cidrContains(parseIPv4Cidr('0.0.0.0/0', 'c'), '1.2.3.4'), true);
    throwsField(() => parseIPv4Cidr('10.0.0.0/08', 'c'), 'c', /prefix length/);
  });
});
