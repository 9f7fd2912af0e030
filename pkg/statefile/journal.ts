// A keyed store persisted as an append-only journal of JSON lines, so that one change costs one small
// append instead of rewriting everything (10,000 services must not make each upsert O(n)).
//
// Durability: writes are not fsynced. What this cell persists (ids, API-made services) only has to
// survive an agent restart, when the page cache keeps it; a kernel crash also loses the pinned BPF
// maps the ids refer to, so there is nothing to keep consistent with.

import fs from 'node:fs';
import path from 'node:path';

/** A journal line: `[key, value]` sets the key, `[key]` deletes it. */
type Line<V> = [string, V] | [string];

/** The journal file is corrupt (a line is not a journal entry). */
export class JournalCorruptError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'JournalCorruptError';
  }
}

/**
 * Reads a journal of JSON lines, calling `replay` for each line in order (1-based line numbers).
 * Returns false when the file does not exist. A torn last line (the writer died mid-append) is
 * skipped; any other line that is not JSON throws `corrupt(lineNo, 'not JSON')`.
 */
export function readJournal(file: string, replay: (line: unknown, lineNo: number) => void, corrupt: (lineNo: number, why: string) => Error): boolean {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const rows = text.split('\n');
  for (let i = 0; i < rows.length; i++) {
    if (rows[i] === '') continue;
    let line: unknown;
    try {
      line = JSON.parse(rows[i]);
    } catch {
      if (i === rows.length - 1) continue; // a last line without its newline: cut short by a crash, never completed
      throw corrupt(i + 1, 'not JSON');
    }
    replay(line, i + 1);
  }
  return true;
}

/**
 * A string-keyed map of JSON values persisted in `file`. `set`/`delete` buffer lines; `flush()` appends
 * them in one write. The file is compacted (rewritten with only the live entries, via a temporary file
 * and rename) when it is loaded and whenever it holds more than twice as many lines as live entries
 * plus `slack`.
 */
export class JsonLinesStore<V> {
  private readonly live = new Map<string, V>();
  private buffered: string[] = [];
  private lines = 0;

  /**
   * @param file the journal (its directory is created on the first write)
   * @param slack extra lines tolerated before a compaction (default 1000)
   */
  constructor(
    readonly file: string,
    private readonly slack = 1000,
  ) {}

  /**
   * Reads the journal (missing = empty) and compacts it. Returns the live entries.
   * A torn last line (the agent died mid-append) is ignored; any other bad line throws
   * JournalCorruptError naming file and line.
   */
  load(): ReadonlyMap<string, V> {
    this.live.clear();
    const corrupt = (lineNo: number, why: string) => new JournalCorruptError(this.file, lineNo, why);
    const exists = readJournal(
      this.file,
      (l, lineNo) => {
        const line = l as Line<V>;
        if (!Array.isArray(line) || typeof line[0] !== 'string' || line.length > 2) throw corrupt(lineNo, 'not a [key, value] or [key] entry');
        if (line.length === 2) this.live.set(line[0], line[1]);
        else this.live.delete(line[0]);
      },
      corrupt,
    );
    if (exists) this.compact();
    return this.live;
  }

  /** The live entries. */
  entries(): ReadonlyMap<string, V> {
    return this.live;
  }

  /** Sets `key` (buffered until flush). */
  set(key: string, value: V): void {
    this.live.set(key, value);
    this.buffered.push(`[${JSON.stringify(key)},${JSON.stringify(value)}]`);
  }

  /** Deletes `key` (buffered until flush); a missing key is ignored. */
  delete(key: string): void {
    if (!this.live.delete(key)) return;
    this.buffered.push(JSON.stringify([key]));
  }

  /** Appends the buffered lines in one write, compacting instead when the journal grew too long. Throws on I/O errors. */
  flush(): void {
    if (!this.buffered.length) return;
    const text = this.buffered.join('\n') + '\n';
    this.lines += this.buffered.length;
    this.buffered = [];
    if (this.lines > 2 * this.live.size + this.slack) {
      this.compact();
      return;
    }
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    fs.appendFileSync(this.file, text, { mode: 0o600 });
  }

  /** Rewrites the journal with only the live entries. */
  private compact(): void {
    this.buffered = [];
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp-${process.pid}`;
    const body = [...this.live].map((e) => JSON.stringify(e)).join('\n');
    fs.writeFileSync(tmp, body ? body + '\n' : '', { mode: 0o600 });
    fs.renameSync(tmp, this.file);
    this.lines = this.live.size;
  }
}
