// Running commands and small servers inside network namespaces, for integration tests.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { DIST } from './agent.js';

/** Result of a command run in a netns. */
export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cmd args` inside netns `ns` (ip netns exec) and waits for it; never rejects. */
export function nsExec(ns: string, cmd: string, args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    const p = execFile('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: opts.timeoutMs ?? 10_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) p.stdin?.end(opts.input);
    else p.stdin?.end();
  });
}

/** The echo helper script (TCP/UDP echo server and clients), compiled next to this file. */
export const ECHO_JS = path.join(DIST, 'test/lib/echo.js');

/** A background process inside a netns; `stop()` kills it. */
export interface NsProcess {
  readonly proc: ChildProcess;
  output(): string;
  stop(): void;
  /** Resolves with the first stdout line matching `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
}

/** Starts `cmd args` in netns `ns` in the background. */
export function nsSpawn(ns: string, cmd: string, args: readonly string[]): NsProcess {
  const proc = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const listeners: (() => void)[] = [];
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const l of listeners) l();
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  return {
    proc,
    output: () => out,
    stop: () => {
      proc.kill('SIGKILL');
    },
    waitFor: (re, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const m = out.split('\n').find((l) => re.test(l));
          if (m !== undefined) {
            clearTimeout(t);
            resolve(m);
            return true;
          }
          return false;
        };
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} from ${cmd} in ${ns}; output:\n${out}`)), timeoutMs);
        if (!check()) listeners.push(() => void check());
      }),
  };
}

/** Starts the echo server (`tcp` or `udp`) on `port` inside `ns`; resolves once it listens. */
export async function echoServer(ns: string, proto: 'tcp' | 'udp', port: number, tag = ns): Promise<NsProcess> {
  const p = nsSpawn(ns, process.execPath, [ECHO_JS, 'serve', proto, String(port), tag]);
  await p.waitFor(/^listening/);
  return p;
}

/**
 * One request through the echo client from `ns` to `ip:port`; resolves with the server's tag (which
 * backend answered) or undefined when there was no answer within the timeout.
 */
export async function echoOnce(ns: string, proto: 'tcp' | 'udp', ip: string, port: number, timeoutMs = 1500): Promise<string | undefined> {
  const r = await nsExec(ns, process.execPath, [ECHO_JS, 'ask', proto, ip, String(port), String(timeoutMs)], { timeoutMs: timeoutMs + 5000 });
  const m = /^answer (\S+)/m.exec(r.stdout);
  return m ? m[1] : undefined;
}

/** ping -c1 with a short deadline; true when a reply came back. */
export async function pingOnce(ns: string, ip: string, timeoutS = 1): Promise<boolean> {
  return (await nsExec(ns, 'ping', ['-c', '1', '-W', String(timeoutS), ip])).code === 0;
}
