// A small command framework for the `cilia` CLI: commands with flags (node:util parseArgs, strict),
// positional arguments, --help, and usage errors that exit 2.

import { parseArgs } from 'node:util';
import type { ApiClient } from '../../pkg/api/index.js';

/** A user error in the command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** One flag of a command. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  readonly description: string;
}

/** Parsed flag values. */
export type Options = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** What a command's run() gets. */
export interface CommandContext {
  readonly args: string[];
  readonly opts: Options;
  readonly client: ApiClient;
  /** Writes to stdout. */
  readonly out: (text: string) => void;
  /** Reads all of stdin (for `-f -`). */
  readonly stdin: () => Promise<string>;
}

/** A command such as `status` or `endpoint create`. */
export interface Command {
  /** Space-separated words, e.g. `bpf ct list`. */
  readonly name: string;
  readonly summary: string;
  /** Positional arguments as shown in usage, e.g. `NAME|ID`. */
  readonly args?: string;
  readonly minArgs?: number;
  readonly maxArgs?: number;
  readonly options?: Readonly<Record<string, OptionSpec>>;
  /** Returns the exit code (default 0). */
  run(ctx: CommandContext): Promise<number | void>;
}

/** Usage text of one command. */
export function usage(cmd: Command): string {
  const lines = [`Usage: cilia ${cmd.name}${cmd.options ? ' [flags]' : ''}${cmd.args ? ' ' + cmd.args : ''}`, '', cmd.summary];
  if (cmd.options && Object.keys(cmd.options).length) {
    lines.push('', 'Flags:');
    for (const [name, o] of Object.entries(cmd.options)) {
      const short = o.short ? `-${o.short}, ` : '    ';
      lines.push(`  ${short}--${name}${o.type === 'string' ? ' VALUE' : ''}${o.multiple ? ' (repeatable)' : ''}`);
      lines.push(`        ${o.description}`);
    }
  }
  lines.push('', 'Global flags:', '      --socket PATH   agent API socket (env CILIA_SOCKET, default /var/run/cilia/cilia.sock)');
  return lines.join('\n') + '\n';
}

/** Parses argv against a command's flags. Throws UsageError on unknown flags or wrong arity. */
export function parseCommand(cmd: Command, argv: string[]): { args: string[]; opts: Options } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...(cmd.options ?? {}) } as never, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message.replace(/^.*?: /, '') : String(err));
  }
  const args = parsed.positionals;
  if (cmd.minArgs !== undefined && args.length < cmd.minArgs) throw new UsageError(`missing argument${cmd.args ? ' ' + cmd.args : ''}`);
  if (cmd.maxArgs !== undefined && args.length > cmd.maxArgs) throw new UsageError(`unexpected argument ${JSON.stringify(args[cmd.maxArgs])}`);
  return { args, opts: parsed.values };
}

/** Formats rows as an aligned text table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: readonly string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i])))
      .join('   ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n') + '\n';
}

/** JSON output for --json. */
export function json(v: unknown): string {
  return JSON.stringify(v, null, 2) + '\n';
}

/** The API path of a named resource: `${collection}/${ref}${suffix}`, then `?namespace=NS` when a
 * namespace option was given (the query goes after the suffix, e.g. `/v1/endpoint/web/labels?namespace=x`). */
export function resourcePath(collection: string, ref: string, namespace: unknown, suffix = ''): string {
  const ns = typeof namespace === 'string' ? `?namespace=${encodeURIComponent(namespace)}` : '';
  return `${collection}/${encodeURIComponent(ref)}${suffix}${ns}`;
}
