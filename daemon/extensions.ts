// Loading user modules given with --extra-modules (or CILIA_EXTRA_MODULES): each file's exported cells
// join the agent's hive like built-in ones (config, lifecycle, health, API routes).

import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Cell, ConfigError } from '../pkg/hive/index.js';

function isCell(v: unknown): v is Cell {
  return typeof v === 'object' && v !== null && typeof (v as Cell).apply === 'function' && typeof (v as Cell).info === 'function';
}

/** The value of --extra-modules from argv or the environment, before the hive parses flags. */
export function extraModulePaths(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): string[] {
  let raw: string | undefined;
  argv.forEach((a, i) => {
    if (a === '--extra-modules') raw = argv[i + 1];
    else if (a.startsWith('--extra-modules=')) raw = a.slice('--extra-modules='.length);
  });
  raw ??= env.CILIA_EXTRA_MODULES;
  return (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * Imports each module file and collects its cells: a default export, an export named `cells` (array)
 * or any exported value that is a cell. Throws ConfigError when a file cannot be loaded or exports none.
 */
export async function loadExtraModules(paths: readonly string[]): Promise<Cell[]> {
  const cells: Cell[] = [];
  for (const p of paths) {
    const abs = path.resolve(p);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`--extra-modules: cannot load ${abs}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const found: Cell[] = [];
    if (Array.isArray(mod.cells)) found.push(...mod.cells.filter(isCell));
    else for (const v of Object.values(mod)) if (isCell(v)) found.push(v);
    if (!found.length) throw new ConfigError(`--extra-modules: ${abs} exports no cells (export a module(...) value or an array named "cells")`);
    cells.push(...found);
  }
  return cells;
}
