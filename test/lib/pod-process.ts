// Test helper: a process inside a pod's network namespace (or the host's) that serves TCP and UDP ports
// and runs client actions on request: probes, kept TCP connections, and a watch that times when a verdict
// flips. One process per pod serves any number of parallel actions, each with its own short timeout, so
// a test can check connectivity between many endpoints at once without starting a process per probe.
//
// Every server reply starts with the serving pod's name (see pod-process-protocol.ts), so every result
// says which pod answered: which backend a service chose, or that the expected pod did.
//
//   const client = await PodProcess.start(clientEp.netns, { name: 'client' });
//   const server = await PodProcess.start(serverEp.netns, { name: 'server', tcp: [80], udp: [53] });
//   const r = await client.probe(tcp(serverEp.ipv4, 80));      // { outcome: 'ok', server: 'server', … }
//   const conn = await client.open(tcp(serverEp.ipv4, 80));     // throws unless ok
//   await conn.exchange('hi');                                  // { outcome: 'ok', reply: 'server hi', … }
//   await conn.close();
//   await client.stop(); await server.stop();

import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type ProbeResult, type ProbeTarget, READY_LINE, type Request, type Response, type ServeSpec } from './pod-process-protocol.js';

export type { ProbeOutcome, ProbeResult, ProbeTarget, ServeSpec } from './pod-process-protocol.js';

/** The default timeout of a client action: long enough for an allowed probe on a loaded 2-core machine, short for a dropped one. */
export const DEFAULT_PROBE_TIMEOUT_MS = 1500;

/** How long start() waits for every port to listen. */
const START_TIMEOUT_MS = 10_000;

/** The program that runs in the netns, compiled next to this file. */
const CHILD_JS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pod-process-child.js');

/** A TCP target. */
export function tcp(host: string, port: number): ProbeTarget {
  return { proto: 'tcp', host, port };
}

/** A UDP target. */
export function udp(host: string, port: number): ProbeTarget {
  return { proto: 'udp', host, port };
}

/** Options of PodProcess.start(): what it serves (name, tcp, udp), and where it runs. */
export interface PodProcessOptions extends ServeSpec {
  /**
   * A cgroup v2 directory the process joins before it enters the netns (inside `ip netns exec`
   * /sys/fs/cgroup is not visible), e.g. to be under the socket LB programs attached there. Default:
   * the caller's cgroup.
   */
  readonly cgroup?: string;
}

/** Result of watch(): when the wanted verdict first showed, on the CLOCK_MONOTONIC clock every process shares. */
export interface WatchResult {
  /** process.hrtime.bigint() at the start of the first attempt with the wanted outcome; undefined if none came. */
  readonly flippedAtNs?: bigint;
  readonly attempts: number;
}

/** A TCP connection kept open by PodProcess.open(). */
export interface OpenConnection {
  /** The name of the pod that accepted it (its greeting). */
  readonly server: string;
  /** Sends one line and waits for the answer ("<server> <text>"). Never throws for a network outcome. */
  exchange(text: string, timeoutMs?: number): Promise<ProbeResult>;
  /** Closes the connection with a RST (nothing waits for a peer that may be unreachable by now). */
  close(): Promise<void>;
}

/** A request without its id (Omit does not distribute over a union). */
type RequestBody = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/**
 * A running pod process. Its client actions resolve with the network outcome, never throw for one (but
 * open(), which throws unless it connected); they reject if the process itself is gone.
 */
export class PodProcess {
  private nextId = 1;
  private readonly pending = new Map<number, (r: Response) => void>();
  private stderr = '';

  private constructor(
    /** The netns it runs in (a name under /run/netns), or undefined for the caller's own. */
    readonly netns: string | undefined,
    /** The name in its servers' replies. */
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {}

  /** Where the process runs, for messages. */
  private get where(): string {
    return `pod process ${this.name} in ${this.netns ?? 'the host netns'}`;
  }

  /**
   * Starts the process in `netns` (a name under /run/netns; undefined = the caller's own namespace, e.g.
   * to probe from the host) and waits until every port listens.
   * Throws if the name is empty or has white space, or if the process exits or does not become ready
   * within 10 s (e.g. a port already in use, a missing netns or cgroup); nothing is left running then.
   */
  static async start(netns: string | undefined, opts: PodProcessOptions): Promise<PodProcess> {
    if (!/^\S+$/.test(opts.name)) throw new Error(`pod process name ${JSON.stringify(opts.name)}: must be non-empty, without white space`);
    const spec: ServeSpec = { name: opts.name, tcp: opts.tcp, udp: opts.udp };
    let argv = [process.execPath, CHILD_JS, JSON.stringify(spec)];
    if (netns) argv = ['ip', 'netns', 'exec', netns, ...argv];
    if (opts.cgroup) argv = ['sh', '-c', 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"', 'sh', opts.cgroup, ...argv];
    const proc = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const pod = new PodProcess(netns, opts.name, proc);
    proc.stdin.on('error', () => undefined); // EPIPE once it is gone: the exit handler reports that
    proc.stderr.on('data', (d: Buffer) => (pod.stderr += d.toString()));
    let ready: () => void = () => undefined;
    const readyP = new Promise<void>((resolve) => (ready = resolve));
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      if (line === READY_LINE) return ready();
      const r = JSON.parse(line) as Response;
      const done = pod.pending.get(r.id);
      pod.pending.delete(r.id);
      done?.(r);
    });
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code, signal) => {
        const err = new Error(`${pod.where} exited (${code ?? signal}): ${pod.stderr}`);
        for (const done of pod.pending.values()) done({ id: 0, outcome: 'error', detail: err.message, ms: 0 });
        pod.pending.clear();
        reject(err);
      }),
    );
    exited.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${pod.where} not ready after ${START_TIMEOUT_MS} ms: ${pod.stderr}`)), START_TIMEOUT_MS)));
    try {
      await Promise.race([readyP, exited, late]);
    } catch (err) {
      await pod.stop();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return pod;
  }

  /** Sends a request and waits for its answer; rejects only if the process is gone already. */
  private call(req: RequestBody): Promise<Response> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) return reject(new Error(`${this.where} is gone: ${this.stderr}`));
      this.pending.set(id, resolve);
      this.proc.stdin!.write(JSON.stringify({ ...req, id }) + '\n');
    });
  }

  /**
   * One probe from this pod: TCP connects and waits for the greeting; UDP sends a datagram "probe" (resent
   * every 300 ms on the same socket) and waits for the first answer ("<server> probe", with `from`).
   * 'refused' means ECONNREFUSED: a TCP RST, or an ICMP port unreachable for UDP.
   */
  async probe(target: ProbeTarget, timeoutMs = DEFAULT_PROBE_TIMEOUT_MS): Promise<ProbeResult> {
    const { id: _id, ...r } = await this.call({ op: 'probe', target, timeoutMs });
    return r;
  }

  /**
   * `n` probes of `target`, one after the other (each a new connection, with a new source port): for
   * each the name of the pod that answered, or "(<outcome>: <detail>)" when none did. For seeing how a
   * service spreads connections over its backends.
   */
  async whoAnswers(target: ProbeTarget, n: number, timeoutMs = DEFAULT_PROBE_TIMEOUT_MS): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await this.probe(target, timeoutMs);
      out.push(r.server ?? `(${r.outcome}${r.detail ? `: ${r.detail}` : ''})`);
    }
    return out;
  }

  /**
   * Opens a TCP connection that stays open, for exchange() (e.g. to check that an established
   * connection survives, or stops passing after, a change). Throws unless the greeting came back.
   */
  async open(target: ProbeTarget, timeoutMs = DEFAULT_PROBE_TIMEOUT_MS): Promise<OpenConnection> {
    const r = await this.call({ op: 'open', target, timeoutMs });
    if (r.outcome !== 'ok' || r.conn === undefined) throw new Error(`opening ${target.proto} ${target.host}:${target.port} from ${this.name}: ${r.outcome} ${r.detail ?? ''}`);
    const conn = r.conn;
    return {
      server: r.server!,
      exchange: async (text, exchangeTimeoutMs = DEFAULT_PROBE_TIMEOUT_MS) => {
        const { id: _id, ...x } = await this.call({ op: 'exchange', conn, text, timeoutMs: exchangeTimeoutMs });
        return x;
      },
      close: async () => {
        await this.call({ op: 'close', conn });
      },
    };
  }

  /**
   * Probes `target` again and again, each attempt a new socket with its own short timeout (default 5 ms),
   * until the wanted verdict shows or `deadlineMs` (default 10 s) passes: 'ok' at the first reply,
   * 'blocked' at the first of two timeouts in a row (one late reply on a busy machine must not count as
   * a flip). For timing how long a change takes to reach the datapath: process.hrtime.bigint() reads the
   * same monotonic clock in every process.
   */
  async watch(target: ProbeTarget, want: 'ok' | 'blocked', opts: { attemptTimeoutMs?: number; deadlineMs?: number } = {}): Promise<WatchResult> {
    const r = await this.call({ op: 'watch', target, want, attemptTimeoutMs: opts.attemptTimeoutMs ?? 5, deadlineMs: opts.deadlineMs ?? 10_000 });
    return { flippedAtNs: r.flippedAtNs === undefined ? undefined : BigInt(r.flippedAtNs), attempts: r.attempts ?? 0 };
  }

  /** Kills the process (which holds the ports and the open connections) and waits until it is gone. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.kill('SIGKILL');
    await gone;
  }
}

/** One connectivity expectation: does a probe from `from` to `to` get an answer from the pod `to.name`? */
export interface ReachCase {
  readonly from: PodProcess;
  readonly to: ProbeTarget & { readonly name: string };
  readonly reach: boolean;
}

/**
 * Probes every case in parallel and returns one line per case whose outcome differs from the
 * expectation (empty when all match): reached = 'ok' with the answer from the pod `to.name`, blocked =
 * 'timeout'; anything else (refused, error, another pod answering) is always a mismatch, since every
 * probed port has a server.
 */
export async function reachMismatches(cases: readonly ReachCase[], timeoutMs = DEFAULT_PROBE_TIMEOUT_MS): Promise<string[]> {
  const results = await Promise.all(cases.map((c) => c.from.probe(c.to, timeoutMs)));
  const out: string[] = [];
  cases.forEach((c, i) => {
    const r = results[i];
    const what = `${c.from.name} -> ${c.to.name}:${c.to.port}/${c.to.proto}: expected ${c.reach ? 'reach' : 'blocked'}`;
    const want = c.reach ? 'ok' : 'timeout';
    if (r.outcome !== want) out.push(`${what}, got ${r.outcome}${r.detail ? ` (${r.detail})` : ''}`);
    else if (r.outcome === 'ok' && r.server !== c.to.name) out.push(`${what}, got an answer from ${r.server}`);
  });
  return out;
}
