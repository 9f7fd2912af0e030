import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LabelSet, LabelSyntaxError, formatLabel, parseLabel, parseSelectLabel } from './index.js';

const opts = { timeout: 10_000 };

test('parseLabel splits source, key and value', opts, () => {
  const cases: [string, string, string, string][] = [
    // text, source, key, value
    ['k8s:app=web', 'k8s', 'app', 'web'],
    ['reserved:host', 'reserved', 'host', ''],
    ['$host', 'reserved', 'host', ''],
    ['cidr:10.0.0.0/8', 'cidr', '10.0.0.0/8', ''],
    ['app=web', 'unspec', 'app', 'web'], // Cilium's ParseLabel: no source → unspec
    ['app=a:b', 'unspec', 'app', 'a:b'], // a ':' in the value is not a source separator
    ['k8s:io.kubernetes.pod.namespace=default', 'k8s', 'io.kubernetes.pod.namespace', 'default'],
    ['k8s:empty=', 'k8s', 'empty', ''],
  ];
  for (const [text, source, key, value] of cases) {
    assert.deepEqual({ ...parseLabel(text) }, { source, key, value }, text);
  }
});

test('selecting labels default to the any source; endpoint labels can default to k8s', opts, () => {
  assert.equal(parseSelectLabel('app=web').source, 'any');
  assert.equal(parseSelectLabel('k8s:app=web').source, 'k8s');
  assert.equal(parseLabel('app=web', 'k8s').source, 'k8s');
});

test('parseLabel rejects an empty key or a malformed source', opts, () => {
  assert.throws(() => parseLabel('k8s:'), LabelSyntaxError);
  assert.throws(() => parseLabel('=x'), LabelSyntaxError);
  assert.throws(() => parseLabel('K 8s:app'), LabelSyntaxError);
});

test('formatLabel is the inverse of parseLabel', opts, () => {
  for (const text of ['k8s:app=web', 'reserved:host', 'cidr:10.0.0.0/8', 'container:a=b:c']) {
    assert.equal(formatLabel(parseLabel(text)), text);
  }
});

test('LabelSet is canonical: order of construction does not change the key', opts, () => {
  const a = LabelSet.parse(['k8s:b=2', 'k8s:a=1', 'reserved:host']);
  const b = LabelSet.parse(['reserved:host', 'k8s:a=1', 'k8s:b=2']);
  assert.equal(a.key, b.key);
  assert.ok(a.equals(b));
  // Cilium's kvstore form: sorted by key, `source:key=value;` each.
  assert.equal(a.key, 'k8s:a=1;k8s:b=2;reserved:host=;');
  assert.equal(a.toString(), 'k8s:a=1,k8s:b=2,reserved:host');
  assert.ok(LabelSet.fromKey(a.key).equals(a));
});

test('LabelSet keeps one label per (source, key); the last value wins', opts, () => {
  const s = LabelSet.parse(['k8s:app=a', 'k8s:app=b', 'container:app=c']);
  assert.deepEqual(s.toStrings(), ['container:app=c', 'k8s:app=b']);
  assert.equal(s.get('k8s', 'app'), 'b');
  assert.deepEqual(s.find('any', 'app').map(formatLabel), ['container:app=c', 'k8s:app=b']);
  assert.equal(s.has('reserved', 'app'), false);
});

test('LabelSet.fromRecord and union', opts, () => {
  const s = LabelSet.fromRecord({ app: 'web' }, 'k8s').union([parseLabel('k8s:app=db'), parseLabel('k8s:tier=1')]);
  assert.deepEqual(s.toStrings(), ['k8s:app=db', 'k8s:tier=1']);
});
