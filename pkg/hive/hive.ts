// The hive: builds an object graph from cells, parses configuration, runs invokes, and starts and
// stops the lifecycle. One hive = one fresh tsyringe child container, so hives never share state
// (we never use @singleton(), which registers into tsyringe's global container).

import 'reflect-metadata';
import { container as globalContainer } from 'tsyringe';
import type { BuildContext, Cell, CellInfo, InvokeRec } from './cell.js';
import { ConfigError, ConfigRegistry, type FlagInfo, envName, flagName } from './config.js';
import { Graph, GraphError, type Scope } from './graph.js';
import { type Health, HealthRegistry } from './health.js';
import { type JobGroup, JobRegistry } from './job.js';
import { DefaultLifecycle, type Lifecycle } from './lifecycle.js';
import { LOG_LEVELS, LogRoot, type LogLevel, type LogSink, type Logger, jsonSink } from './logger.js';
import { type Dep, type Token, token } from './token.js';

/** Module-scoped structured logger. */
export const ILogger = token<Logger>('Logger');
/** Module-scoped health reporter. */
export const IHealth = token<Health>('Health');
/** Module-scoped job group. */
export const IJobGroup = token<JobGroup>('JobGroup');
/** Module-scoped lifecycle (hooks are recorded with the module id). */
export const ILifecycle = token<Lifecycle>('Lifecycle');
/** Full id of the enclosing module, e.g. `agent.datapath.loader`. */
export const IModuleId = token<string>('ModuleId');
/** The hive-wide health registry (for status APIs). */
export const IHealthRegistry = token<HealthRegistry>('HealthRegistry');
/** Stops the hive from inside (e.g. a job that cannot continue). */
export const IShutdowner = token<Shutdowner>('Shutdowner');
/** Introspection of the hive: cells, hooks and flags. */
export const IHiveInfo = token<HiveIntrospection>('HiveInfo');

/** Lets a cell stop the whole hive; `run()` then returns (or throws `err`). */
export interface Shutdowner {
  shutdown(err?: Error): void;
}

/** What `cilia-agent hive` prints and /v1/hive serves. */
export interface HiveIntrospection {
  cells(): CellInfo[];
  hooks(): { module: string; name: string; start: boolean; stop: boolean }[];
  flags(): (FlagInfo & { value: unknown })[];
}

/** Options of a hive. All have defaults suitable for the agent. */
export interface HiveOptions {
  /** Prefix of environment variables. Default `CILIA_`. */
  readonly envPrefix?: string;
  /** Time allowed for all start hooks. Default 5 min (as cilium/hive). */
  readonly startTimeoutMs?: number;
  /** Time allowed for each stop hook. Default 1 min. */
  readonly stopTimeoutMs?: number;
  /** Command-line flags (without the program and subcommand). Default none. */
  readonly argv?: readonly string[];
  /** Environment. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where logs go. Default JSON lines on stderr. */
  readonly logSink?: LogSink;
  /** Replace providers with fixed values (tests): [token or class, value]. */
  readonly overrides?: readonly (readonly [Dep, unknown])[];
}

/** Built-in flags of every hive. */
export interface HiveConfig {
  readonly logLevel: LogLevel;
  readonly configFile: string;
}
export const IHiveConfig = token<Readonly<HiveConfig>>('HiveConfig');

const hiveConfigSchema = {
  logLevel: { doc: 'Minimum level of log records written', format: LOG_LEVELS as unknown as string[], default: 'info' as LogLevel },
  configFile: { doc: 'YAML or JSON file of flag values (flag names as keys); env CILIA_CONFIG also works', format: String, default: '' },
};

/** A built hive. See the package README (docs/hive.md) for a tutorial. */
export class Hive {
  private readonly graph: Graph;
  private readonly invokes: InvokeRec[] = [];
  private readonly configs: ConfigRegistry;
  private readonly logRoot: LogRoot;
  private readonly lifecycle: DefaultLifecycle;
  private readonly jobs: JobRegistry;
  readonly health = new HealthRegistry();
  private readonly log: Logger;
  private readonly argv: readonly string[];
  private readonly env: Readonly<Record<string, string | undefined>>;
  private populated = false;
  private parsed = false;
  private started = false;
  private shutdownRequest?: { err?: Error };
  private shutdownWaiter?: () => void;

  constructor(
    private readonly cells: readonly Cell[],
    private readonly opts: HiveOptions = {},
  ) {
    const prefix = opts.envPrefix ?? 'CILIA_';
    this.argv = opts.argv ?? [];
    this.env = opts.env ?? process.env;
    this.logRoot = new LogRoot(opts.logSink ?? jsonSink());
    this.log = this.logRoot.logger('hive');
    this.configs = new ConfigRegistry(prefix);
    this.lifecycle = new DefaultLifecycle(this.log, opts.startTimeoutMs ?? 5 * 60_000, opts.stopTimeoutMs ?? 60_000);
    this.jobs = new JobRegistry((err) => this.shutdown(err), this.lifecycle);
    this.graph = new Graph(globalContainer.createChildContainer());
    for (const [dep, value] of opts.overrides ?? []) this.graph.override(dep, value);

    const ctx: BuildContext = {
      config: this.configs,
      addInvoke: (inv) => this.invokes.push(inv),
      initModuleScope: (scope) => this.registerModuleBuiltins(scope),
    };
    const root = this.graph.root;
    this.registerModuleBuiltins(root);
    const rootValue = (tok: Token<unknown>, v: unknown): void =>
      root.register({ key: tok.id, name: tok.tokenName, deps: [], create: () => v, origin: 'builtin', module: '', state: 'new' });
    rootValue(IHealthRegistry, this.health);
    rootValue(IShutdowner, { shutdown: (err?: Error) => this.shutdown(err) } satisfies Shutdowner);
    rootValue(IHiveInfo, {
      cells: () => this.cells.map((c) => c.info()),
      hooks: () => this.lifecycle.list(),
      flags: () => {
        const cur = this.configs.current();
        return this.configs.flags().map((f) => ({ ...f, value: cur[f.key] }));
      },
    } satisfies HiveIntrospection);
    this.configs.add({ module: 'hive', token: IHiveConfig, schema: hiveConfigSchema });
    root.register({ key: IHiveConfig.id, name: IHiveConfig.tokenName, deps: [], create: () => this.configs.get(IHiveConfig), origin: 'config', module: 'hive', state: 'new' });
    for (const c of cells) c.apply(ctx, root);
  }

  private registerModuleBuiltins(scope: Scope): void {
    const id = scope.moduleId;
    const reg = (tok: Token<unknown>, create: () => unknown): void =>
      scope.register({ key: tok.id, name: tok.tokenName, deps: [], create, origin: 'builtin', module: id, state: 'new' });
    let health: Health | undefined;
    const getHealth = (): Health => (health ??= this.health.reporter(id || 'hive'));
    // Jobs report under the module without creating a status for the module itself (which would
    // show as Unknown until the module reports).
    const jobHealth = (): Health => health ?? this.health.detachedScope(id || 'hive');
    const lifecycle = this.lifecycle.forModule(id);
    const logger = this.logRoot.logger(id);
    reg(IModuleId, () => id);
    reg(ILogger, () => logger);
    reg(IHealth, getHealth);
    reg(ILifecycle, () => lifecycle);
    reg(IJobGroup, () => this.jobs.group(lifecycle, jobHealth, logger));
  }

  /** Every flag of every module (available before populate). */
  flags(): FlagInfo[] {
    return this.configs.flags();
  }

  /** Changes a config after parsing, before construction. Tests only (hive's AddConfigOverride). */
  addConfigOverride<T>(tok: Token<Readonly<T>>, fn: (cfg: T) => T): void {
    if (this.populated) throw new Error('addConfigOverride after populate has no effect');
    this.configs.addOverride(tok, fn);
    this.parsed = false;
  }

  /** Parses configuration (files, env, flags). Throws ConfigError (exit code 2) on bad input. */
  parseConfig(): void {
    if (this.parsed) return;
    const files: string[] = [];
    const fromArgv = this.argv.findIndex((a) => a === '--config-file' || a.startsWith('--config-file='));
    if (fromArgv >= 0) {
      const a = this.argv[fromArgv];
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : this.argv[fromArgv + 1];
      if (!v) throw new ConfigError('--config-file needs a path');
      files.push(v);
    } else {
      const envFile = this.env[envName(this.opts.envPrefix ?? 'CILIA_', 'configFile')] ?? this.env.CILIA_CONFIG;
      if (envFile) files.push(envFile);
    }
    this.configs.parse(this.argv, this.env, files);
    const level = this.configs.get(IHiveConfig).logLevel as LogLevel;
    this.logRoot.level = level;
    this.parsed = true;
  }

  /**
   * Parses config, validates the graph reachable from every invoke (missing dependencies and cycles,
   * each with its chain) and runs the invokes in order. Idempotent.
   */
  populate(): void {
    if (this.populated) return;
    this.parseConfig();
    const problems = this.graph.validate(this.invokes.map((i) => ({ what: `invoke ${i.name} (${i.module || 'root'})`, deps: i.deps })));
    if (problems.length) throw new GraphError(problems);
    for (const inv of this.invokes) {
      const t0 = performance.now();
      const args = inv.deps.map((r) => this.graph.resolve(r));
      let out: unknown;
      try {
        out = inv.fn(...args);
      } catch (err) {
        if (err instanceof ConfigError) throw err; // a bad flag value found by a cell: exit 2, as parse errors
        throw new Error(`invoke ${inv.name} in module ${inv.module || '(root)'} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      if (out instanceof Promise) throw new Error(`invoke ${inv.name} in module ${inv.module || '(root)'} returned a Promise; invokes must be synchronous (start work in a hook or job)`);
      this.log.debug('invoked', { invoke: inv.name, invokeModule: inv.module, ms: Math.round(performance.now() - t0) });
    }
    this.populated = true;
  }

  /**
   * Every flag's parsed value by key (camelCase), without constructing anything: for commands that act on
   * a program's settings while it is not running (e.g. `cilia-agent cleanup`). Throws ConfigError.
   */
  configValues(): Record<string, unknown> {
    this.parseConfig();
    return this.configs.current();
  }

  /** The object provided under `dep` (populating first). For entry points and tests. */
  resolve<T>(dep: Token<T>): T {
    this.populate();
    return this.graph.resolve({ dep, scope: this.graph.root }) as T;
  }

  /** Runs start hooks in dependency order. On failure, what started is stopped and StartError thrown. */
  async start(signal?: AbortSignal): Promise<void> {
    this.populate();
    const t0 = performance.now();
    await this.lifecycle.start(signal);
    this.started = true;
    this.log.info('started', { ms: Math.round(performance.now() - t0) });
  }

  /** Stops jobs first, then every started hook in reverse order. */
  async stop(signal?: AbortSignal): Promise<void> {
    if (!this.started) return;
    this.started = false;
    this.log.info('stopping');
    await this.lifecycle.stop(signal);
    this.log.info('stopped');
  }

  /** Asks `run()` to stop the hive. An error makes `run()` reject with it after stopping. */
  shutdown(err?: Error): void {
    if (this.shutdownRequest) return;
    this.shutdownRequest = { err };
    if (err) this.log.error('shutdown requested', { error: err });
    this.shutdownWaiter?.();
  }

  /** Starts, waits for SIGINT/SIGTERM or shutdown(), then stops. Rejects with a shutdown error. */
  async run(): Promise<void> {
    const onSignal = (sig: string): void => {
      this.log.info('signal received', { signal: sig });
      this.shutdown();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      await this.start();
      if (!this.shutdownRequest) await new Promise<void>((resolve) => (this.shutdownWaiter = resolve));
      await this.stop();
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    if (this.shutdownRequest?.err) throw this.shutdownRequest.err;
  }

  /** `--help` text: every flag grouped by module, with its default and environment variable. */
  helpText(program: string): string {
    const byModule = new Map<string, FlagInfo[]>();
    for (const f of this.configs.flags()) {
      const list = byModule.get(f.module) ?? [];
      list.push(f);
      byModule.set(f.module, list);
    }
    const lines = [`Usage: ${program} [flags]`, ''];
    for (const [mod, flags] of byModule) {
      lines.push(`Module ${mod || '(root)'}:`);
      for (const f of flags) {
        const def = f.default === '' ? '""' : JSON.stringify(f.default);
        lines.push(`  --${f.flag} (${f.format}, default ${def}, env ${f.env})`);
        lines.push(`      ${f.doc}`);
      }
      lines.push('');
    }
    return lines.join('\n');
  }

  /** The cell tree with flag values and the start/stop hooks, as `cilia-agent hive` prints it. */
  describe(): string {
    const cur = this.parsed ? this.configs.current() : {};
    const out: string[] = ['Cells:'];
    const walk = (c: CellInfo, indent: string): void => {
      switch (c.kind) {
        case 'module':
          out.push(`${indent}module ${c.id}: ${c.description}`);
          for (const ch of c.children) walk(ch, indent + '    ');
          break;
        case 'group':
          for (const ch of c.children) walk(ch, indent);
          break;
        case 'provide':
          out.push(`${indent}${c.private ? 'provide (private)' : 'provide'} ${c.provides}${c.deps.length ? ' <- ' + c.deps.join(', ') : ''}`);
          break;
        case 'invoke':
          out.push(`${indent}invoke ${c.name}${c.deps.length ? ' <- ' + c.deps.join(', ') : ''}`);
          break;
        case 'config':
          out.push(`${indent}config ${c.token}:`);
          for (const f of c.flags) {
            const key = f.flag.slice(2).replace(/-([a-z0-9])/g, (_, x: string) => x.toUpperCase());
            const v = key in cur ? cur[key] : f.default;
            out.push(`${indent}    ${f.flag}=${JSON.stringify(v)}`);
          }
          break;
        case 'decorate':
          out.push(`${indent}decorate ${c.target}${c.deps.length ? ' <- ' + c.deps.join(', ') : ''}`);
          for (const ch of c.children) walk(ch, indent + '    ');
          break;
      }
    };
    for (const c of this.cells) walk(c.info(), '  ');
    const hooks = this.lifecycle.list();
    out.push('', 'Start hooks:');
    for (const h of hooks) if (h.start) out.push(`  • ${h.module || '(root)'}/${h.name}`);
    out.push('', 'Stop hooks (jobs first, then in reverse):');
    for (const h of [...hooks].reverse()) if (h.stop) out.push(`  • ${h.module || '(root)'}/${h.name}`);
    return out.join('\n') + '\n';
  }
}

export { flagName };
