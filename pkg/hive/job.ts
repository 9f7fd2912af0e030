// Jobs: background work owned by a module and stopped with it — one-shots (with retries), timers and
// RxJS observers. Jobs added before start are started in lifecycle order; jobs added after start begin
// at once. All jobs stop (abort + await) before any other stop hook runs, so stop hooks never race
// with a job still using what they tear down.

import { type Observable, Subscription } from 'rxjs';
import type { Health } from './health.js';
import type { Lifecycle } from './lifecycle.js';
import type { Logger } from './logger.js';

const JOB_NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,100}$/;

/** What a running job gets from its group. */
export interface JobContext {
  readonly signal: AbortSignal;
  readonly health: Health;
  readonly log: Logger;
  /** Stops the whole hive (used by jobs created with `shutdownOnError`). */
  shutdown(err?: Error): void;
}

/** A unit of background work. Create with `oneShot`, `timer` or `observer`. */
export interface Job {
  readonly name: string;
  /** The health scope name, e.g. `timer-job-gc`. */
  readonly healthName: string;
  /** Runs until done or until `ctx.signal` aborts. Must not reject on abort. */
  run(ctx: JobContext): Promise<void>;
}

/** Adds jobs to a module. Provided per module as IJobGroup. */
export interface JobGroup {
  add(...jobs: Job[]): void;
}

/** Exponential backoff: min, 2·min, 4·min … capped at max. */
export interface Backoff {
  readonly minMs: number;
  readonly maxMs: number;
}

/** The delay before retry number `attempt` (0-based) under `b`. */
export function backoffDelay(b: Backoff, attempt: number): number {
  return Math.min(b.maxMs, b.minMs * 2 ** Math.min(attempt, 30));
}

/** Resolves after `ms`, or rejects... never: resolves early (false) when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A coalescing trigger: many `trigger()` calls before the waiter wakes count as one. */
export class Trigger {
  private pending = false;
  private waiter?: () => void;
  private lastFired = 0;

  constructor(private readonly debounceMs = 0) {}

  /** Asks the owner to run soon. */
  trigger(): void {
    this.pending = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** @internal Waits until triggered (true) or `ms` elapsed / `signal` aborted (false). */
  async wait(ms: number, signal: AbortSignal): Promise<boolean> {
    if (!this.pending) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          signal.removeEventListener('abort', done);
          if (this.waiter === done) this.waiter = undefined;
          resolve();
        };
        const t = setTimeout(done, ms);
        signal.addEventListener('abort', done, { once: true });
        this.waiter = done;
      });
    }
    if (!this.pending) return false;
    const since = Date.now() - this.lastFired;
    if (this.debounceMs > 0 && since < this.debounceMs) await sleep(this.debounceMs - since, signal);
    this.pending = false;
    this.lastFired = Date.now();
    return true;
  }
}

function checkName(name: string): void {
  if (!JOB_NAME.test(name)) throw new Error(`invalid job name ${JSON.stringify(name)}: must match ${JOB_NAME}`);
}

/** Options of a one-shot job. */
export interface OneShotOptions {
  /** How many times to retry after a failure; -1 = forever. Default 0. */
  retry?: number;
  /** Delay between retries. Default 100 ms → 60 s exponential. */
  backoff?: Backoff;
  /** Stop the hive when the job finally fails. */
  shutdownOnError?: boolean;
}

/** A job that runs `fn` once (retrying on failure as configured). Health scope `job-<name>`. */
export function oneShot(name: string, fn: (signal: AbortSignal, health: Health) => Promise<void>, opts: OneShotOptions = {}): Job {
  checkName(name);
  const retries = opts.retry ?? 0;
  const backoff = opts.backoff ?? { minMs: 100, maxMs: 60_000 };
  return {
    name,
    healthName: `job-${name}`,
    async run(ctx) {
      ctx.health.ok('Running');
      for (let attempt = 0; ; attempt++) {
        const t0 = performance.now();
        try {
          await fn(ctx.signal, ctx.health);
          if (!ctx.signal.aborted) ctx.health.stopped(`Finished (${Math.round(performance.now() - t0)} ms)`);
          return;
        } catch (err) {
          if (ctx.signal.aborted) return;
          const final = retries >= 0 && attempt >= retries;
          ctx.health.degraded(final ? 'Failed' : `Failed, retrying (attempt ${attempt + 1})`, err);
          ctx.log.warn('one-shot job failed', { job: name, attempt, final, error: err });
          if (final) {
            if (opts.shutdownOnError) ctx.shutdown(err instanceof Error ? err : new Error(String(err)));
            return;
          }
          if (!(await sleep(backoffDelay(backoff, attempt), ctx.signal))) return;
        }
      }
    },
  };
}

/** Options of a timer job. */
export interface TimerOptions {
  /** Runs the timer early when triggered (coalesced). */
  trigger?: Trigger;
}

/**
 * A job that runs `fn` every `intervalMs` (counted from the start of the previous run) and whenever
 * `opts.trigger` fires. Errors mark the job Degraded until the next successful run. Health `timer-job-<name>`.
 */
export function timer(name: string, fn: (signal: AbortSignal) => Promise<void>, intervalMs: number, opts: TimerOptions = {}): Job {
  checkName(name);
  if (!(intervalMs > 0)) throw new Error(`timer ${name}: interval must be > 0 ms`);
  const trig = opts.trigger ?? new Trigger();
  return {
    name,
    healthName: `timer-job-${name}`,
    async run(ctx) {
      ctx.health.ok('Primed');
      while (!ctx.signal.aborted) {
        const t0 = performance.now();
        try {
          await fn(ctx.signal);
          if (ctx.signal.aborted) return;
          ctx.health.ok(`OK (${Math.round(performance.now() - t0)} ms)`);
        } catch (err) {
          if (ctx.signal.aborted) return;
          ctx.health.degraded('Failed', err);
          ctx.log.warn('timer job failed', { job: name, error: err });
        }
        const wait = Math.max(0, intervalMs - (performance.now() - t0));
        await trig.wait(wait, ctx.signal);
      }
    },
  };
}

/** Options of an observer job. */
export interface ObserverOptions {
  /** Stop the hive when `fn` throws (otherwise the error is logged and the next event processed). */
  shutdownOnError?: boolean;
}

/**
 * A job that calls `fn` for every event of `source`, one at a time, in order, until the source
 * completes or the job stops. Health `observer-job-<name>`.
 */
export function observer<T>(name: string, source: Observable<T>, fn: (ev: T, signal: AbortSignal) => Promise<void>, opts: ObserverOptions = {}): Job {
  checkName(name);
  return {
    name,
    healthName: `observer-job-${name}`,
    run(ctx) {
      return new Promise<void>((resolve) => {
        const queue: T[] = [];
        let busy = false;
        let complete = false;
        // Created up front: a source that completes synchronously calls finish() from inside subscribe().
        const sub = new Subscription();
        let processed = 0;
        const finish = (): void => {
          sub.unsubscribe();
          ctx.signal.removeEventListener('abort', finish);
          resolve();
        };
        const pump = async (): Promise<void> => {
          if (busy) return;
          busy = true;
          while (queue.length && !ctx.signal.aborted) {
            const ev = queue.shift()!;
            try {
              await fn(ev, ctx.signal);
              processed++;
              ctx.health.ok(`OK (${processed} event(s))`);
            } catch (err) {
              if (ctx.signal.aborted) break;
              ctx.health.degraded('Failed', err);
              ctx.log.warn('observer job failed', { job: name, error: err });
              if (opts.shutdownOnError) {
                ctx.shutdown(err instanceof Error ? err : new Error(String(err)));
                busy = false;
                return finish();
              }
            }
          }
          busy = false;
          if (complete || ctx.signal.aborted) {
            if (complete && !ctx.signal.aborted) ctx.health.stopped('Completed');
            finish();
          }
        };
        ctx.signal.addEventListener('abort', finish, { once: true });
        ctx.health.ok('Primed');
        sub.add(source.subscribe({
          next: (ev) => {
            queue.push(ev);
            void pump();
          },
          error: (err: unknown) => {
            ctx.health.degraded('Source failed', err);
            ctx.log.warn('observer source failed', { job: name, error: err });
            complete = true;
            void pump();
          },
          complete: () => {
            complete = true;
            void pump();
          },
        }));
        if (ctx.signal.aborted) finish();
      });
    },
  };
}

/**
 * Runs the jobs of every module of one hive. A single pre-stop hook stops them all (abort, then await)
 * before other stop hooks run.
 */
export class JobRegistry {
  private readonly running = new Map<Job, { ctl: AbortController; done: Promise<void> }>();
  private started = false;

  constructor(
    private readonly shutdown: (err?: Error) => void,
    rootLifecycle: { append(h: { name: string; onStart(): void; onStop(): Promise<void> }, module: string, preStop: boolean): void },
  ) {
    rootLifecycle.append(
      {
        name: 'jobs',
        onStart: () => {
          this.started = true;
        },
        onStop: () => this.stopAll(),
      },
      'jobs',
      true,
    );
  }

  /** A module's group: jobs get health scopes under `health` and log through `log`. */
  group(lifecycle: Lifecycle, health: () => Health, log: Logger): JobGroup {
    return {
      add: (...jobs: Job[]) => {
        for (const job of jobs) {
          if (this.started) this.launch(job, health(), log);
          else lifecycle.append({ name: `job-${job.name}`, onStart: () => this.launch(job, health(), log) });
        }
      },
    };
  }

  private launch(job: Job, health: Health, log: Logger): void {
    const ctl = new AbortController();
    const h = health.scope(job.healthName);
    const ctx: JobContext = { signal: ctl.signal, health: h, log, shutdown: this.shutdown };
    const done = job
      .run(ctx)
      .catch((err: unknown) => log.error('job crashed', { job: job.name, error: err }))
      .finally(() => this.running.delete(job));
    this.running.set(job, { ctl, done });
  }

  private async stopAll(): Promise<void> {
    this.started = false;
    const all = [...this.running.values()];
    for (const r of all) r.ctl.abort();
    await Promise.all(all.map((r) => r.done));
  }
}
