// The local backend's object store: every object applied through `cilia apply` (or `policy import`),
// as its source document, persisted so that a restarted agent applies the same objects again. An
// append-only journal (<state-dir>/objects.jsonl): applying one object to a store of 20,000 appends one
// line instead of rewriting megabytes.
//
// Line formats (one JSON value per line):
//   {"at": ISO time, "objects": [{"key": ObjectKey, "source": {...}}, ...]}   stores a whole apply
//   {"at", "refs": [{"key", "path"}, ...], "objects": [...], "json": <manifest>}   the same for JSON input
//   ["Kind/namespace/name"]                                                  deletes one object
//   ["Kind/namespace/name", {"key", "source", "appliedAt"}]                  stores one (older agents)
// Why one line per apply: a 10,000-Service manifest is then one JSON.stringify call producing one big
// string, instead of 20,000 strings that the garbage collector copies around until they are joined;
// that cut the store phase of such an apply from ~120 ms to ~40 ms.
// Why `json`: when the manifest came as JSON and the objects to store are its objects unchanged, the
// line carries the manifest text as it came (it is JSON already; line breaks, which can only be
// whitespace there, become spaces) and each object's path in it, instead of serializing 6 MB of
// objects again (~40-80 ms for 10,000 Services).
//
// Durability as pkg/statefile's JsonLinesStore: not fsynced (an agent restart keeps the page cache).
// A torn last line (the agent died mid-append) is ignored.

import fs from 'node:fs';
import path from 'node:path';
import type { ObjectKey } from './types.js';

/** One stored object. */
export interface StoredObject {
  readonly key: ObjectKey;
  readonly source: Readonly<Record<string, unknown>>;
  readonly appliedAt: string;
}

/** The journal is corrupt (a line that is neither a batch nor an entry). */
export class ObjectStoreCorruptError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'ObjectStoreCorruptError';
  }
}

/** A batch line. */
interface Batch {
  readonly at: string;
  readonly objects: readonly { readonly key: ObjectKey; readonly source: Readonly<Record<string, unknown>> }[];
  /** Objects stored by their place in `json` (the manifest as applied). */
  readonly refs?: readonly { readonly key: ObjectKey; readonly path: readonly (string | number)[] }[];
  readonly json?: unknown;
}

/** The value at `path` in `doc` (undefined when the path leads nowhere). */
function at(doc: unknown, path: readonly unknown[]): unknown {
  let v = doc;
  for (const k of path) {
    if (typeof v !== 'object' || v === null || (typeof k !== 'string' && typeof k !== 'number')) return undefined;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}

const id = (k: ObjectKey): string => `${k.kind}/${k.namespace}/${k.name}`;

/** The entries that carry a source, as batch objects. */
function entriesByValue(entries: readonly { key: ObjectKey; source?: Readonly<Record<string, unknown>> }[]): Batch['objects'][number][] {
  const out: Batch['objects'][number][] = [];
  for (const e of entries) if (e.source) out.push({ key: e.key, source: e.source });
  return out;
}

function isKey(k: unknown): k is ObjectKey {
  const o = k as ObjectKey | null;
  return typeof o === 'object' && o !== null && typeof o.kind === 'string' && typeof o.namespace === 'string' && typeof o.name === 'string';
}

/**
 * The persisted objects, keyed by kind/namespace/name. `upsert` and `delete` append to the journal at
 * once (they throw on I/O errors, before the caller reports success). The journal is compacted (rewritten
 * with the live objects, via a temporary file and rename) on load and when it holds more than twice as
 * many object records as live objects plus `slack`.
 */
export class ObjectStore {
  private readonly live = new Map<string, StoredObject>();
  /** Object records in the journal file (live or superseded). */
  private records = 0;

  /**
   * @param file the journal (its directory is created on the first write)
   * @param slack extra records tolerated before a compaction (default 1000)
   */
  constructor(
    readonly file: string,
    private readonly slack = 1000,
  ) {}

  /**
   * Loads the persisted objects (in the order they were first applied) and compacts the journal.
   * Throws ObjectStoreCorruptError naming the line of a record that is not one (a torn last line is ignored).
   */
  load(): StoredObject[] {
    this.live.clear();
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const rows = text.split('\n');
    rows.forEach((row, i) => {
      if (row === '') return;
      let line: unknown;
      try {
        line = JSON.parse(row);
      } catch {
        if (i === rows.length - 1) return; // a last line without its newline: cut short by a crash, never completed
        throw new ObjectStoreCorruptError(this.file, i + 1, 'not JSON');
      }
      this.replay(line, i + 1);
    });
    this.compact();
    return this.list();
  }

  private replay(line: unknown, lineNo: number): void {
    const bad = (why: string) => new ObjectStoreCorruptError(this.file, lineNo, why);
    if (Array.isArray(line)) {
      if (typeof line[0] !== 'string' || line.length > 2) throw bad('not a [key, object] or [key] entry');
      if (line.length === 1) {
        this.live.delete(line[0]);
        return;
      }
      const o = line[1] as StoredObject;
      if (!isKey(o?.key) || typeof o.source !== 'object' || o.source === null) throw bad('not a stored object');
      this.live.set(line[0], { key: o.key, source: o.source, appliedAt: String(o.appliedAt) });
      return;
    }
    const b = line as Batch | null;
    if (typeof b !== 'object' || b === null || typeof b.at !== 'string' || !Array.isArray(b.objects)) throw bad('not a batch of objects');
    if (b.refs !== undefined && !Array.isArray(b.refs)) throw bad('refs is not a list');
    const refs: readonly (NonNullable<Batch['refs']>[number] | null)[] = b.refs ?? [];
    for (const r of refs) {
      const source = Array.isArray(r?.path) ? at(b.json, r.path) : undefined;
      if (!isKey(r?.key) || typeof source !== 'object' || source === null) throw bad('a batch ref does not lead to an object');
      this.live.set(id(r.key), { key: r.key, source: source as Record<string, unknown>, appliedAt: b.at });
    }
    for (const o of b.objects as readonly (Batch['objects'][number] | null)[]) {
      if (!isKey(o?.key) || typeof o.source !== 'object' || o.source === null) throw bad('a batch entry is not a stored object');
      this.live.set(id(o.key), { key: o.key, source: o.source, appliedAt: b.at });
    }
  }

  /**
   * Stores the entries that carry a source (one journal line for all). `json` is the manifest they
   * came in when it was one JSON document: entries whose source is the object at their item's path in
   * it are then stored by that path (when that is most of them). Throws on I/O errors.
   */
  upsert(entries: readonly { key: ObjectKey; source?: Readonly<Record<string, unknown>>; item?: { readonly path?: readonly (string | number)[]; readonly object: unknown } }[], json?: string): void {
    const appliedAt = new Date().toISOString();
    const objects: { key: ObjectKey; source: Readonly<Record<string, unknown>> }[] = [];
    const refs: { key: ObjectKey; path: readonly (string | number)[] }[] = [];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (!e.source) continue;
      const path = json !== undefined && e.item?.object === e.source ? e.item.path : undefined;
      if (path) refs.push({ key: e.key, path });
      else objects.push({ key: e.key, source: e.source });
      this.live.set(id(e.key), { key: e.key, source: e.source, appliedAt });
    }
    const records = objects.length + refs.length;
    if (!records) return;
    if (refs.length < objects.length) {
      // Without the manifest (or with few of its objects kept as they came): everything by value.
      this.append(JSON.stringify({ at: appliedAt, objects: refs.length ? entriesByValue(entries) : objects } satisfies Batch) + '\n', records);
      return;
    }
    const head = JSON.stringify({ at: appliedAt, refs, objects } satisfies Batch);
    // refs are only made with the manifest at hand.
    const text = json!;
    const oneLine = text.includes('\n') || text.includes('\r') ? text.replace(/[\r\n]/g, ' ') : text;
    this.append(`${head.slice(0, -1)},"json":${oneLine}}\n`, records);
  }

  /** Removes these objects (absent ones are ignored). Throws on I/O errors. */
  delete(keys: readonly ObjectKey[]): void {
    const lines: string[] = [];
    for (const k of keys) if (this.live.delete(id(k))) lines.push(JSON.stringify([id(k)]));
    if (lines.length) this.append(lines.join('\n') + '\n', lines.length);
  }

  /** The stored objects, in the order they were first applied. */
  list(): StoredObject[] {
    return [...this.live.values()];
  }

  /** Appends `text` (holding `records` object records), or compacts instead when the journal grew too long. */
  private append(text: string, records: number): void {
    this.records += records;
    if (this.records > 2 * this.live.size + this.slack) {
      this.compact();
      return;
    }
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    fs.appendFileSync(this.file, text, { mode: 0o600 });
  }

  /** Rewrites the journal with only the live objects, in order: one batch line per run of objects applied together. */
  private compact(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const lines: string[] = [];
    let run: Batch['objects'][number][] = [];
    let at = '';
    const flush = (): void => {
      if (run.length) lines.push(JSON.stringify({ at, objects: run } satisfies Batch) + '\n');
      run = [];
    };
    for (const o of this.live.values()) {
      if (o.appliedAt !== at) {
        flush();
        at = o.appliedAt;
      }
      run.push({ key: o.key, source: o.source });
    }
    flush();
    const tmp = `${this.file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, lines.join(''), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
    this.records = this.live.size;
  }
}
