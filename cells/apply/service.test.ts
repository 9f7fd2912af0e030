// ApplyService with a recording handler: what an apply persists comes back on a restart, for JSON
// (kept as the manifest text) and YAML input alike, and bad input changes nothing.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { Logger } from '../../pkg/hive/index.js';
import { badRequest } from '../../pkg/api/index.js';
import { ApplyService } from './cell.js';
import { ObjectStore } from './store.js';
import type { ApplyHandler, ApplyItem } from './types.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Takes `Widget` objects; a widget without spec.size is refused. Records what it was given. */
function widgets(): ApplyHandler & { applied: Record<string, unknown>[] } {
  const applied: Record<string, unknown>[] = [];
  return {
    kinds: ['Widget'],
    applied,
    prepareApply(items: readonly ApplyItem[], ns: string) {
      for (const i of items) if (typeof (i.object.spec as { size?: unknown } | undefined)?.size !== 'number') throw badRequest(`${i.where}: spec.size is required`, `${i.where}: spec.size`);
      const objects = items.map((i) => ({ key: { kind: 'Widget', namespace: ns, name: (i.object.metadata as { name: string }).name }, source: i.object, item: i }));
      return { objects, commit: () => (applied.push(...items.map((i) => i.object)), applied.length) };
    },
    prepareDelete: (keys) => ({ objects: keys.map((key) => ({ key })), commit: () => 0 }),
    keysOf: (items, ns) => items.map((i) => ({ kind: 'Widget', namespace: ns, name: (i.object.metadata as { name: string }).name })),
  };
}

const widget = (name: string, size: number) => ({ apiVersion: 'x/v1', kind: 'Widget', metadata: { name }, spec: { size } });

describe('ApplyService persistence', () => {
  test('applied objects come back after a restart, from JSON and YAML input; refused input stores nothing', { timeout: 10_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-test-apply-'));
    dirs.push(dir);
    const file = path.join(dir, 'objects.jsonl');
    const log: Logger = { debug() {}, info() {}, warn() {}, error() {}, with: () => log, enabled: () => false };
    const first = widgets();
    const svc = new ApplyService([first], new ObjectStore(file), log);
    await svc.apply(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [widget('a', 1), widget('b', 2)] }, null, 1), { wait: false, namespace: 'default' });
    assert.match(fs.readFileSync(file, 'utf8'), /^\{"at":"[^"]+","refs":\{"ids":\["Widget\/default\/a","Widget\/default\/b"\],"paths":\[0,1\]\},"objects":\[\],"json":\{/, 'JSON kept as the manifest text');
    await svc.apply('apiVersion: x/v1\nkind: Widget\nmetadata: {name: c}\nspec: {size: 3}\n', { wait: false, namespace: 'default' });
    await assert.rejects(svc.apply(JSON.stringify([widget('d', 4), { ...widget('e', 5), spec: {} }]), { wait: false, namespace: 'default' }), /spec\.size is required/);
    await svc.apply(JSON.stringify(widget('a', 10)), { wait: false, namespace: 'default' });
    await svc.delete({ keys: [{ kind: 'Widget', namespace: 'default', name: 'b' }] }, { wait: false });

    const second = widgets();
    const restarted = new ApplyService([second], new ObjectStore(file), log);
    assert.equal(restarted.restore(log), 2);
    const sizes = Object.fromEntries(second.applied.map((o) => [(o.metadata as { name: string }).name, (o.spec as { size: number }).size]));
    assert.deepEqual(sizes, { a: 10, c: 3 });
  });
});
