// Test helper: a small process inside a pod's network namespace that serves TCP and UDP ports and
// probes other pods on request, so that a test can check connectivity between endpoints with many
// probes in parallel and a short timeout each, without starting a process per probe.
//
// The same file is the library (PodProcess, used by tests) and the program that runs in the netns
// (`node probe.js --serve '{"name":…}'`): the program answers JSON lines on stdin with JSON lines on
// stdout. Every server replies, so a probe succeeds only when the packets made it both ways:
// TCP: the server writes "<name> tcp <port>\n" on accept, then echoes every line;
// UDP: the server answers each datagram with "<name> udp <port> <datagram>".

import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

/** How a probe ended: a reply came back, nothing came back in time, the peer refused, or a local error. */
export type ProbeOutcome = 'ok' | 'timeout' | 'refused' | 'error';

/** One probe's result. `reply` is the server's first line (TCP) or datagram (UDP) when `outcome` is ok. */
export interface ProbeResult {
  readonly outcome: ProbeOutcome;
  readonly reply?: string;
  readonly detail?: string;
  readonly ms: number;
}

/** Where a probe goes. */
export interface ProbeTarget {
  readonly proto: 'tcp' | 'udp';
  readonly host: string;
  readonly port: number;
}

/** What the process in the netns serves. */
export interface ServeOptions {
  /** Put in every reply, so a probe can tell which pod answered. */
  readonly name: string;
  readonly tcp?: readonly number[];
  readonly udp?: readonly number[];
}

/** Default probe timeout: long enough for an allowed probe on a loaded 2-core machine, short for a dropped one. */
export const DEFAULT_PROBE_TIMEOUT_MS = 1500;

type Request =
  | { id: number; op: 'probe'; target: ProbeTarget; timeoutMs: number }
  | { id: number; op: 'open'; target: ProbeTarget; timeoutMs: number }
  | { id: number; op: 'exchange'; conn: number; text: string; timeoutMs: number }
  | { id: number; op: 'closeConn'; conn: number }
  | { id: number; op: 'watch'; target: ProbeTarget; want: 'ok' | 'blocked'; attemptTimeoutMs: number; deadlineMs: number };
type Response = { id: number } & ProbeResult & { conn?: number; flippedAtNs?: string; attempts?: number };

/** Result of watch(): when the wanted verdict first showed, on the CLOCK_MONOTONIC clock every process shares. */
export interface WatchResult {
  /** process.hrtime.bigint() at the start of the first attempt with the wanted outcome; undefined if none came. */
  readonly flippedAtNs?: bigint;
  readonly attempts: number;
}
/** A request without its id (Omit does not distribute over a union). */
type RequestBody = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

const PROBE_JS = fileURLToPath(import.meta.url);

/** A running probe process in one network namespace. */
export class PodProcess {
  private nextId = 1;
  private readonly pending = new Map<number, (r: Response) => void>();
  private stderr = '';

  private constructor(
    readonly netns: string | undefined,
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {}

  /**
   * Starts the process in `netns` (a name under /run/netns; undefined = the caller's own namespace, to
   * probe from the host — serve no ports there) and waits until every port listens.
   * Throws if the process exits or does not become ready within 10 s (e.g. a port already in use).
   */
  static async start(netns: string | undefined, opts: ServeOptions): Promise<PodProcess> {
    const argv = [process.execPath, PROBE_JS, '--serve', JSON.stringify(opts)];
    const proc = netns ? spawn('ip', ['netns', 'exec', netns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] }) : spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const pod = new PodProcess(netns, opts.name, proc);
    proc.stderr.on('data', (d: Buffer) => (pod.stderr += d.toString()));
    const lines = readline.createInterface({ input: proc.stdout });
    let ready: () => void = () => undefined;
    const readyP = new Promise<void>((resolve) => (ready = resolve));
    lines.on('line', (line) => {
      if (line === 'ready') return ready();
      const r = JSON.parse(line) as Response;
      const done = pod.pending.get(r.id);
      pod.pending.delete(r.id);
      done?.(r);
    });
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code) => {
        const err = new Error(`probe process in ${netns ?? 'the host netns'} exited (${code}): ${pod.stderr}`);
        for (const done of pod.pending.values()) done({ id: 0, outcome: 'error', detail: err.message, ms: 0 });
        pod.pending.clear();
        reject(err);
      }),
    );
    exited.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`probe process in ${netns ?? 'the host netns'} not ready after 10 s: ${pod.stderr}`)), 10_000)));
    try {
      await Promise.race([readyP, exited, late]);
    } catch (err) {
      proc.kill('SIGKILL');
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return pod;
  }

  private call(req: RequestBody): Promise<Response> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) return reject(new Error(`probe process in ${this.netns ?? 'the host netns'} is gone: ${this.stderr}`));
      this.pending.set(id, resolve);
      this.proc.stdin!.write(JSON.stringify({ ...req, id }) + '\n');
    });
  }

  /** Connects (TCP) or sends a datagram (UDP) and waits for the server's reply. Never throws for a network outcome. */
  async probe(target: ProbeTarget, timeoutMs = DEFAULT_PROBE_TIMEOUT_MS): Promise<ProbeResult> {
    const { id: _id, ...r } = await this.call({ op: 'probe', target, timeoutMs });
    return r;
  }

  /** Opens a TCP connection that stays open (for exchange()); resolves with its id, or throws the outcome. */
  async open(target: ProbeTarget, timeoutMs = DEFAULT_PROBE_TIMEOUT_MS): Promise<number> {
    const r = await this.call({ op: 'open', target, timeoutMs });
    if (r.outcome !== 'ok' || r.conn === undefined) throw new Error(`opening ${target.host}:${target.port} from ${this.name}: ${r.outcome} ${r.detail ?? ''}`);
    return r.conn;
  }

  /** Sends one line on an open connection and waits for its echo. */
  async exchange(conn: number, text: string, timeoutMs = DEFAULT_PROBE_TIMEOUT_MS): Promise<ProbeResult> {
    const { id: _id, ...r } = await this.call({ op: 'exchange', conn, text, timeoutMs });
    return r;
  }

  /** Closes an open connection (RST: nothing waits for the peer). */
  async closeConn(conn: number): Promise<void> {
    await this.call({ op: 'closeConn', conn });
  }

  /**
   * Probes `target` again and again, each attempt a new socket with its own short timeout, until the
   * wanted verdict shows: 'ok' at the first reply, 'blocked' at the first of two timeouts in a row (one
   * late reply on a busy machine must not count as a flip). For timing how long a change takes to reach
   * the datapath: process.hrtime.bigint() reads the same monotonic clock in every process.
   */
  async watch(target: ProbeTarget, want: 'ok' | 'blocked', opts: { attemptTimeoutMs?: number; deadlineMs?: number } = {}): Promise<WatchResult> {
    const r = await this.call({ op: 'watch', target, want, attemptTimeoutMs: opts.attemptTimeoutMs ?? 5, deadlineMs: opts.deadlineMs ?? 10_000 });
    return { flippedAtNs: r.flippedAtNs === undefined ? undefined : BigInt(r.flippedAtNs), attempts: r.attempts ?? 0 };
  }

  /** Stops the process (it holds the ports and the open connections). */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.kill('SIGKILL');
    await gone;
  }
}

/** One connectivity expectation: does a probe from `from` to `to` get an answer? */
export interface ReachCase {
  readonly from: PodProcess;
  readonly to: ProbeTarget & { readonly name: string };
  readonly reach: boolean;
}

/**
 * Probes every case in parallel and returns one line per case whose outcome differs from the
 * expectation (empty when all match): reached = 'ok', blocked = 'timeout'; anything else (refused,
 * error) is always a mismatch, since every probed port has a server.
 */
export async function reachMismatches(cases: readonly ReachCase[], timeoutMs = DEFAULT_PROBE_TIMEOUT_MS): Promise<string[]> {
  const results = await Promise.all(cases.map((c) => c.from.probe(c.to, timeoutMs)));
  const out: string[] = [];
  cases.forEach((c, i) => {
    const r = results[i];
    const want = c.reach ? 'ok' : 'timeout';
    if (r.outcome !== want) out.push(`${c.from.name} -> ${c.to.name}:${c.to.port}/${c.to.proto}: expected ${c.reach ? 'reach' : 'blocked'}, got ${r.outcome}${r.detail ? ` (${r.detail})` : ''}`);
  });
  return out;
}

// --- the program in the netns ----------------------------------------------------------------------

function serve(opts: ServeOptions): Promise<void>[] {
  const listening: Promise<void>[] = [];
  for (const port of opts.tcp ?? []) {
    const srv = net.createServer((sock) => {
      sock.on('error', () => undefined);
      sock.write(`${opts.name} tcp ${port}\n`);
      onLines(sock, (l) => sock.write(`${l}\n`));
    });
    listening.push(new Promise((resolve) => srv.listen(port, '0.0.0.0', resolve)));
  }
  for (const port of opts.udp ?? []) {
    const sock = dgram.createSocket('udp4');
    sock.on('message', (msg, rinfo) => sock.send(`${opts.name} udp ${port} ${msg.toString()}`, rinfo.port, rinfo.address));
    listening.push(new Promise((resolve) => sock.bind(port, '0.0.0.0', resolve)));
  }
  return listening;
}

/** Calls `fn` for every complete line read from `stream` (no readline: it re-emits socket errors unhandled). */
function onLines(stream: NodeJS.ReadableStream, fn: (line: string) => void): void {
  let buf = '';
  stream.on('data', (d: Buffer | string) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      fn(line);
    }
  });
}

function outcomeOf(err: NodeJS.ErrnoException): ProbeOutcome {
  return err.code === 'ECONNREFUSED' ? 'refused' : 'error';
}

/** One TCP or UDP probe; `keep` leaves a TCP connection open and returns it. */
function probeOnce(target: ProbeTarget, timeoutMs: number, keep: boolean): Promise<ProbeResult & { sock?: net.Socket }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    let cleanup: () => void = () => undefined;
    const finish = (r: Omit<ProbeResult, 'ms'> & { sock?: net.Socket }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!r.sock) cleanup();
      resolve({ ...r, ms: Math.round(performance.now() - t0) });
    };
    const timer = setTimeout(() => finish({ outcome: 'timeout' }), timeoutMs);
    if (target.proto === 'tcp') {
      const sock = net.connect({ host: target.host, port: target.port });
      cleanup = () => sock.destroy();
      sock.on('error', (err) => finish({ outcome: outcomeOf(err), detail: err.message }));
      onLines(sock, (line) => finish({ outcome: 'ok', reply: line, ...(keep ? { sock } : {}) }));
    } else {
      const sock = dgram.createSocket('udp4');
      let resend: NodeJS.Timeout | undefined;
      cleanup = () => {
        clearInterval(resend);
        sock.close();
      };
      sock.on('error', (err) => finish({ outcome: outcomeOf(err), detail: err.message }));
      sock.on('message', (msg) => finish({ outcome: 'ok', reply: msg.toString() }));
      // A connected socket reports an ICMP port unreachable as ECONNREFUSED. Resending on the same
      // socket keeps the same 5-tuple, so a resend cannot pass where the first datagram was denied.
      sock.connect(target.port, target.host, () => {
        // Errors of a send without a callback arrive as 'error' events (handled above).
        const send = () => {
          if (settled) return;
          try {
            sock.send('probe');
          } catch (err) {
            // A failed connect still calls back (e.g. ENETUNREACH), with the socket unconnected.
            finish({ outcome: 'error', detail: (err as Error).message });
          }
        };
        send();
        resend = setInterval(send, 300);
      });
    }
  });
}

/** The child side of PodProcess.watch(). */
async function watchFlip(req: Extract<Request, { op: 'watch' }>): Promise<Omit<Response, 'id'>> {
  const t0 = performance.now();
  let attempts = 0;
  let firstBlocked: bigint | undefined;
  while (performance.now() - t0 < req.deadlineMs) {
    const start = process.hrtime.bigint();
    const r = await probeOnce(req.target, req.attemptTimeoutMs, false);
    attempts++;
    const ms = Math.round(performance.now() - t0);
    if (req.want === 'ok' && r.outcome === 'ok') return { outcome: 'ok', flippedAtNs: start.toString(), attempts, ms };
    if (req.want === 'blocked') {
      if (r.outcome !== 'timeout') firstBlocked = undefined;
      else if (firstBlocked === undefined) firstBlocked = start;
      else return { outcome: 'ok', flippedAtNs: firstBlocked.toString(), attempts, ms };
    }
  }
  return { outcome: 'timeout', attempts, ms: Math.round(performance.now() - t0) };
}

function runChild(opts: ServeOptions): void {
  const conns = new Map<number, { sock: net.Socket; lines: string[]; waiter?: (l: string) => void }>();
  let nextConn = 1;
  const reply = (r: Response) => process.stdout.write(JSON.stringify(r) + '\n');
  void Promise.all(serve(opts)).then(() => process.stdout.write('ready\n'));
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    const req = JSON.parse(line) as Request;
    if (req.op === 'probe' || req.op === 'open') {
      void probeOnce(req.target, req.timeoutMs, req.op === 'open').then(({ sock, ...r }) => {
        if (!sock) return reply({ id: req.id, ...r });
        const conn = nextConn++;
        const c: { sock: net.Socket; lines: string[]; waiter?: (l: string) => void } = { sock, lines: [] };
        sock.on('error', () => undefined);
        sock.removeAllListeners('data');
        onLines(sock, (l) => (c.waiter ? c.waiter(l) : c.lines.push(l)));
        conns.set(conn, c);
        reply({ id: req.id, ...r, conn });
      });
    } else if (req.op === 'exchange') {
      const c = conns.get(req.conn);
      if (!c) return reply({ id: req.id, outcome: 'error', detail: `no connection ${req.conn}`, ms: 0 });
      const t0 = performance.now();
      const timer = setTimeout(() => {
        c.waiter = undefined;
        reply({ id: req.id, outcome: 'timeout', ms: Math.round(performance.now() - t0) });
      }, req.timeoutMs);
      c.waiter = (l) => {
        c.waiter = undefined;
        clearTimeout(timer);
        reply({ id: req.id, outcome: 'ok', reply: l, ms: Math.round(performance.now() - t0) });
      };
      c.lines.length = 0;
      c.sock.write(`${req.text}\n`);
    } else if (req.op === 'watch') {
      void watchFlip(req).then((r) => reply({ id: req.id, ...r }));
    } else {
      conns.get(req.conn)?.sock.resetAndDestroy();
      conns.delete(req.conn);
      reply({ id: req.id, outcome: 'ok', ms: 0 });
    }
  });
  process.stdin.on('end', () => process.exit(0));
}

if (process.argv[1] === PROBE_JS && process.argv[2] === '--serve') runChild(JSON.parse(process.argv[3]) as ServeOptions);
