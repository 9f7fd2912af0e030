// Owns the field-by-field reading of untrusted parsed YAML/JSON: type checks that record a
// PolicyValidationError with the exact path instead of throwing, so every problem is reported.
import { NOT_SUPPORTED, PolicyValidationError } from '../errors.js';

/** A plain JSON object. */
export type JsonObject = Record<string, unknown>;

/** `base.key` (`base["a.b/c"]` for keys that are not plain words), or `key` at the root. */
export const field = (base: string, key: string): string => {
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return `${base}[${JSON.stringify(key)}]`;
  return base === '' ? key : `${base}.${key}`;
};
/** `base[i]`. */
export const item = (base: string, i: number): string => `${base}[${i}]`;

const describe = (v: unknown): string => (v === undefined ? 'nothing' : v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`);

/**
 * Reads values of one object (one document, one List item) and collects errors. Every reader
 * returns undefined after recording an error, so callers simply skip what is invalid.
 */
export class Validator {
  constructor(
    private readonly sink: PolicyValidationError[],
    readonly document: number,
    /** Prefix of every path (e.g. `items[2]` or `[3]`), '' for a top-level object. */
    readonly base: string,
    /** The object's name for messages, once known. */
    public objectName?: string,
  ) {}

  /** Records an error at `path` (relative to the object). Returns undefined for convenience. */
  fail(path: string, message: string): undefined {
    const full = this.base === '' ? path : path === '' ? this.base : path.startsWith('[') ? `${this.base}${path}` : `${this.base}.${path}`;
    this.sink.push(new PolicyValidationError(full, message, this.document, this.objectName));
    return undefined;
  }

  /** Records "not supported by Cilia: <what>". */
  unsupported(path: string, what: string): undefined {
    return this.fail(path, `${NOT_SUPPORTED}: ${what}`);
  }

  /** Number of errors recorded so far by every validator sharing the sink. */
  get errorCount(): number {
    return this.sink.length;
  }

  /** An object, or an error "expected an object". */
  object(v: unknown, path: string): JsonObject | undefined {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as JsonObject;
    return this.fail(path, `expected an object, got ${describe(v)}`);
  }

  /**
   * Checks the keys of an object: `known` are accepted, `unsupported` (valid in Cilium or
   * Kubernetes but not implemented) give "not supported by Cilia: <field>", anything else gives
   * `unknown field "x"` (strict, like kubectl --validate=strict, so that typos are caught).
   */
  keys(obj: JsonObject, path: string, known: readonly string[], unsupported: readonly string[] = []): void {
    for (const k of Object.keys(obj)) {
      if (known.includes(k)) continue;
      if (unsupported.includes(k)) this.unsupported(field(path, k), k);
      else this.fail(field(path, k), `unknown field "${k}"; expected one of: ${known.join(', ')}`);
    }
  }

  /** A list, or an error. */
  array(v: unknown, path: string): unknown[] | undefined {
    if (Array.isArray(v)) return v as unknown[];
    return this.fail(path, `expected a list, got ${describe(v)}`);
  }

  /** A list if present (undefined or null = absent, returned as undefined without error). */
  optionalArray(obj: JsonObject, key: string, path: string): unknown[] | undefined {
    const v = obj[key];
    return v === undefined || v === null ? undefined : this.array(v, field(path, key));
  }

  /** A string, or an error. */
  string(v: unknown, path: string): string | undefined {
    if (typeof v === 'string') return v;
    return this.fail(path, `expected a string, got ${describe(v)}`);
  }

  /** A boolean, or an error. */
  boolean(v: unknown, path: string): boolean | undefined {
    if (typeof v === 'boolean') return v;
    return this.fail(path, `expected true or false, got ${describe(v)}`);
  }

  /** An integer within [min, max], or an error. */
  integer(v: unknown, path: string, min: number, max: number): number | undefined {
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v;
    return this.fail(path, `expected an integer from ${min} to ${max}, got ${describe(v)}`);
  }

  /** A `{string: string}` map, or errors naming each bad value. */
  stringMap(v: unknown, path: string): Record<string, string> | undefined {
    const obj = this.object(v, path);
    if (!obj) return undefined;
    const out: Record<string, string> = {};
    let ok = true;
    for (const [k, val] of Object.entries(obj)) {
      const s = this.string(val, field(path, k));
      if (s === undefined) ok = false;
      else out[k] = s;
    }
    return ok ? out : undefined;
  }
}
