import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EndpointSelector, LabelSet, cidrLabels, cidrSelector, reservedIdentities } from '../../labels/index.js';
import { SelectorCache } from './selector-cache.js';

const opts = { timeout: 10_000 };
const sel = (ml: Record<string, string>): EndpointSelector => EndpointSelector.fromLabelSelector({ matchLabels: ml });
const labels = (...l: string[]): LabelSet => LabelSet.parse(l);
const ids = (s: ReadonlySet<number>): number[] => [...s].sort((a, b) => a - b);

test('a selector registered after identities sees them', opts, () => {
  const c = new SelectorCache(reservedIdentities());
  c.upsertIdentity(256, labels('k8s:app=web'));
  c.upsertIdentity(257, labels('k8s:app=db'));
  const web = sel({ app: 'web' });
  c.register(web);
  assert.deepEqual(ids(c.selections(web)), [256]);
  assert.deepEqual(ids(c.selections(sel({ 'reserved:world': '' }))), [2], 'unregistered selectors are evaluated on the spot');
});

test('identity updates report exactly the selectors whose selection changed', opts, () => {
  const c = new SelectorCache();
  const web = sel({ app: 'web' });
  const prod = sel({ env: 'prod' });
  const all = EndpointSelector.wildcard;
  for (const s of [web, prod, all]) c.register(s);
  assert.deepEqual(c.upsertIdentity(256, labels('k8s:app=web', 'k8s:env=dev')), ['', web.key].sort());
  assert.deepEqual(c.upsertIdentity(256, labels('k8s:app=web', 'k8s:env=dev')), [], 'same labels: no change');
  assert.deepEqual(c.upsertIdentity(256, labels('k8s:app=web', 'k8s:env=prod')), [prod.key], 'relabel: only prod changed');
  assert.deepEqual(c.upsertIdentity(256, labels('k8s:app=db', 'k8s:env=prod')), [web.key]);
  assert.deepEqual(ids(c.selections(web)), []);
  assert.deepEqual(ids(c.selections(prod)), [256]);
  assert.deepEqual(c.deleteIdentity(256), ['', prod.key].sort());
  assert.deepEqual(c.deleteIdentity(256), [], 'already gone');
  assert.deepEqual(ids(c.selections(all)), []);
});

test('CIDR identities are selected through their prefix labels', opts, () => {
  const c = new SelectorCache();
  const s = cidrSelector('10.0.0.0/8', ['10.96.0.0/12']);
  c.register(s);
  const id = (n: number): number => (1 << 24) | n;
  assert.deepEqual(c.upsertIdentity(id(1), cidrLabels('10.0.0.0/8')), [s.key]);
  assert.deepEqual(c.upsertIdentity(id(2), cidrLabels('10.96.0.0/12')), []);
  assert.deepEqual(c.upsertIdentity(id(3), cidrLabels('10.244.0.0/16')), [s.key]);
  assert.deepEqual(ids(c.selections(s)), [id(1), id(3)]);
});

test('registration is reference-counted by selector key', opts, () => {
  const c = new SelectorCache();
  const a = sel({ app: 'web' });
  const b = EndpointSelector.fromLabelSelector({ matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] });
  assert.equal(c.register(a), c.register(b), 'same requirements, same key');
  assert.equal(c.refCount(a), 2);
  assert.ok(c.release(a));
  assert.ok(c.isRegistered(b));
  assert.ok(c.release(b.key));
  assert.ok(!c.isRegistered(a));
  assert.ok(!c.release(a));
  assert.deepEqual(c.upsertIdentity(300, labels('k8s:app=web')), [], 'released selectors are no longer tracked');
});

test('labelsOf and identities', opts, () => {
  const c = new SelectorCache(reservedIdentities());
  assert.equal(c.labelsOf(1)?.toString(), 'reserved:host');
  assert.equal(c.labelsOf(999), undefined);
  assert.equal(c.identities().size, 7);
});
