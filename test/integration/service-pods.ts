// Test helper for the service tests: a process inside a pod's network namespace that serves TCP and
// UDP (every reply names the pod, so a client can tell which backend answered) and acts as a client on
// request (new connections, a kept connection, UDP exchanges). The same file is the library the tests
// use and the program that runs in the netns (`node service-pods.js '{"name":…}'`); the program
// answers JSON lines on stdin with JSON lines on stdout.
//
// TCP server: on accept it writes "<name>\n", then answers every line with "<name> <line>".
// UDP server: answers every datagram with "<name> <datagram>".

import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

/** What the pod process serves. */
export interface PodSpec {
  readonly name: string;
  readonly tcp?: readonly number[];
  readonly udp?: readonly number[];
}

/** Outcome of one client action: the reply (first line / datagram) or why there is none. */
export interface Reply {
  readonly ok: boolean;
  readonly reply?: string;
  /** UDP: the address and port the reply came from. */
  readonly from?: string;
  readonly error?: string;
}

type Request =
  | { id: number; op: 'hello'; host: string; port: number; timeoutMs: number }
  | { id: number; op: 'open'; host: string; port: number; timeoutMs: number }
  | { id: number; op: 'send'; conn: number; text: string; timeoutMs: number }
  | { id: number; op: 'udp'; host: string; port: number; text: string; timeoutMs: number };
type Response = Reply & { id: number; conn?: number };
type RequestBody = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

const SELF = fileURLToPath(import.meta.url);

/** A running pod process in a network namespace. */
export class Pod {
  private nextId = 1;
  private readonly pending = new Map<number, (r: Response) => void>();
  private stderr = '';

  private constructor(
    readonly netns: string,
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {}

  /**
   * Starts the process in `netns` (a name under /run/netns) and waits until its ports listen (10 s at
   * most). With `cgroup`, the process joins that cgroup v2 directory first (before `ip netns exec`,
   * inside which /sys/fs/cgroup is not visible), e.g. to be under socket LB.
   */
  static async start(netns: string, spec: PodSpec, opts: { cgroup?: string } = {}): Promise<Pod> {
    const args = [netns, process.execPath, SELF, JSON.stringify(spec)];
    const proc = opts.cgroup
      ? spawn('sh', ['-c', 'echo $$ > "$1/cgroup.procs" && shift && exec ip netns exec "$@"', 'sh', opts.cgroup, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn('ip', ['netns', 'exec', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const pod = new Pod(netns, spec.name, proc);
    proc.stderr.on('data', (d: Buffer) => (pod.stderr += d.toString()));
    let ready!: () => void;
    const readyP = new Promise<void>((resolve) => (ready = resolve));
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as Response | { ready: true };
      if ('ready' in msg) return ready();
      const r = pod.pending.get(msg.id);
      pod.pending.delete(msg.id);
      r?.(msg);
    });
    const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`pod ${spec.name} exited (${code}): ${pod.stderr}`))));
    const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`pod ${spec.name} not ready after 10 s: ${pod.stderr}`)), 10_000).unref());
    try {
      await Promise.race([readyP, exited, timer]);
    } catch (err) {
      pod.stop();
      throw err;
    }
    exited.catch(() => undefined);
    return pod;
  }

  private ask(body: RequestBody): Promise<Omit<Response, 'id'>> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, ({ id: _id, ...rest }) => resolve(rest));
      this.proc.stdin!.write(JSON.stringify({ ...body, id }) + '\n');
    });
  }

  /** A new TCP connection to host:port: the greeting line (the serving pod's name). */
  hello(host: string, port: number, timeoutMs = 2000): Promise<Reply> {
    return this.ask({ op: 'hello', host, port, timeoutMs });
  }

  /** `n` new TCP connections, one after the other; the greeting of each (or its error). */
  async hellos(host: string, port: number, n: number, timeoutMs = 2000): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await this.hello(host, port, timeoutMs);
      out.push(r.ok ? r.reply! : `error: ${r.error}`);
    }
    return out;
  }

  /** Opens a TCP connection and keeps it; resolves with its greeting and a handle for `send`. */
  async open(host: string, port: number, timeoutMs = 2000): Promise<Reply & { conn?: number }> {
    return this.ask({ op: 'open', host, port, timeoutMs });
  }

  /** Sends a line on a kept connection; the reply line. */
  send(conn: number, text: string, timeoutMs = 2000): Promise<Reply> {
    return this.ask({ op: 'send', conn, text, timeoutMs });
  }

  /** Sends a datagram; the reply and where it came from. */
  udp(host: string, port: number, text: string, timeoutMs = 2000): Promise<Reply> {
    return this.ask({ op: 'udp', host, port, text, timeoutMs });
  }

  /** Kills the process. */
  stop(): void {
    this.proc.kill('SIGKILL');
  }
}

// ---- the program in the netns ------------------------------------------------------------------

function serve(spec: PodSpec): Promise<void>[] {
  const listening: Promise<void>[] = [];
  for (const port of spec.tcp ?? []) {
    const server = net.createServer((sock) => {
      sock.write(`${spec.name}\n`);
      readline.createInterface({ input: sock }).on('line', (line) => sock.write(`${spec.name} ${line}\n`));
      sock.on('error', () => undefined);
    });
    listening.push(new Promise((resolve) => server.listen(port, '0.0.0.0', resolve)));
  }
  for (const port of spec.udp ?? []) {
    const sock = dgram.createSocket('udp4');
    sock.on('message', (msg, rinfo) => sock.send(`${spec.name} ${msg.toString()}`, rinfo.port, rinfo.address));
    listening.push(new Promise((resolve) => sock.bind(port, '0.0.0.0', resolve)));
  }
  return listening;
}

function firstLine(sock: net.Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => done(new Error('timeout')), timeoutMs);
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(undefined, buf.slice(0, nl));
    };
    const onError = (e: Error) => done(e);
    const onClose = () => done(new Error('closed'));
    function done(err?: Error, line?: string) {
      clearTimeout(t);
      sock.off('data', onData);
      sock.off('error', onError);
      sock.off('close', onClose);
      if (err) reject(err);
      else resolve(line!);
    }
    sock.on('data', onData);
    sock.on('error', onError);
    sock.on('close', onClose);
  });
}

async function program(spec: PodSpec): Promise<void> {
  await Promise.all(serve(spec));
  const conns = new Map<number, net.Socket>();
  let nextConn = 1;
  const reply = (r: Response) => process.stdout.write(JSON.stringify(r) + '\n');
  const fail = (id: number, err: unknown) => reply({ id, ok: false, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message });
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    const req = JSON.parse(line) as Request;
    void (async () => {
      try {
        if (req.op === 'hello' || req.op === 'open') {
          const sock = net.connect({ host: req.host, port: req.port });
          sock.on('error', () => undefined);
          const greeting = await firstLine(sock, req.timeoutMs).finally(() => req.op === 'hello' && sock.destroy());
          if (req.op === 'hello') return reply({ id: req.id, ok: true, reply: greeting });
          const conn = nextConn++;
          conns.set(conn, sock);
          return reply({ id: req.id, ok: true, reply: greeting, conn });
        }
        if (req.op === 'send') {
          const sock = conns.get(req.conn);
          if (!sock) throw new Error(`no connection ${req.conn}`);
          const p = firstLine(sock, req.timeoutMs);
          sock.write(req.text + '\n');
          return reply({ id: req.id, ok: true, reply: await p });
        }
        const sock = dgram.createSocket('udp4');
        try {
          const got = new Promise<Reply>((resolve) => {
            const t = setTimeout(() => resolve({ ok: false, error: 'timeout' }), req.timeoutMs);
            sock.once('message', (msg, rinfo) => {
              clearTimeout(t);
              resolve({ ok: true, reply: msg.toString(), from: `${rinfo.address}:${rinfo.port}` });
            });
          });
          sock.send(req.text, req.port, req.host);
          reply({ id: req.id, ...(await got) });
        } finally {
          sock.close();
        }
      } catch (err) {
        fail(req.id, err);
      }
    })();
  });
}

if (process.argv[1] === SELF && process.argv[2]) void program(JSON.parse(process.argv[2]) as PodSpec);
