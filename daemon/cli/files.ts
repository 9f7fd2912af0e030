// Reading `-f FILE|-` inputs for the CLI.

import fs from 'node:fs';
import { UsageError } from './command.js';

/** Reads a file, or stdin for "-". Throws UsageError naming the file when it cannot be read. */
export async function readInput(file: string, stdin: () => Promise<string>): Promise<string> {
  if (file === '-') return stdin();
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Parses "k=v,k2=v2" (and repeated flags) into a label map. */
export function parseLabelList(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    for (const part of v.split(',')) {
      const p = part.trim();
      if (!p) continue;
      const eq = p.indexOf('=');
      if (eq === 0) throw new UsageError(`label ${JSON.stringify(p)} has no key`);
      out[eq < 0 ? p : p.slice(0, eq)] = eq < 0 ? '' : p.slice(eq + 1);
    }
  }
  return out;
}

/** A flag value that may be given once or repeated. */
export function list(v: string | boolean | string[] | boolean[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v.map(String) : [String(v)];
}
