import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { readManifest } from './manifest.js';
import { ObjectStore, ObjectStoreCorruptError } from './store.js';
import type { ObjectKey } from './types.js';

const dirs: string[] = [];
function tmpFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-test-objstore-'));
  dirs.push(dir);
  return path.join(dir, 'state', 'objects.jsonl');
}
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const svc = (name: string, port = 80): { key: ObjectKey; source: Record<string, unknown> } => ({
  key: { kind: 'Service', namespace: 'default', name },
  source: { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ port }] } },
});
const names = (s: ObjectStore) => s.list().map((o) => `${o.key.name}:${(o.source.spec as { ports: { port: number }[] }).ports[0].port}`);

describe('apply object store', () => {
  test('a reloaded store holds what was applied and not what was deleted, in order', { timeout: 10_000 }, async () => {
    const file = tmpFile();
    const s = new ObjectStore(file);
    assert.deepEqual(s.load(), []);
    await s.upsert([svc('a'), svc('b'), svc('c'), { key: { kind: 'Service', namespace: 'default', name: 'no-source' } }]);
    await s.upsert([svc('a', 81)]);
    await s.delete([svc('b').key, svc('missing').key]);
    // One line per apply, one per deletion.
    assert.equal(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length, 3);
    const again = new ObjectStore(file);
    const loaded = again.load();
    assert.deepEqual(names(again), ['a:81', 'c:80']);
    assert.deepEqual(loaded[0].key, { kind: 'Service', namespace: 'default', name: 'a' });
    assert.match(loaded[0].appliedAt, /^\d{4}-\d\d-\d\dT/);
    // Loading compacted the journal to the live objects (a line per apply, or one if both had the same
    // time), and it loads the same.
    assert.ok(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length <= 2);
    const third = new ObjectStore(file);
    third.load();
    assert.deepEqual(names(third), ['a:81', 'c:80']);
  });

  test('objects of a JSON manifest are stored as the manifest text and their paths in it', { timeout: 10_000 }, async () => {
    const file = tmpFile();
    const s = new ObjectStore(file);
    s.load();
    const list = { apiVersion: 'v1', kind: 'List', items: [svc('a').source, { apiVersion: 'v1', kind: 'List', items: [svc('b').source, svc('c').source] }] };
    const text = JSON.stringify(list, null, 2); // line breaks and indentation, as people write it
    const { items, json } = readManifest(text);
    assert.equal(json, true);
    assert.deepEqual(items.map((i) => i.path), [['items', 0], ['items', 1, 'items', 0], ['items', 1, 'items', 1]]);
    // c is stored as a handler changed it (a new object): by value.
    const changed = { ...items[2].object, metadata: { name: 'c', namespace: 'default', labels: { x: 'y' } } };
    await s.upsert([
      { key: svc('a').key, source: items[0].object, item: items[0] },
      { key: svc('b').key, source: items[1].object, item: items[1] },
      { key: svc('c').key, source: changed, item: items[2] },
    ], text);
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.length, 1, 'one line, the manifest without its line breaks');
    const line = JSON.parse(lines[0]) as { refs: { ids: string[]; paths: unknown[] }; objects: unknown[]; json: unknown };
    assert.deepEqual(line.refs, { ids: ['Service/default/a', 'Service/default/b'], paths: [0, ['items', 1, 'items', 0]] });
    assert.equal(line.objects.length, 1);
    assert.deepEqual(line.json, list);
    const again = new ObjectStore(file);
    again.load();
    assert.deepEqual(again.list().map((o) => [o.key.name, o.source]).sort(), [['a', svc('a').source], ['b', svc('b').source], ['c', changed]]);
    // YAML (no text given) and mostly changed objects are stored by value.
    await s.upsert([{ key: svc('d').key, source: svc('d').source }]);
    const third = new ObjectStore(file);
    third.load();
    assert.deepEqual(names(third).sort(), ['a:80', 'b:80', 'c:80', 'd:80']);
    assert.ok(!fs.readFileSync(file, 'utf8').includes('"refs"'), 'compacted by value on load');
  });

  test('writes not awaited in between reach the journal in the order they were made', { timeout: 10_000 }, async () => {
    const file = tmpFile();
    const s = new ObjectStore(file, 2);
    s.load();
    // The third write is a compaction (slack 2); the fourth appends after it.
    const writes = [s.upsert([svc('a', 1)]), s.upsert([svc('a', 2), svc('b', 1)]), s.upsert([svc('a', 3)]), s.delete([svc('b').key]), s.upsert([svc('a', 4)])];
    await Promise.all(writes);
    const again = new ObjectStore(file);
    again.load();
    assert.deepEqual(names(again), ['a:4']);
  });

  test('journals of older agents (one [key, object] line per object) still load', { timeout: 10_000 }, async () => {
    const file = tmpFile();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const a = svc('a');
    fs.writeFileSync(file, [JSON.stringify(['Service/default/a', { ...a, appliedAt: 't1' }]), JSON.stringify(['Service/default/gone', { ...svc('gone'), appliedAt: 't1' }]), JSON.stringify(['Service/default/gone'])].join('\n') + '\n');
    const s = new ObjectStore(file);
    s.load();
    assert.deepEqual(names(s), ['a:80']);
    assert.equal(s.list()[0].appliedAt, 't1');
  });

  test('a torn last line is ignored; any other bad line names the file and line', { timeout: 10_000 }, async () => {
    const file = tmpFile();
    const s = new ObjectStore(file);
    await s.upsert([svc('a')]);
    fs.appendFileSync(file, '{"at":"x","objects":[{"key":');
    const t = new ObjectStore(file);
    t.load();
    assert.deepEqual(names(t), ['a:80']);
    fs.writeFileSync(file, '{"at":"x","objects":[{"key":{"kind":"Service"},"source":{}}]}\n[]\n');
    assert.throws(() => new ObjectStore(file).load(), (e: Error) => e instanceof ObjectStoreCorruptError && e.message === `${file}:1: a batch entry is not a stored object`);
  });

  test('the journal is compacted once it holds many superseded records', { timeout: 10_000 }, async () => {
    const file = tmpFile();
    const s = new ObjectStore(file, 10);
    s.load();
    for (let i = 0; i < 30; i++) await s.upsert([svc('a', 1000 + i), svc('b', 2000 + i)]);
    // Without compaction there would be 30 lines of 2 records; with it, at most 2 live + 10 slack records.
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    assert.ok(lines.length <= 6, `${lines.length} lines`);
    const again = new ObjectStore(file);
    again.load();
    assert.deepEqual(names(again), ['a:1029', 'b:2029']);
  });
});
