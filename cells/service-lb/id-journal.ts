// The journal of service-lb's stable numbers (<state-dir>/service-lb/ids.jsonl): per namespace
// (`frontend` rev-NAT indexes, `backend` ids) the number of each key, persisted so that a restarted
// agent hands out the same numbers again (the pinned maps and conntrack entries hold them).
//
// Line formats (one JSON value per line):
//   {"ops": [[namespace, key, number], [namespace, key], ...]}   one flush: sets and deletions, in order
//   ["<namespace> <key>", number] / ["<namespace> <key>"]        one set / deletion (older agents)
// Why batches: a 10,000-service apply assigns ~40,000 numbers. As one JsonLinesStore line each, that
// was 40,000 string concatenations and JSON.stringify calls plus a second map of every key, about
// 100 ms; now it is one JSON.stringify of the flush's operations.
//
// Durability as pkg/statefile's JsonLinesStore: not fsynced (an agent restart keeps the page cache,
// and a kernel crash loses the pinned maps the numbers refer to too). A torn last line is ignored.

import fs from 'node:fs';
import path from 'node:path';
import { readJournal } from '../../pkg/statefile/index.js';

/** A journal line of this format: sets `[namespace, key, number]` and deletions `[namespace, key]`, in order. */
interface Batch {
  readonly ops: readonly (readonly [string, string, number] | readonly [string, string])[];
}

/** The journal is corrupt (a line that is neither a batch nor an entry). */
export class IdJournalCorruptError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'IdJournalCorruptError';
  }
}

/**
 * Numbers by namespace and key. `set`/`delete` change the live maps at once and buffer the change;
 * `flush` appends the buffered changes as one line (throws on I/O errors). The file is compacted
 * (rewritten with the live numbers, via a temporary file and rename) on load and whenever it holds
 * more than twice as many records as live numbers plus `slack`.
 */
export class IdJournal {
  private readonly live = new Map<string, Map<string, number>>();
  /**
   * Changes since the last flush, flat: namespace, key, number (-1 = deleted) per change. Flat so that
   * 40,000 changes of one apply are one array, not 40,000 small ones kept alive until the flush.
   */
  private ops: (string | number)[] = [];
  /** Records (sets and deletions) in the file. */
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
   * Reads the journal (missing = empty) and compacts it. A torn last line is ignored; any other bad
   * line throws IdJournalCorruptError naming file and line. Discards changes not flushed yet.
   */
  load(): void {
    // Cleared in place: allocators hold these maps (entries()).
    for (const m of this.live.values()) m.clear();
    this.ops = [];
    const exists = readJournal(this.file, (line, lineNo) => this.replay(line, lineNo), (lineNo, why) => new IdJournalCorruptError(this.file, lineNo, why));
    if (!exists) return;
    this.compact();
  }

  private replay(line: unknown, lineNo: number): void {
    const bad = (why: string) => new IdJournalCorruptError(this.file, lineNo, why);
    if (Array.isArray(line)) {
      // A JsonLinesStore entry of an older agent: the key is "<namespace> <key>".
      const [nsKey, n] = line as unknown[];
      const space = typeof nsKey === 'string' ? nsKey.indexOf(' ') : -1;
      if (space < 0 || line.length > 2 || (line.length === 2 && typeof n !== 'number')) throw bad('not a ["<namespace> <key>", number] entry');
      const ns = (nsKey as string).slice(0, space);
      const key = (nsKey as string).slice(space + 1);
      if (line.length === 2) this.namespace(ns).set(key, n as number);
      else this.live.get(ns)?.delete(key);
      return;
    }
    const ops = (line as Batch | null)?.ops;
    if (!Array.isArray(ops)) throw bad('not a batch of operations');
    for (const op of ops as unknown[]) {
      if (!Array.isArray(op) || typeof op[0] !== 'string' || typeof op[1] !== 'string' || (op.length === 3 ? typeof op[2] !== 'number' : op.length !== 2)) {
        throw bad('an operation is not [namespace, key, number] or [namespace, key]');
      }
      if (op.length === 3) this.namespace(op[0]).set(op[1], op[2] as number);
      else this.live.get(op[0])?.delete(op[1]);
    }
  }

  private namespace(ns: string): Map<string, number> {
    let m = this.live.get(ns);
    if (!m) this.live.set(ns, (m = new Map<string, number>()));
    return m;
  }

  /** The live numbers of a namespace (a view: it changes with `set` and `delete`). */
  entries(ns: string): ReadonlyMap<string, number> {
    return this.namespace(ns);
  }

  /** Sets the number of `key` (written at the next flush). */
  set(ns: string, key: string, n: number): void {
    this.namespace(ns).set(key, n);
    this.ops.push(ns, key, n);
  }

  /** Deletes `key` (written at the next flush); a missing key is ignored. */
  delete(ns: string, key: string): void {
    if (this.live.get(ns)?.delete(key)) this.ops.push(ns, key, -1);
  }

  /** Appends the buffered changes as one line, compacting instead when the journal grew too long. Throws on I/O errors. */
  flush(): void {
    if (!this.ops.length) return;
    const ops: Batch['ops'][number][] = [];
    for (let i = 0; i < this.ops.length; i += 3) {
      const n = this.ops[i + 2] as number;
      ops.push(n < 0 ? [this.ops[i] as string, this.ops[i + 1] as string] : [this.ops[i] as string, this.ops[i + 1] as string, n]);
    }
    const batch: Batch = { ops };
    this.records += ops.length;
    this.ops = [];
    let live = 0;
    for (const m of this.live.values()) live += m.size;
    if (this.records > 2 * live + this.slack) {
      this.compact();
      return;
    }
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    fs.appendFileSync(this.file, JSON.stringify(batch) + '\n', { mode: 0o600 });
  }

  /** Rewrites the journal with only the live numbers (one line). */
  private compact(): void {
    this.ops = [];
    const ops: [string, string, number][] = [];
    for (const [ns, m] of this.live) for (const [key, n] of m) ops.push([ns, key, n]);
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, ops.length ? JSON.stringify({ ops } satisfies Batch) + '\n' : '', { mode: 0o600 });
    fs.renameSync(tmp, this.file);
    this.records = ops.length;
  }
}
