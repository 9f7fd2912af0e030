// Unit tests of the address and MAC text codecs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIp, formatMac, parseIp, parseMac, parsePrefix } from './ip.js';
import { AF_INET, AF_INET6 } from './constants.js';

test('IPv4 addresses round-trip in network byte order', { timeout: 5_000 }, () => {
  const ip = parseIp('10.244.250.7');
  assert.equal(ip.family, AF_INET);
  assert.deepEqual([...ip.bytes], [10, 244, 250, 7]);
  assert.equal(formatIp(ip.bytes), '10.244.250.7');
});

test('IPv6 addresses parse and print like inet_ntop', { timeout: 5_000 }, () => {
  const cases: [string, string, string][] = [
    ['fd00::1', 'fd000000000000000000000000000001', 'fd00::1'],
    ['::', '00000000000000000000000000000000', '::'],
    ['2001:db8:0:0:1:0:0:1', '20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['::ffff:10.244.250.1', '00000000000000000000ffff0af4fa01', '::ffff:10.244.250.1'],
    ['::1', '00000000000000000000000000000001', '::1'],
    ['fe80::1:2:3:4', 'fe800000000000000001000200030004', 'fe80::1:2:3:4'],
  ];
  for (const [text, hex, printed] of cases) {
    const ip = parseIp(text);
    assert.equal(ip.family, AF_INET6, text);
    assert.equal(ip.bytes.toString('hex'), hex, text);
    assert.equal(formatIp(ip.bytes), printed, text);
  }
});

test('prefixes: explicit length, bare address, default', { timeout: 5_000 }, () => {
  assert.equal(parsePrefix('10.244.250.0/24').prefixLen, 24);
  assert.equal(parsePrefix('10.244.250.9').prefixLen, 32);
  assert.equal(parsePrefix('fd00::/8').prefixLen, 8);
  const def = parsePrefix('default');
  assert.equal(def.prefixLen, 0);
  assert.equal(formatIp(def.bytes), '0.0.0.0');
  assert.throws(() => parsePrefix('10.0.0.0/33'), TypeError);
  assert.throws(() => parsePrefix('10.0.0.0/x'), TypeError);
  assert.throws(() => parseIp('10.0.0.256'), TypeError);
});

test('MAC addresses', { timeout: 5_000 }, () => {
  assert.equal(formatMac(parseMac('02:AA:bb:0c:dd:0E')), '02:aa:bb:0c:dd:0e');
  assert.equal(formatMac(parseMac('02-00-00-00-00-01')), '02:00:00:00:00:01');
  assert.throws(() => parseMac('02:00:00:00:00'), TypeError);
});
