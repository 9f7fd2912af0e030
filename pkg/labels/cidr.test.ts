import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrefixSyntaxError, canonicalPrefix, cidrLabels, cidrSelector, parsePrefix, prefixContains, supernets, formatPrefix } from './index.js';

const opts = { timeout: 10_000 };

test('prefixes are parsed and normalized', opts, () => {
  const cases: [string, string][] = [
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['192.168.1.7/32', '192.168.1.7/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['2001:DB8:0:0:1::1/128', '2001:db8::1:0:0:1/128'],
    ['::/0', '::/0'],
    ['::ffff:10.0.0.1/128', '::ffff:a00:1/128'],
    ['fe80::1:2/64', 'fe80::/64'],
  ];
  for (const [text, want] of cases) assert.equal(canonicalPrefix(text), want, text);
  assert.equal(canonicalPrefix('10.0.0.1', { allowBareAddress: true }), '10.0.0.1/32');
});

test('malformed prefixes are refused', opts, () => {
  for (const bad of ['10.0.0.0', '10.0.0/8', '10.0.0.256/8', '10.0.0.01/8', '10.0.0.0/33', '::1::/64', '2001:db8::/129', 'x/8', '10.0.0.0/']) {
    assert.throws(() => parsePrefix(bad), PrefixSyntaxError, bad);
  }
});

test('containment and supernets', opts, () => {
  const p = parsePrefix('10.244.0.0/16');
  assert.ok(prefixContains(parsePrefix('10.0.0.0/8'), p));
  assert.ok(prefixContains(p, p));
  assert.ok(!prefixContains(p, parsePrefix('10.0.0.0/8')));
  assert.ok(!prefixContains(parsePrefix('::/0'), p), 'families never contain each other');
  assert.deepEqual(supernets(parsePrefix('10.0.0.0/10')).map(formatPrefix).slice(0, 3), ['10.0.0.0/10', '10.0.0.0/9', '10.0.0.0/8']);
});

test('cidrLabels: every containing prefix plus reserved:world', opts, () => {
  const l = cidrLabels('10.244.0.0/16');
  assert.equal(l.size, 18);
  assert.ok(l.has('cidr', '10.244.0.0/16'));
  assert.ok(l.has('cidr', '10.0.0.0/8'));
  assert.ok(l.has('cidr', '0.0.0.0/0'));
  assert.ok(l.has('reserved', 'world'));
  assert.ok(cidrLabels('::/0').has('cidr', '0--0/0'));
  assert.ok(cidrLabels('2001:db8::/32').has('cidr', '2001-db8--0/32'));
});

test('cidrSelector with except', opts, () => {
  const sel = cidrSelector('10.0.0.0/8', ['10.96.0.0/12']);
  assert.ok(sel.matches(cidrLabels('10.244.0.0/16')));
  assert.ok(sel.matches(cidrLabels('10.0.0.0/8')));
  assert.ok(!sel.matches(cidrLabels('10.96.0.0/12')));
  assert.ok(!sel.matches(cidrLabels('10.100.0.0/16')), 'inside the except');
  assert.ok(!sel.matches(cidrLabels('192.168.0.0/16')));
});
