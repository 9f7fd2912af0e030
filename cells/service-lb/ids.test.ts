// The persisted pieces of service-lb: the JSON-lines journals and the id allocator on top of IdJournal.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { IdJournal, IdJournalCorruptError } from './id-journal.js';
import { IdAllocator, IdsExhaustedError } from './ids.js';
import { JournalCorruptError, JsonLinesStore } from '../../pkg/statefile/index.js';

describe('JsonLinesStore', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-ts-journal-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('sets and deletes survive a reload; only flushed changes are written', () => {
    const file = path.join(dir, 'sub', 'j.jsonl');
    const a = new JsonLinesStore<number>(file);
    a.load();
    a.set('x', 1);
    a.set('y', 2);
    a.flush();
    a.delete('x');
    a.set('z', 3);
    assert.deepEqual([...new JsonLinesStore<number>(file).load()], [['x', 1], ['y', 2]], 'not flushed yet');
    a.flush();
    assert.deepEqual([...new JsonLinesStore<number>(file).load()], [['y', 2], ['z', 3]]);
  });

  test('one change appends one line; the journal is compacted once it grew past twice the live entries plus slack', () => {
    const file = path.join(dir, 'j.jsonl');
    const s = new JsonLinesStore<number>(file, 10);
    s.load();
    s.set('k', 0);
    s.flush();
    // 1 live entry, slack 10: up to 2 * 1 + 10 = 12 lines are tolerated.
    for (let i = 1; i < 12; i++) {
      s.set('k', i);
      s.flush();
    }
    assert.equal(fs.readFileSync(file, 'utf8').trim().split('\n').length, 12);
    s.set('k', 12);
    s.flush();
    assert.equal(fs.readFileSync(file, 'utf8'), '["k",12]\n', 'compacted to the live entry');
  });

  test('a last line cut short by a crash is ignored; a corrupt line elsewhere is an error naming it', () => {
    const file = path.join(dir, 'j.jsonl');
    fs.writeFileSync(file, '["a",1]\n["b",2]\n["c",');
    assert.deepEqual([...new JsonLinesStore<number>(file).load()], [['a', 1], ['b', 2]]);
    assert.equal(fs.readFileSync(file, 'utf8'), '["a",1]\n["b",2]\n', 'rewritten without the torn line');
    fs.writeFileSync(file, '["a",1]\nnonsense\n["b",2]\n');
    assert.throws(() => new JsonLinesStore<number>(file).load(), (e: unknown) => e instanceof JournalCorruptError && /j\.jsonl:2: not JSON/.test(e.message));
  });
});

describe('IdAllocator', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-ts-ids-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function open(file: string, max = 5): { store: IdJournal; ids: IdAllocator } {
    const store = new IdJournal(file);
    // As the cell does: the allocator exists before the journal is loaded.
    const ids = new IdAllocator('test ids', max, store, 't');
    store.load();
    ids.restore();
    return { store, ids };
  }

  test('a key keeps its number; freed numbers come back only after the others (round robin)', () => {
    const { ids } = open(path.join(dir, 'ids.jsonl'));
    assert.equal(ids.acquire('a'), 1);
    assert.equal(ids.acquire('b'), 2);
    assert.equal(ids.acquire('a'), 1);
    ids.release('a');
    assert.equal(ids.acquire('c'), 3, 'not the just-freed 1');
    assert.equal(ids.acquire('d'), 4);
    assert.equal(ids.acquire('e'), 5);
    assert.equal(ids.acquire('f'), 1, 'wraps around to the free one');
    assert.throws(() => ids.acquire('g'), IdsExhaustedError);
  });

  test('numbers survive a restart as reservations; unclaimed ones are dropped', () => {
    const file = path.join(dir, 'ids.jsonl');
    const first = open(file, 100);
    for (const k of ['a', 'b', 'c']) first.ids.acquire(k);
    first.store.flush();
    const second = open(file, 100);
    assert.equal(second.ids.acquire('c'), 3);
    assert.equal(second.ids.acquire('a'), 1);
    assert.equal(second.ids.acquire('new'), 4, 'reserved numbers are not handed to new keys');
    assert.equal(second.ids.dropUnclaimed(), 1, 'b was not claimed again');
    assert.equal(second.ids.peek('b'), undefined);
    second.store.flush();
    assert.deepEqual([...open(file, 100).store.entries('t')].sort(), [['a', 1], ['c', 3], ['new', 4]]);
  });
});

describe('IdJournal', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-ts-idj-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const read = (file: string) => {
    const j = new IdJournal(file);
    j.load();
    return { frontend: [...j.entries('frontend')], backend: [...j.entries('backend')] };
  };

  test('one flush is one line of operations, replayed in order', () => {
    const file = path.join(dir, 'sub', 'ids.jsonl');
    const j = new IdJournal(file);
    j.load();
    j.set('backend', '10.0.0.1:80/TCP', 1);
    j.set('backend', '10.0.0.2:80/TCP', 2);
    j.set('frontend', '10.96.0.1:80/TCP', 1);
    j.delete('backend', '10.0.0.1:80/TCP');
    j.set('backend', '10.0.0.1:80/TCP', 3);
    j.delete('backend', 'never set');
    assert.deepEqual(read(file), { frontend: [], backend: [] }, 'nothing before flush');
    j.flush();
    j.flush();
    assert.equal(fs.readFileSync(file, 'utf8').trim().split('\n').length, 1);
    assert.deepEqual(read(file), { frontend: [['10.96.0.1:80/TCP', 1]], backend: [['10.0.0.2:80/TCP', 2], ['10.0.0.1:80/TCP', 3]] });
  });

  test('journals of older agents (JsonLinesStore lines "<namespace> <key>") still load', () => {
    const file = path.join(dir, 'ids.jsonl');
    fs.writeFileSync(file, '["frontend 10.96.0.1:80/TCP",7]\n["backend 10.0.0.1:80/TCP",4]\n["backend 10.0.0.2:80/TCP",5]\n["backend 10.0.0.1:80/TCP"]\n');
    assert.deepEqual(read(file), { frontend: [['10.96.0.1:80/TCP', 7]], backend: [['10.0.0.2:80/TCP', 5]] });
  });

  test('a torn last line is ignored, another bad line names file and line; long journals are compacted', () => {
    const file = path.join(dir, 'ids.jsonl');
    const j = new IdJournal(file, 4);
    j.load();
    for (let i = 0; i < 10; i++) {
      j.set('backend', 'k', i);
      j.flush();
    }
    // 1 live number, slack 4: compacted whenever more than 6 records accumulate.
    assert.ok(fs.readFileSync(file, 'utf8').trim().split('\n').length <= 6);
    fs.appendFileSync(file, '{"ops":[["backend","k",');
    assert.deepEqual(read(file).backend, [['k', 9]]);
    fs.writeFileSync(file, '{"ops":[["backend","k",1]]}\n{"ops":[["backend",1,2]]}\n{"ops":[]}\n');
    assert.throws(() => read(file), (e: unknown) => e instanceof IdJournalCorruptError && /ids\.jsonl:2: an operation is not/.test(e.message));
  });
});
