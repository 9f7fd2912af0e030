// Small JSON state files that survive an agent restart: written atomically (temp file + fsync +
// rename) so a crash mid-write leaves the previous version, never a torn file.

import fs from 'node:fs';
import path from 'node:path';

/** Writes `value` as JSON to `file` atomically, creating the directory if needed (mode 0700). */
export function writeJsonAtomic(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, JSON.stringify(value, null, 1));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** Reads a JSON file; undefined when it does not exist. Throws with the path on malformed content. */
export function readJson<T>(file: string): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`state file ${file} is corrupt: ${(err as Error).message}`);
  }
}

/** Removes a state file; a missing file is fine. */
export function removeFile(file: string): void {
  fs.rmSync(file, { force: true });
}
