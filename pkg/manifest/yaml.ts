// Reading YAML and JSON text: one or many documents (`---`), with a JSON fast path (a 6 MB manifest of
// 20,000 objects parses in ~40 ms as JSON) and a block-style YAML fast path (block-yaml.ts: ~0.1 s for
// the same objects as YAML, against ~0.3 s with js-yaml, which reads whatever the fast path declines).
// Aliases are refused past a small limit, so a "billion laughs" document cannot make the agent walk an
// exponential structure.

import jsyaml from 'js-yaml';
import { parseBlockYaml } from './block-yaml.js';

/** Most aliases (`*name`) accepted in one input. */
export const MAX_ALIASES = 100;

/** A syntax error, with the document (0-based) and position it was found at. */
export class YamlSyntaxError extends Error {
  constructor(
    readonly document: number,
    readonly line: number,
    readonly column: number,
    readonly reason: string,
  ) {
    super(line > 0 ? `line ${line}, column ${column}: ${reason}` : reason);
    this.name = 'YamlSyntaxError';
  }
}

/** Counts values reached more than once (js-yaml shares the object of an alias instead of copying it). */
function countAliases(root: unknown): number {
  const seen = new Set<object>();
  let aliases = 0;
  const walk = (v: unknown): void => {
    if (typeof v !== 'object' || v === null) return;
    if (seen.has(v)) {
      aliases++;
      return;
    }
    seen.add(v);
    for (const x of Array.isArray(v) ? v : Object.values(v)) walk(x);
  };
  walk(root);
  return aliases;
}

/** The 0-based document a 0-based line belongs to (documents are separated by lines starting `---`). */
function documentOfLine(text: string, line: number): number {
  let doc = 0;
  let i = 0;
  for (let l = 0; l < line && i < text.length; l++) {
    const end = text.indexOf('\n', i);
    if (text.startsWith('---', i) && l > 0) doc++;
    if (end < 0) break;
    i = end + 1;
  }
  return doc;
}

/**
 * The documents of `text` (YAML or JSON), in order; an empty document is `null` (kept, so that indexes
 * match what a user counts). JSON text (starting with `{` or `[`)
 * is parsed as JSON. Throws YamlSyntaxError naming the document and line of the first error.
 */
export function parseDocuments(text: string): unknown[] {
  return parseText(text).documents;
}

/**
 * As parseDocuments, and whether the text was read as one JSON document (so `JSON.parse(text)` gives
 * the same value again: callers may keep the text instead of serializing the value).
 */
export function parseText(text: string): { documents: unknown[]; json: boolean } {
  const first = /\S/.exec(text)?.[0];
  if (first === '{' || first === '[') {
    try {
      return { documents: [JSON.parse(text) as unknown], json: true };
    } catch {
      // Not JSON after all (or broken JSON): YAML parses JSON too, and reports the error position.
    }
  }
  return { documents: parseYaml(text), json: false };
}

/**
 * The core schema's implicit scalar types (null, bool, int, float) in js-yaml's resolution order, for
 * the block-style reader. Read from the schema object (not part of js-yaml's typings): if a js-yaml
 * version lays it out differently, the fast reader is off and js-yaml reads everything.
 */
const IMPLICIT: readonly jsyaml.Type[] | undefined = (() => {
  const types = (jsyaml.CORE_SCHEMA as unknown as { implicit?: unknown }).implicit;
  const want = ['null', 'bool', 'int', 'float'].map((t) => `tag:yaml.org,2002:${t}`);
  if (!Array.isArray(types) || types.length !== want.length) return undefined;
  return types.every((t: { tag?: unknown; resolve?: unknown; construct?: unknown }, i) => t.tag === want[i] && typeof t.resolve === 'function' && typeof t.construct === 'function')
    ? (types as jsyaml.Type[])
    : undefined;
})();

/** A plain scalar's value under the core schema, as js-yaml types it. */
function resolvePlain(text: string): unknown {
  // Only null (~, null), bool (true, false), int and float (digits, sign, dot) start otherwise: any
  // other letter makes a string, which is most scalars of a manifest.
  const c = text.charCodeAt(0);
  if (((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) && c !== 110 && c !== 78 && c !== 116 && c !== 84 && c !== 102 && c !== 70) return text;
  for (const t of IMPLICIT!) if (t.resolve(text)) return t.construct(text) as unknown;
  return text;
}

function parseYaml(text: string): unknown[] {
  // The common block style first (a fraction of js-yaml's time); it declines whatever else.
  const fast = IMPLICIT ? parseBlockYaml(text, resolvePlain) : undefined;
  if (fast) return fast;
  let docs: unknown[];
  try {
    // The core schema: Kubernetes reads YAML as JSON (sigs.k8s.io/yaml), so a date stays a string, and
    // skipping the timestamp/merge/binary resolvers of the default schema makes big manifests faster.
    docs = jsyaml.loadAll(text, undefined, { schema: jsyaml.CORE_SCHEMA });
  } catch (err) {
    if (err instanceof jsyaml.YAMLException) {
      const line = err.mark?.line ?? -1;
      throw new YamlSyntaxError(line >= 0 ? documentOfLine(text, line) : 0, line + 1, (err.mark?.column ?? -1) + 1, err.reason || err.message);
    }
    throw err;
  }
  // Aliases need a `*`: without one there is nothing to count (the common, large case).
  if (text.includes('*') && countAliases(docs) > MAX_ALIASES) throw new YamlSyntaxError(0, 0, 0, `too many YAML aliases (more than ${MAX_ALIASES})`);
  return docs;
}

/** One YAML or JSON document (a config file). Throws YamlSyntaxError. */
export function parseDocument(text: string): unknown {
  const docs = parseDocuments(text).filter((d) => d !== null && d !== undefined);
  if (docs.length > 1) throw new YamlSyntaxError(1, 0, 0, 'expected one document, found several');
  return docs[0];
}
