// The local backend's object store: every object applied through `cilia apply` (or `policy import`),
// as its source document, persisted so that a restarted agent applies the same objects again. An
// append-only journal (<state-dir>/objects.jsonl): applying one object to a store of 20,000 appends one
// line instead of rewriting megabytes.
//
// Line formats (one JSON value per line):
//   {"at": ISO time, "objects": [{"key": ObjectKey, "source": {...}}, ...]}       stores a whole apply
//   {"at", "refs": {"ids": [...], "paths": [...]}, "objects": [...], "json": <manifest>}   the same, JSON input
//   ["Kind/namespace/name"]                                                      deletes one object
//   ["Kind/namespace/name", {"key", "source", "appliedAt"}]                      stores one (older agents)
// Why one line per apply: a 10,000-Service manifest is then one JSON.stringify call producing one big
// string, instead of 20,000 strings that the garbage collector copies around until they are joined;
// that cut the store phase of such an apply from ~120 ms to ~40 ms.
// Why `json`: when the manifest came as JSON and the objects to store are its objects unchanged, the
// line carries the manifest text as it came (it is JSON already; line breaks, which can only be
// whitespace there, become spaces) and, per object, its id (`Kind/namespace/name`) and its path in
// the manifest (a number n for ["items", n], the common List case), instead of serializing 6 MB of
// objects again (~40-80 ms for 10,000 Services).
//
// Writes are appended in order by a chain of asynchronous appends: a write's promise resolves once its
// line is in the file, so the caller can wait for the datapath meanwhile. Durability as pkg/statefile's
// JsonLinesStore: not fsynced (an agent restart keeps the page cache). A torn last line (the agent
// died mid-append) is ignored.

import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { readJournal } from '../../pkg/statefile/index.js';
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

/** A path in a manifest: a number n stands for ["items", n]. */
type RefPath = number | readonly (string | number)[];

/** A batch line. */
interface Batch {
  readonly at: string;
  readonly objects: readonly { readonly key: ObjectKey; readonly source: Readonly<Record<string, unknown>> }[];
  /** Objects stored by their place in `json` (the manifest as applied): ids and paths at the same index. */
  readonly refs?: { readonly ids: readonly string[]; readonly paths: readonly RefPath[] };
  readonly json?: unknown;
}

/** An entry to store, as handlers prepare them (see PreparedChange.objects). */
export interface StoreEntry {
  readonly key: ObjectKey;
  readonly source?: Readonly<Record<string, unknown>>;
  readonly item?: { readonly path?: readonly (string | number)[]; readonly object: unknown };
}

const id = (k: ObjectKey): string => `${k.kind}/${k.namespace}/${k.name}`;

/** The key of an id: kind and namespace hold no '/', so the name is the rest. Undefined when malformed. */
function keyOf(s: unknown): ObjectKey | undefined {
  if (typeof s !== 'string') return undefined;
  const a = s.indexOf('/');
  const b = s.indexOf('/', a + 1);
  if (a <= 0 || b < 0 || b === s.length - 1) return undefined;
  return { kind: s.slice(0, a), namespace: s.slice(a + 1, b), name: s.slice(b + 1) };
}

/** The value at `p` in `doc` (undefined when the path leads nowhere). */
function at(doc: unknown, p: unknown): unknown {
  const keys: readonly unknown[] | undefined = typeof p === 'number' ? ['items', p] : Array.isArray(p) ? p : undefined;
  if (!keys) return undefined;
  let v = doc;
  for (const k of keys) {
    if (typeof v !== 'object' || v === null || (typeof k !== 'string' && typeof k !== 'number')) return undefined;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}

function isKey(k: unknown): k is ObjectKey {
  const o = k as ObjectKey | null;
  return typeof o === 'object' && o !== null && typeof o.kind === 'string' && typeof o.namespace === 'string' && typeof o.name === 'string';
}

/**
 * The persisted objects, keyed by kind/namespace/name. `upsert` and `delete` change what the store
 * holds at once and return a promise of their journal line being appended (rejected on I/O errors:
 * the caller must not report success before). The journal is compacted (rewritten with the live
 * objects, via a temporary file and rename) on load and when it holds more than twice as many object
 * records as live objects plus `slack`.
 */
export class ObjectStore {
  private readonly live = new Map<string, StoredObject>();
  /** Object records in the journal file (live or superseded). */
  private records = 0;
  /** The last write queued: writes reach the file in the order they were made. */
  private writing: Promise<void> = Promise.resolve();

  /**
   * @param file the journal (its directory is created on the first write)
   * @param slack extra records tolerated before a compaction (default 1000)
   */
  constructor(
    readonly file: string,
    private readonly slack = 1000,
  ) {}

  /**
   * Loads the persisted objects (in the order they were first applied) and compacts the journal (call
   * it before any write). Throws ObjectStoreCorruptError naming the line of a record that is not one (a
   * torn last line is ignored).
   */
  load(): StoredObject[] {
    this.live.clear();
    if (!readJournal(this.file, (line, lineNo) => this.replay(line, lineNo), (lineNo, why) => new ObjectStoreCorruptError(this.file, lineNo, why))) return [];
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, this.compacted(), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
    this.records = this.live.size;
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
    if (b.refs !== undefined) {
      const { ids, paths } = b.refs as { ids?: unknown; paths?: unknown };
      if (!Array.isArray(ids) || !Array.isArray(paths) || ids.length !== paths.length) throw bad('refs are not ids and paths of one length');
      for (let i = 0; i < ids.length; i++) {
        const key = keyOf(ids[i]);
        const source = at(b.json, paths[i]);
        if (!key || typeof source !== 'object' || source === null) throw bad(`ref ${i} does not lead to an object`);
        this.live.set(id(key), { key, source: source as Record<string, unknown>, appliedAt: b.at });
      }
    }
    for (const o of b.objects as readonly (Batch['objects'][number] | null)[]) {
      if (!isKey(o?.key) || typeof o.source !== 'object' || o.source === null) throw bad('a batch entry is not a stored object');
      this.live.set(id(o.key), { key: o.key, source: o.source, appliedAt: b.at });
    }
  }

  /**
   * Stores the entries that carry a source (one journal line for all). `json` is the manifest they
   * came in when it was one JSON document: entries whose source is the object at their item's path in
   * it are then stored by that path (when that is most of them). Resolves once the line is written;
   * rejects on I/O errors (the store holds the entries either way).
   */
  upsert(entries: readonly StoreEntry[], json?: string): Promise<void> {
    const appliedAt = new Date().toISOString();
    const objects: { key: ObjectKey; source: Readonly<Record<string, unknown>> }[] = [];
    const ids: string[] = [];
    const paths: RefPath[] = [];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (!e.source) continue;
      const k = id(e.key);
      const p = json !== undefined && e.item?.object === e.source ? e.item.path : undefined;
      if (p) {
        ids.push(k);
        paths.push(p.length === 2 && p[0] === 'items' && typeof p[1] === 'number' ? p[1] : p);
      } else {
        objects.push({ key: e.key, source: e.source });
      }
      this.live.set(k, { key: e.key, source: e.source, appliedAt });
    }
    const records = objects.length + ids.length;
    if (!records) return this.writing;
    if (ids.length < objects.length) {
      // Without the manifest (or with few of its objects kept as they came): everything by value.
      const all = ids.length ? entries.filter((e) => e.source).map((e) => ({ key: e.key, source: e.source! })) : objects;
      return this.append(JSON.stringify({ at: appliedAt, objects: all } satisfies Batch) + '\n', records);
    }
    const head = JSON.stringify({ at: appliedAt, refs: { ids, paths }, objects } satisfies Batch);
    // ids are only collected with the manifest at hand.
    const text = json!;
    const oneLine = text.includes('\n') || text.includes('\r') ? text.replace(/[\r\n]/g, ' ') : text;
    return this.append(`${head.slice(0, -1)},"json":${oneLine}}\n`, records);
  }

  /** Removes these objects (absent ones are ignored). Resolves once written; rejects on I/O errors. */
  delete(keys: readonly ObjectKey[]): Promise<void> {
    const lines: string[] = [];
    for (const k of keys) if (this.live.delete(id(k))) lines.push(JSON.stringify([id(k)]));
    return lines.length ? this.append(lines.join('\n') + '\n', lines.length) : this.writing;
  }

  /** The stored objects, in the order they were first applied. */
  list(): StoredObject[] {
    return [...this.live.values()];
  }

  /**
   * Queues `text` (holding `records` object records) after the writes before it, or a compaction
   * instead when the journal grew too long. Returns this write's promise.
   */
  private append(text: string, records: number): Promise<void> {
    this.records += records;
    let write: () => Promise<void>;
    if (this.records > 2 * this.live.size + this.slack) {
      // The live objects as they are now (this change included) replace the journal.
      const body = this.compacted();
      this.records = this.live.size;
      write = async () => {
        const tmp = `${this.file}.tmp-${process.pid}`;
        await fsp.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
        await fsp.writeFile(tmp, body, { mode: 0o600 });
        await fsp.rename(tmp, this.file);
      };
    } else {
      write = async () => {
        await fsp.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
        await fsp.appendFile(this.file, text, { mode: 0o600 });
      };
    }
    // Each write waits for the one before, failed or not; its own failure goes to its caller.
    const p = this.writing.then(write, write);
    this.writing = p.catch(() => undefined);
    return p;
  }

  /** The journal text of the live objects, in order: one batch line per run of objects applied together. */
  private compacted(): string {
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
    return lines.join('');
  }
}
