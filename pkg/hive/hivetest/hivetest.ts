// Test kit: build a hive from the cells under test plus fakes, start it, stop it.

import type { TestContext } from 'node:test';
import { type Cell, Hive, type HiveOptions, MemorySink } from '../index.js';

/** A hive for a test, logging into memory (printed when the test fails), at debug level. */
export interface TestHive {
  readonly hive: Hive;
  readonly logs: MemorySink;
  /** Starts the hive and registers its stop with the test's cleanup. */
  start(): Promise<Hive>;
}

/**
 * Builds a hive from `cells` (the cells under test plus fakes; replace providers with `opts.overrides`).
 * Pass the node:test context to stop the hive and dump its logs on failure automatically.
 */
export function testHive(cells: readonly Cell[], opts: HiveOptions & { t?: TestContext } = {}): TestHive {
  const logs = new MemorySink();
  const hive = new Hive(cells, { argv: ['--log-level=debug'], env: {}, ...opts, logSink: opts.logSink ?? logs });
  return {
    hive,
    logs,
    async start() {
      await hive.start();
      opts.t?.after(async () => {
        await hive.stop();
      });
      return hive;
    },
  };
}

/** Formats captured log records for a failure message. */
export function dumpLogs(logs: MemorySink): string {
  return logs.records.map((r) => `${r.level} ${r.module}: ${r.msg} ${JSON.stringify(r.attrs)}`).join('\n');
}
