// Configuration: each cell declares a convict schema fragment; the hive merges all fragments into one
// convict instance so that `--help` lists every flag and each flag belongs to exactly one module.
// Precedence: defaults < config file(s) < environment (CILIA_*) < command-line flags < test overrides.

import fs from 'node:fs';
import path from 'node:path';
import convict from 'convict';
import { parseDocument } from '../manifest/index.js';
import type { Token } from './token.js';

/** One flag of a config fragment. Keys are camelCase; the flag is kebab-case, the env var PREFIX_UPPER_SNAKE. */
export interface FlagSpec<V> {
  /** One line saying what the flag controls. Shown by --help. */
  readonly doc: string;
  /** A convict format: 'port', 'nat', 'int', 'duration', 'ipv4', 'cidr4', 'abs-path', an array of allowed values, String, Boolean, Array … */
  readonly format: unknown;
  readonly default: V;
  readonly sensitive?: boolean;
  readonly nullable?: boolean;
}

/** A config fragment: one FlagSpec per field of T. */
export type ConfigSchema<T> = { readonly [K in keyof T]: FlagSpec<T[K]> };

/** A user-caused configuration error (unknown flag, bad value, unreadable config file). Commands exit 2. */
export class ConfigError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** kebab-case of a camelCase key: apiSocket → api-socket. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/** Environment variable of a key: apiSocket → CILIA_API_SOCKET. */
export function envName(prefix: string, key: string): string {
  return prefix + flagName(key).replace(/-/g, '_').toUpperCase();
}

let formatsAdded = false;
/** Formats Cilia adds to convict: ipv4, cidr4, abs-path. */
function addFormats(): void {
  if (formatsAdded) return;
  formatsAdded = true;
  const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
  convict.addFormat({
    name: 'ipv4',
    validate(v: unknown) {
      if (typeof v !== 'string' || !ipv4.test(v)) throw new Error('must be an IPv4 address such as 10.0.0.1');
    },
  });
  convict.addFormat({
    name: 'cidr4',
    validate(v: unknown) {
      const m = typeof v === 'string' ? /^([^/]+)\/(\d{1,2})$/.exec(v) : null;
      if (!m || !ipv4.test(m[1]) || Number(m[2]) > 32) throw new Error('must be an IPv4 CIDR such as 10.244.0.0/16');
    },
  });
  convict.addFormat({
    name: 'abs-path',
    validate(v: unknown) {
      if (typeof v !== 'string' || !path.isAbsolute(v)) throw new Error('must be an absolute path');
    },
  });
  convict.addFormat({
    name: 'string-list',
    validate(v: unknown) {
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new Error('must be a comma-separated list');
    },
    coerce: (v: unknown) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v),
  });
}

/** A fragment as registered by a config cell. */
export interface ConfigFragment {
  readonly module: string;
  readonly token: Token<unknown>;
  readonly schema: ConfigSchema<Record<string, unknown>>;
}

/** One flag as listed by --help and `cilia-agent hive`. */
export interface FlagInfo {
  readonly module: string;
  readonly key: string;
  readonly flag: string;
  readonly env: string;
  readonly doc: string;
  readonly default: unknown;
  readonly format: string;
}

function formatName(f: unknown): string {
  if (Array.isArray(f)) return f.map(String).join('|');
  if (typeof f === 'function') return (f as { name: string }).name.toLowerCase();
  return String(f);
}

/** The merged configuration of a hive. */
export class ConfigRegistry {
  private readonly byKey = new Map<string, { frag: ConfigFragment; spec: FlagSpec<unknown> }>();
  private readonly fragments: ConfigFragment[] = [];
  private readonly overrides = new Map<Token<unknown>, ((cfg: Record<string, unknown>) => Record<string, unknown>)[]>();
  private values?: Map<Token<unknown>, Readonly<Record<string, unknown>>>;

  constructor(private readonly envPrefix: string) {
    addFormats();
  }

  /** Adds a fragment. Throws when a key is already declared by another (or the same) module. */
  add(frag: ConfigFragment): void {
    for (const [key, spec] of Object.entries(frag.schema)) {
      const prev = this.byKey.get(key);
      if (prev) {
        throw new Error(
          `flag --${flagName(key)} declared twice: in module ${prev.frag.module || '(root)'} (${prev.frag.token.tokenName}) ` +
            `and in module ${frag.module || '(root)'} (${frag.token.tokenName})`,
        );
      }
      this.byKey.set(key, { frag, spec });
    }
    this.fragments.push(frag);
  }

  /** Changes a token's parsed config after parsing (tests only; highest precedence). */
  addOverride<T>(tok: Token<Readonly<T>>, fn: (cfg: T) => T): void {
    const list = this.overrides.get(tok) ?? [];
    list.push(fn as unknown as (cfg: Record<string, unknown>) => Record<string, unknown>);
    this.overrides.set(tok, list);
    this.values = undefined;
  }

  /** Every flag, grouped in declaration order. */
  flags(): FlagInfo[] {
    return [...this.byKey.entries()].map(([key, { frag, spec }]) => ({
      module: frag.module,
      key,
      flag: flagName(key),
      env: envName(this.envPrefix, key),
      doc: spec.doc,
      default: spec.default,
      format: formatName(spec.format),
    }));
  }

  /**
   * Parses defaults, config files, environment and argv (in rising precedence) and validates every value.
   * Throws ConfigError naming the flag, the value and what was expected.
   */
  parse(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, configFiles: readonly string[]): void {
    const known = new Map<string, string>(); // flag → key
    const schema: Record<string, unknown> = {};
    for (const [key, { spec }] of this.byKey) {
      known.set(flagName(key), key);
      schema[key] = { ...spec, env: envName(this.envPrefix, key), arg: flagName(key) };
    }
    for (const a of argv) {
      if (!a.startsWith('--')) {
        if (a.startsWith('-') && a !== '-') throw new ConfigError(`unknown flag ${a}`);
        continue;
      }
      const name = a.slice(2).split('=')[0];
      const base = name.startsWith('no-') && !known.has(name) ? name.slice(3) : name;
      if (!known.has(base)) throw new ConfigError(`unknown flag --${name}; see --help for the flags of each module`);
    }
    const cleanEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) cleanEnv[k] = v;
    let conf: convict.Config<Record<string, unknown>>;
    try {
      conf = convict(schema as convict.Schema<Record<string, unknown>>, { args: [...argv], env: cleanEnv });
    } catch (err) {
      throw new ConfigError(this.describeError(err, undefined));
    }
    for (const file of configFiles) this.loadFile(conf, file, known);
    try {
      conf.validate({ allowed: 'strict' });
    } catch (err) {
      throw new ConfigError(this.describeError(err, conf));
    }
    const values = new Map<Token<unknown>, Readonly<Record<string, unknown>>>();
    for (const frag of this.fragments) {
      let obj: Record<string, unknown> = {};
      for (const key of Object.keys(frag.schema)) obj[key] = conf.get(key);
      for (const fn of this.overrides.get(frag.token) ?? []) obj = fn({ ...obj });
      values.set(frag.token, Object.freeze(obj));
    }
    this.values = values;
  }

  /** The parsed, frozen config of a fragment's token. */
  get(tok: Token<unknown>): Readonly<Record<string, unknown>> {
    if (!this.values) throw new Error('configuration requested before it was parsed');
    const v = this.values.get(tok);
    if (!v) throw new Error(`no configuration registered for ${tok.tokenName}`);
    return v;
  }

  /** The current value of every flag (for `cilia-agent hive` and the status API). */
  current(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (!this.values) return out;
    for (const [, obj] of this.values) Object.assign(out, obj);
    return out;
  }

  private loadFile(conf: convict.Config<Record<string, unknown>>, file: string, known: Map<string, string>): void {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = file.endsWith('.json') ? JSON.parse(text) : parseDocument(text);
    } catch (err) {
      throw new ConfigError(`config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
    }
    if (doc === null || doc === undefined) return;
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`config file ${file} must hold a mapping of flag names to values`);
    const mapped: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
      // Accept both flag names (api-socket, as in Cilium's config maps) and keys (apiSocket).
      const key = known.get(k) ?? (this.byKey.has(k) ? k : undefined);
      if (!key) throw new ConfigError(`config file ${file}: unknown key ${JSON.stringify(k)}`);
      mapped[key] = v;
    }
    try {
      conf.load(mapped);
    } catch (err) {
      throw new ConfigError(`config file ${file}: ${this.describeError(err, conf)}`);
    }
  }

  /** Rewrites convict's "key: message" lines into "invalid value for --flag: VALUE (message; from …)". */
  private describeError(err: unknown, conf: convict.Config<Record<string, unknown>> | undefined): string {
    const msg = err instanceof Error ? err.message : String(err);
    const lines = msg.split('\n').filter(Boolean).map((line) => {
      const m = /^([A-Za-z0-9_]+): (.*)$/.exec(line);
      if (!m || !this.byKey.has(m[1])) return line;
      const key = m[1];
      let reason = m[2];
      let value = '';
      const vm = /: value was (.*)$/.exec(reason);
      if (vm) {
        value = vm[1]!;
        reason = reason.slice(0, vm.index);
      } else if (conf) {
        try {
          value = JSON.stringify(conf.get(key)) ?? '';
        } catch {
          value = '?';
        }
      }
      const spec = this.byKey.get(key)!.spec;
      const expected = Array.isArray(spec.format) ? ` (expected one of ${spec.format.map(String).join(', ')})` : '';
      return `invalid value for --${flagName(key)} (env ${envName(this.envPrefix, key)}): ${value} — ${reason}${expected}`;
    });
    return lines.join('\n');
  }
}
