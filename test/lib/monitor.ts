// Test helper: `cilia monitor …` against a test agent, running in the background with its output
// collected, so a test can wait for the event a packet it sent should cause.

import { type ChildProcess, spawn } from 'node:child_process';
import { CLI_JS, type TestAgent } from './agent.js';

/** How long start() waits for the monitor to listen. */
const LISTEN_TIMEOUT_MS = 10_000;

/** A running `cilia monitor`; stop() it in a `finally`. */
export class Monitor {
  private out = '';

  private constructor(private readonly proc: ChildProcess) {
    proc.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
  }

  /**
   * Starts `cilia monitor ARGS` (e.g. ['--type', 'drop']) against `agent` and waits for its "Listening
   * for events" line, so that no event of what the test does next is missed. Throws (after stopping it)
   * if that line does not come within 10 s.
   */
  static async start(agent: TestAgent, args: readonly string[]): Promise<Monitor> {
    const m = new Monitor(spawn(process.execPath, [CLI_JS, '--socket', agent.socket, 'monitor', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
    try {
      await m.waitFor(/Listening for events/, LISTEN_TIMEOUT_MS);
    } catch (err) {
      await m.stop();
      throw err;
    }
    return m;
  }

  /** Everything it printed so far (stdout and stderr). */
  text(): string {
    return this.out;
  }

  /** Resolves with the first line matching `re`; rejects after `timeoutMs` (default 5 s) showing what was seen. */
  async waitFor(re: RegExp, timeoutMs = 5_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.out.split('\n').find((l) => re.test(l));
      if (line !== undefined) return line;
      if (Date.now() > deadline) throw new Error(`no monitor line matches ${re} after ${timeoutMs} ms; got:\n${this.out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the monitor and waits until it is gone. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const gone = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await gone;
  }
}
