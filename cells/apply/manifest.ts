// Reading manifests: YAML (multi-document) or JSON, `kind: List`, and arrays of bare Cilium rules.

import { YamlSyntaxError, parseText } from '../../pkg/manifest/index.js';
import { badRequest } from '../../pkg/api/index.js';
import { type ApplyItem, CILIUM_RULES } from './types.js';

/** A manifest split into objects. */
export interface Manifest {
  readonly items: ApplyItem[];
  /** The text is one JSON document (JSON.parse(text) gives it again); items then carry their `path`. */
  readonly json: boolean;
}

/** Splits a manifest into objects. Throws 400 on syntax errors or objects without a kind. */
export function readManifest(text: string): Manifest {
  let parsed: { documents: unknown[]; json: boolean };
  try {
    parsed = parseText(text);
  } catch (err) {
    if (!(err instanceof YamlSyntaxError)) throw err;
    const where = `document ${err.document + 1}`;
    throw badRequest(`${where}: YAML/JSON syntax: ${err.message}`, where);
  }
  const items: ApplyItem[] = [];
  parsed.documents.forEach((v, i) => {
    if (v === null || v === undefined) return;
    collect(v, `document ${i + 1}`, parsed.json ? [] : undefined, items);
  });
  return { items, json: parsed.json };
}

function collect(v: unknown, where: string, path: readonly (string | number)[] | undefined, out: ApplyItem[]): void {
  if (Array.isArray(v)) {
    // An array of objects with a kind is a list of objects; otherwise bare Cilium rules.
    if (v.length && v.every((x) => x && typeof x === 'object' && typeof (x as { kind?: unknown }).kind === 'string')) {
      v.forEach((x, i) => collect(x, `${where}, [${i}]`, path && [...path, i], out));
      return;
    }
    out.push({ kind: CILIUM_RULES, object: { rules: v }, where });
    return;
  }
  if (typeof v !== 'object' || v === null) throw badRequest(`${where}: expected an object, got ${typeof v}`, where);
  const o = v as Record<string, unknown>;
  if (typeof o.kind !== 'string') {
    // A single bare Cilium rule.
    if ('endpointSelector' in o || 'nodeSelector' in o) {
      out.push({ kind: CILIUM_RULES, object: { rules: [o] }, where });
      return;
    }
    throw badRequest(`${where}: the object has no kind`, `${where}.kind`);
  }
  if (o.kind === 'List' || (o.kind.endsWith('List') && Array.isArray(o.items))) {
    if (!Array.isArray(o.items)) throw badRequest(`${where}: a List needs items`, `${where}.items`);
    o.items.forEach((x, i) => collect(x, `${where}, items[${i}]`, path && [...path, 'items', i], out));
    return;
  }
  const apiVersion = typeof o.apiVersion === 'string' ? o.apiVersion : undefined;
  out.push(path ? { kind: o.kind, apiVersion, object: o, where, path } : { kind: o.kind, apiVersion, object: o, where });
}
