import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EndpointSelector, InvalidSelectorError, LabelSet, type LabelSelectorSpec } from './index.js';

const opts = { timeout: 10_000 };
const set = (...l: string[]): LabelSet => LabelSet.parse(l);

test('selector matching: every operator, with and without sources', opts, () => {
  const web = set('k8s:app=web', 'k8s:tier=front', 'container:team=a');
  const cases: [string, LabelSelectorSpec, boolean][] = [
    ['empty selector matches everything', {}, true],
    ['bare key matches any source', { matchLabels: { app: 'web' } }, true],
    ['explicit any source', { matchLabels: { 'any:app': 'web' } }, true],
    ['k8s source matches k8s label', { matchLabels: { 'k8s:app': 'web' } }, true],
    ['container source does not match k8s label', { matchLabels: { 'container:app': 'web' } }, false],
    ['reserved source does not match k8s label', { matchLabels: { 'reserved:app': 'web' } }, false],
    ['wrong value', { matchLabels: { app: 'db' } }, false],
    ['matchLabels are ANDed', { matchLabels: { app: 'web', tier: 'back' } }, false],
    ['In', { matchExpressions: [{ key: 'app', operator: 'In', values: ['db', 'web'] }] }, true],
    ['In, no value listed', { matchExpressions: [{ key: 'app', operator: 'In', values: ['db'] }] }, false],
    ['In on a missing key', { matchExpressions: [{ key: 'nope', operator: 'In', values: ['x'] }] }, false],
    ['NotIn', { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['db'] }] }, true],
    ['NotIn listed', { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] }, false],
    ['NotIn on a missing key matches (Kubernetes)', { matchExpressions: [{ key: 'nope', operator: 'NotIn', values: ['x'] }] }, true],
    ['Exists', { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, true],
    ['Exists with the wrong source', { matchExpressions: [{ key: 'k8s:team', operator: 'Exists' }] }, false],
    ['Exists with the right source', { matchExpressions: [{ key: 'container:team', operator: 'Exists' }] }, true],
    ['DoesNotExist', { matchExpressions: [{ key: 'nope', operator: 'DoesNotExist' }] }, true],
    ['DoesNotExist on a present key', { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, false],
    ['DoesNotExist with another source', { matchExpressions: [{ key: 'reserved:tier', operator: 'DoesNotExist' }] }, true],
    ['matchLabels AND matchExpressions', { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, false],
  ];
  for (const [name, spec, want] of cases) {
    assert.equal(EndpointSelector.fromLabelSelector(spec).matches(web), want, name);
  }
});

test('reserved labels are selected by reserved: keys', opts, () => {
  const host = set('reserved:host');
  assert.ok(EndpointSelector.fromLabelSelector({ matchLabels: { 'reserved:host': '' } }).matches(host));
  assert.ok(EndpointSelector.fromLabelSelector({ matchLabels: { host: '' } }).matches(host), 'any source also matches reserved');
  assert.ok(!EndpointSelector.fromLabelSelector({ matchLabels: { 'k8s:host': '' } }).matches(host));
});

test('selector key is canonical', opts, () => {
  const a = EndpointSelector.fromLabelSelector({ matchLabels: { app: 'web', 'k8s:x': '1' } });
  const b = EndpointSelector.fromLabelSelector({
    matchExpressions: [
      { key: 'k8s:x', operator: 'In', values: ['1'] },
      { key: 'app', operator: 'In', values: ['web'] },
    ],
  });
  assert.equal(a.key, b.key);
  assert.equal(a.toString(), '{any:app=web, k8s:x=1}');
  assert.equal(EndpointSelector.wildcard.toString(), '{}');
  assert.ok(EndpointSelector.wildcard.isWildcard);
  const c = EndpointSelector.fromLabelSelector({ matchExpressions: [{ key: 'a', operator: 'In', values: ['y', 'x', 'x'] }] });
  assert.equal(c.key, 'any:a in (x,y)');
});

test('invalid requirements are refused', opts, () => {
  assert.throws(() => EndpointSelector.fromLabelSelector({ matchExpressions: [{ key: 'a', operator: 'In' }] }), InvalidSelectorError);
  assert.throws(() => EndpointSelector.fromLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }), InvalidSelectorError);
  assert.throws(() => EndpointSelector.fromLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Equals', values: ['x'] }] }), InvalidSelectorError);
});

test('custom key splitting (used by the NetworkPolicy translation)', opts, () => {
  const sel = EndpointSelector.fromLabelSelector({ matchLabels: { app: 'web' } }, (k) => ({ source: 'k8s', key: k }));
  assert.ok(sel.matches(set('k8s:app=web')));
  assert.ok(!sel.matches(set('container:app=web')));
  assert.ok(sel.hasKey('app', ['k8s']));
  assert.ok(!sel.hasKey('app', ['any']));
});
