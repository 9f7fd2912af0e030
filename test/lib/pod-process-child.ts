// The program a PodProcess runs inside a pod's network namespace: `node pod-process-child.js '<ServeSpec>'`.
// It serves the spec's TCP and UDP ports (replies as described in pod-process-protocol.ts), writes
// READY_LINE once they all listen, then runs the client actions that arrive as JSON lines on stdin and
// answers each with a JSON line on stdout (in completion order; the ids pair them). Exits when stdin ends.

import dgram from 'node:dgram';
import net from 'node:net';
import readline from 'node:readline';
import { type ProbeOutcome, type ProbeResult, type ProbeTarget, READY_LINE, type Request, type Response, type ServeSpec, serverOf } from './pod-process-protocol.js';

/** Milliseconds between resends of a UDP probe (a first datagram may be lost while a neighbour is resolved). */
const UDP_RESEND_MS = 300;

const ignore = (): void => undefined;

// --- servers ------------------------------------------------------------------------------------------

/** Starts a server on every port of `spec`; resolves when each listens. A port in use crashes the program. */
function serve(spec: ServeSpec): Promise<void>[] {
  const listening: Promise<void>[] = [];
  for (const port of spec.tcp ?? []) {
    const srv = net.createServer((sock) => {
      sock.on('error', ignore);
      sock.write(`${spec.name}\n`);
      onLines(sock, (line) => sock.write(`${spec.name} ${line}\n`));
    });
    listening.push(new Promise((resolve) => srv.listen(port, '0.0.0.0', resolve)));
  }
  for (const port of spec.udp ?? []) {
    const sock = dgram.createSocket('udp4');
    sock.on('message', (msg, rinfo) => sock.send(`${spec.name} ${msg.toString()}`, rinfo.port, rinfo.address));
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

// --- client actions -----------------------------------------------------------------------------------

function outcomeOf(err: NodeJS.ErrnoException): ProbeOutcome {
  return err.code === 'ECONNREFUSED' ? 'refused' : 'error';
}

/** The ok result for a reply line or datagram. */
function replied(reply: string, t0: number, from?: string): ProbeResult {
  return { outcome: 'ok', reply, server: serverOf(reply), ...(from ? { from } : {}), ms: Math.round(performance.now() - t0) };
}

/**
 * Waits for the next line on `sock` (a TCP client socket with an 'error' listener of its own) and
 * resolves with it, or with why none came. Lines that arrive while nobody waits are dropped: the
 * protocol is one reply per request, so such a line can only be a late reply to an earlier one.
 */
function nextLine(sock: net.Socket, timeoutMs: number): Promise<ProbeResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) finish(replied(buf.slice(0, nl), t0));
    };
    const onError = (err: NodeJS.ErrnoException): void => finish({ outcome: outcomeOf(err), detail: err.message, ms: 0 });
    const onClose = (): void => finish({ outcome: 'error', detail: 'connection closed without a reply', ms: 0 });
    const timer = setTimeout(() => finish({ outcome: 'timeout', ms: 0 }), timeoutMs);
    function finish(r: ProbeResult): void {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('error', onError);
      sock.off('close', onClose);
      resolve(r.outcome === 'ok' ? r : { ...r, ms: Math.round(performance.now() - t0) });
    }
    sock.on('data', onData);
    sock.on('error', onError);
    sock.on('close', onClose);
  });
}

/** A new TCP connection and its greeting; with `keep` an ok connection stays open and is returned. */
async function probeTcp(target: ProbeTarget, timeoutMs: number, keep: boolean): Promise<ProbeResult & { sock?: net.Socket }> {
  const sock = net.connect({ host: target.host, port: target.port });
  sock.on('error', ignore);
  const r = await nextLine(sock, timeoutMs);
  if (keep && r.outcome === 'ok') return { ...r, sock };
  sock.destroy();
  return r;
}

/**
 * A datagram "probe" on a new connected socket, resent every UDP_RESEND_MS, until the first reply.
 * A connected socket reports an ICMP port unreachable as ECONNREFUSED; resending on the same socket
 * keeps the same 5-tuple, so a resend cannot pass where the first datagram was denied.
 */
function probeUdp(target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    let resend: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(resend);
      sock.close();
      resolve(r.outcome === 'ok' ? r : { ...r, ms: Math.round(performance.now() - t0) });
    };
    const timer = setTimeout(() => finish({ outcome: 'timeout', ms: 0 }), timeoutMs);
    // Errors of a send without a callback arrive as 'error' events.
    sock.on('error', (err) => finish({ outcome: outcomeOf(err), detail: err.message, ms: 0 }));
    sock.on('message', (msg, rinfo) => finish(replied(msg.toString(), t0, `${rinfo.address}:${rinfo.port}`)));
    sock.connect(target.port, target.host, () => {
      const send = (): void => {
        if (settled) return;
        try {
          sock.send('probe');
        } catch (err) {
          // A failed connect still calls back (e.g. ENETUNREACH), with the socket unconnected.
          finish({ outcome: 'error', detail: (err as Error).message, ms: 0 });
        }
      };
      send();
      resend = setInterval(send, UDP_RESEND_MS);
    });
  });
}

/** One probe of `target` on a new socket. */
function probeOnce(target: ProbeTarget, timeoutMs: number): Promise<ProbeResult> {
  return target.proto === 'tcp' ? probeTcp(target, timeoutMs, false) : probeUdp(target, timeoutMs);
}

/** The child side of PodProcess.watch(): see its doc comment. */
async function watch(req: Extract<Request, { op: 'watch' }>): Promise<Omit<Response, 'id'>> {
  const t0 = performance.now();
  const ms = (): number => Math.round(performance.now() - t0);
  let attempts = 0;
  let firstBlocked: bigint | undefined;
  while (performance.now() - t0 < req.deadlineMs) {
    const start = process.hrtime.bigint();
    const r = await probeOnce(req.target, req.attemptTimeoutMs);
    attempts++;
    if (req.want === 'ok' && r.outcome === 'ok') return { ...r, flippedAtNs: start.toString(), attempts, ms: ms() };
    if (req.want === 'blocked') {
      if (r.outcome !== 'timeout') firstBlocked = undefined;
      else if (firstBlocked === undefined) firstBlocked = start;
      else return { outcome: 'ok', flippedAtNs: firstBlocked.toString(), attempts, ms: ms() };
    }
  }
  return { outcome: 'timeout', detail: `no ${req.want} verdict within ${req.deadlineMs} ms`, attempts, ms: ms() };
}

// --- main -----------------------------------------------------------------------------------------

/** Runs one request; never rejects. */
async function handle(req: Request, conns: Map<number, net.Socket>, newConnId: () => number): Promise<Omit<Response, 'id'>> {
  switch (req.op) {
    case 'probe':
      return probeOnce(req.target, req.timeoutMs);
    case 'open': {
      if (req.target.proto !== 'tcp') return { outcome: 'error', detail: 'open: only TCP connections can be kept', ms: 0 };
      const { sock, ...r } = await probeTcp(req.target, req.timeoutMs, true);
      if (!sock) return r;
      const conn = newConnId();
      conns.set(conn, sock);
      return { ...r, conn };
    }
    case 'exchange': {
      const sock = conns.get(req.conn);
      if (!sock) return { outcome: 'error', detail: `no connection ${req.conn}`, ms: 0 };
      const reply = nextLine(sock, req.timeoutMs);
      sock.write(`${req.text}\n`);
      return reply;
    }
    case 'close':
      // RST: nothing waits for the peer, which may be unreachable by now.
      conns.get(req.conn)?.resetAndDestroy();
      conns.delete(req.conn);
      return { outcome: 'ok', ms: 0 };
    case 'watch':
      return watch(req);
  }
}

function main(spec: ServeSpec): void {
  const conns = new Map<number, net.Socket>();
  let lastConn = 0;
  const write = (r: Response): boolean => process.stdout.write(JSON.stringify(r) + '\n');
  void Promise.all(serve(spec)).then(() => process.stdout.write(READY_LINE + '\n'));
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    const req = JSON.parse(line) as Request;
    void handle(req, conns, () => ++lastConn).then((r) => write({ ...r, id: req.id }));
  });
  process.stdin.on('end', () => process.exit(0));
}

main(JSON.parse(process.argv[2]) as ServeSpec);
