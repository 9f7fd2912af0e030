// The version of Cilia, read from package.json next to the build output.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** The package version (e.g. "0.1.0"). */
export function ciliaVersion(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = path.join(dir, 'package.json');
    if (fs.existsSync(p)) {
      const pkg = JSON.parse(fs.readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'cilia') return (cached = pkg.version ?? 'unknown');
    }
    dir = path.dirname(dir);
  }
  return (cached = 'unknown');
}
