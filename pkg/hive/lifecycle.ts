// Lifecycle: start hooks run in the order they were appended (which is dependency order, because a
// constructor appends its hooks after its dependencies were constructed), stop hooks in reverse.
// A failed start stops what had started and names the hook that failed.
//
// tsyringe's container.dispose() is neither ordered nor sequential (it awaits Promise.all over every
// disposable), so ordering comes from here, never from the container.

import type { Logger } from './logger.js';

/** What a hook receives: `signal` aborts when the hook's time is up or the hive is cancelled. */
export interface HookContext {
  readonly signal: AbortSignal;
}

/** A start/stop pair. Both are optional; a hook with only onStop still stops in reverse order. */
export interface Hook {
  /** Shown in logs and errors. The hive prefixes the module id. */
  readonly name?: string;
  onStart?(ctx: HookContext): Promise<void> | void;
  onStop?(ctx: HookContext): Promise<void> | void;
}

/** Appends hooks; provided to every module (the module id is recorded with each hook). */
export interface Lifecycle {
  append(hook: Hook): void;
}

/** Thrown by start when a hook fails; says which module and hook, and why. */
export class StartError extends Error {
  constructor(
    readonly hook: string,
    readonly module: string,
    override readonly cause: unknown,
  ) {
    super(`start failed in module ${module || '(root)'} at hook ${hook}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'StartError';
  }
}

/** Thrown by stop when one or more stop hooks failed; every hook is still given its chance to run. */
export class StopError extends Error {
  constructor(readonly failures: { hook: string; module: string; cause: unknown }[]) {
    super(
      `stop failed: ${failures
        .map((f) => `${f.module || '(root)'}/${f.hook}: ${f.cause instanceof Error ? f.cause.message : String(f.cause)}`)
        .join('; ')}`,
    );
    this.name = 'StopError';
  }
}

interface Entry {
  readonly hook: Hook;
  readonly module: string;
  readonly name: string;
  /** Pre-stop hooks (the job registry) stop before every other hook. */
  readonly preStop: boolean;
}

/** Runs `fn` with a signal that aborts after `timeoutMs` or when `outer` aborts; rejects on timeout. */
async function withTimeout(name: string, timeoutMs: number, outer: AbortSignal | undefined, fn: (s: AbortSignal) => Promise<void> | void): Promise<void> {
  const ctl = new AbortController();
  const onOuter = (): void => ctl.abort(outer?.reason);
  outer?.addEventListener('abort', onOuter, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new Error(`${name} timed out after ${timeoutMs} ms`);
      ctl.abort(err);
      reject(err);
    }, timeoutMs);
  });
  try {
    await Promise.race([Promise.resolve().then(() => fn(ctl.signal)), timeout]);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuter);
  }
}

/** The hive's ordered list of hooks. */
export class DefaultLifecycle {
  private readonly entries: Entry[] = [];
  private started: Entry[] = [];
  private running = false;

  constructor(
    private readonly log: Logger,
    private readonly startTimeoutMs: number,
    private readonly stopTimeoutMs: number,
  ) {}

  /** A Lifecycle view that records `module` with every hook. */
  forModule(module: string): Lifecycle {
    return { append: (hook) => this.append(hook, module) };
  }

  /** Appends a hook. Appending after start is an error: the hook would never run. */
  append(hook: Hook, module: string, preStop = false): void {
    const e: Entry = { hook, module, name: hook.name ?? '(anonymous)', preStop };
    if (this.running) {
      // A hook appended now would never start; that is a wiring bug (construct it from an invoke).
      throw new Error(`hook ${module}/${e.name} appended after start; append hooks from constructors or invokes`);
    }
    this.entries.push(e);
  }

  /** The hooks in start order, for introspection. */
  list(): { module: string; name: string; start: boolean; stop: boolean }[] {
    return this.entries.map((e) => ({ module: e.module, name: e.name, start: !!e.hook.onStart, stop: !!e.hook.onStop }));
  }

  /** Starts every hook in order. On failure, stops the ones already started (in reverse) and throws StartError. */
  async start(signal?: AbortSignal): Promise<void> {
    this.running = true;
    for (const e of this.entries) {
      const t0 = performance.now();
      try {
        if (e.hook.onStart) {
          await withTimeout(`start hook ${e.module}/${e.name}`, this.startTimeoutMs, signal, (s) => e.hook.onStart!({ signal: s }));
        }
      } catch (err) {
        this.log.error('start hook failed; stopping what started', { hook: e.name, hookModule: e.module, error: err });
        await this.stop().catch((stopErr: unknown) => this.log.error('stop after failed start also failed', { error: stopErr }));
        throw new StartError(e.name, e.module, err);
      }
      this.started.push(e);
      if (e.hook.onStart) this.log.debug('start hook done', { hook: e.name, hookModule: e.module, ms: Math.round(performance.now() - t0) });
    }
  }

  /** Stops every started hook: pre-stop hooks first, then the rest in reverse start order. */
  async stop(signal?: AbortSignal): Promise<void> {
    const started = this.started;
    this.started = [];
    this.running = false;
    const order = [...started.filter((e) => e.preStop).reverse(), ...started.filter((e) => !e.preStop).reverse()];
    const failures: { hook: string; module: string; cause: unknown }[] = [];
    for (const e of order) {
      if (!e.hook.onStop) continue;
      try {
        await withTimeout(`stop hook ${e.module}/${e.name}`, this.stopTimeoutMs, signal, (s) => e.hook.onStop!({ signal: s }));
        this.log.info('stopped', { hook: e.name, hookModule: e.module });
      } catch (err) {
        this.log.error('stop hook failed', { hook: e.name, hookModule: e.module, error: err });
        failures.push({ hook: e.name, module: e.module, cause: err });
      }
    }
    if (failures.length) throw new StopError(failures);
  }
}
