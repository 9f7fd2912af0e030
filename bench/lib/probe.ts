// "Traffic flowing" as the endpoint benchmarks define it: the moment a UDP packet sent from inside a
// new pod first reaches a peer pod. A single python3 helper (udp_probe.py) holds a sending socket in
// each pod's netns, created before the pod is wired, and sends every 0.2 ms once told to go; it stamps
// arrivals with CLOCK_MONOTONIC, the clock of process.hrtime.bigint().

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { REPO } from '../../test/lib/agent.js';

/** The helper script, from the source tree (tsc does not copy .py files to dist/). */
export const UDP_PROBE_PY = path.join(REPO, 'bench', 'lib', 'udp_probe.py');

/** When probe packets were sent and the first one arrived. */
export interface Arrival {
  /** CLOCK_MONOTONIC ns at which the peer received the first packet of the probe. */
  readonly arrivalNs: bigint;
  /** When that packet was sent (it may have waited in an ARP queue). */
  readonly sentNs: bigint;
  /** Send attempts, and how many failed at once (no route yet: the pod was not wired). */
  readonly sends: number;
  readonly sendErrors: number;
}

/** A running udp_probe.py. Every method rejects if the helper reports an error or exits. */
export class UdpProber {
  private readonly replies: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private readonly arrivals = new Map<number, { resolve: (a: Arrival) => void; reject: (e: Error) => void }>();
  private failure?: Error;

  private constructor(private readonly proc: ChildProcessWithoutNullStreams) {
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    readline.createInterface({ input: proc.stdout }).on('line', (line) => this.onLine(line));
    proc.on('exit', (code) => this.fail(new Error(`udp_probe.py exited (${code}): ${stderr}`)));
  }

  /** Starts the helper. */
  static start(): UdpProber {
    return new UdpProber(spawn('python3', [UDP_PROBE_PY], { stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  private onLine(line: string): void {
    const [kind, ...f] = line.split(' ');
    if (kind === 'ok') this.replies.shift()?.resolve();
    else if (kind === 'arrived') {
      const id = Number(f[0]);
      this.arrivals.get(id)?.resolve({ arrivalNs: BigInt(f[1]), sentNs: BigInt(f[2]), sends: Number(f[3]), sendErrors: Number(f[4]) });
      this.arrivals.delete(id);
    } else if (kind === 'error') {
      const err = new Error(`udp_probe.py: ${f.join(' ')}`);
      const waiter = this.replies.shift();
      if (waiter) waiter.reject(err);
      else this.fail(err);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const r of this.replies.splice(0)) r.reject(err);
    for (const a of this.arrivals.values()) a.reject(err);
    this.arrivals.clear();
  }

  private command(line: string): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.replies.push({ resolve, reject });
      this.proc.stdin.write(line + '\n');
    });
  }

  /** Opens the receiving socket (0.0.0.0:port) in the peer's namespace (a path under /run/netns). */
  listen(netnsPath: string, port: number): Promise<void> {
    return this.command(`listen ${netnsPath} ${port}`);
  }

  /** Creates probe `id`'s sending socket in `netnsPath` (which need not have any interface yet). */
  arm(id: number, netnsPath: string, dstIp: string, port: number): Promise<void> {
    return this.command(`arm ${id} ${netnsPath} ${dstIp} ${port}`);
  }

  /**
   * Starts sending probe `id` (armed before); resolves when the peer got its first packet, rejects
   * after `timeoutMs` (the probe keeps its socket; the run is broken anyway).
   */
  go(id: number, timeoutMs = 30_000): Promise<Arrival> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.arrivals.delete(id);
        reject(new Error(`probe ${id}: no packet reached the peer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.arrivals.set(id, {
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.proc.stdin.write(`go ${id}\n`);
    });
  }

  /** Stops the helper. */
  async close(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.failure ??= new Error('udp_probe.py closed');
    this.proc.stdin.end('quit\n');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(t);
  }
}
