// Reading YAML and JSON text: one or many documents (`---`), with a JSON fast path (a 6 MB manifest of
// 20,000 objects parses in ~40 ms as JSON and ~0.4 s as YAML with js-yaml). Aliases are refused past a
// small limit, so a "billion laughs" document cannot make the agent walk an exponential structure.

import jsyaml from 'js-yaml';

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
  const first = /\S/.exec(text)?.[0];
  if (first === '{' || first === '[') {
    try {
      return [JSON.parse(text) as unknown];
    } catch {
      // Not JSON after all (or broken JSON): YAML parses JSON too, and reports the error position.
    }
  }
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
