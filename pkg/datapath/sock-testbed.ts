// Test-only: socket LB on the real kernel with real sockets. One testbed = bpf_lxc.o and bpf_sock.o loaded into
// a fresh pin root (/sys/fs/bpf/cilia-test-sk-<id>), a child cgroup (/sys/fs/cgroup/unified/cilia-test-sk-<id>),
// a server namespace sk-<id>-srv whose lo holds the backends 10.244.253.11-14 (TCP :8080 and UDP :5353 each),
// and two client namespaces sk-<id>-c1 / -c2 joined to it by veths. Clients run as Python processes, in the
// cgroup or not. Nothing routes the service range: only a socket LB rewrite reaches a backend through a VIP.
// Not exported from index.ts.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createCgroup, findCgroup2Mount, removeCgroup, removePinDir, RingBufferReader } from '../bpf/index.js';
import { decodeEvent, type DatapathEvent } from './events.js';
import { loadLxcDatapath, type DatapathConfig, type LoadedLxcDatapath } from './loader.js';
import { BackendState, createMaglevTable, type DatapathMaps } from './maps.js';
import { detachSockLb } from './sock-attach.js';
import { CLIENT_PY, SERVER_PY } from './sock-testbed-py.js';
import { loadSockDatapath, type LoadedSockDatapath } from './sock.js';

const execFileAsync = promisify(execFile);

export const TCP = 6;
export const UDP = 17;
/** The service address of the tests (10.96.253.0/24). */
export const VIP = '10.96.253.10';
/** Backend addresses by backend id, on the server namespace's lo. */
export const BACKEND_IPS: Readonly<Record<number, string>> = {
  1: '10.244.253.11', 2: '10.244.253.12', 3: '10.244.253.13', 4: '10.244.253.14',
};
/** Every backend serves TCP on this port and UDP on UDP_PORT. */
export const TCP_PORT = 8080;
export const UDP_PORT = 5353;

/** The client namespaces. */
export type ClientNs = 'c1' | 'c2';

/** What a client process does (CLIENT_PY). */
export interface ClientRequest {
  /** tcp: connect, getpeername, read the server's answer. udp: sendto per datagram. udp-connected: connect, send. */
  readonly op: 'tcp' | 'udp' | 'udp-connected';
  readonly host: string;
  readonly port: number;
  /** 6: an AF_INET6 (dual-stack) socket; `host` is then e.g. ::ffff:10.96.253.10. Default 4. */
  readonly family?: 4 | 6;
  /** Sockets, one after the other. Default 1. */
  readonly count?: number;
  /** UDP: datagrams per socket. Default 1. */
  readonly datagrams?: number;
}

/** One socket of a client run. Addresses read "ip:port". */
export interface ClientSocketResult {
  readonly cookie?: string;
  /** getpeername(). */
  readonly peer?: string;
  /** TCP: what the server wrote: its own "ip:port". */
  readonly server?: string;
  /** UDP: per datagram, recvfrom()'s source and the answering server. */
  readonly replies?: readonly { from: string; server: string }[];
  /** errno name of the failure, or TIMEOUT. */
  readonly error?: string;
}

/** The output of one client process. */
export interface ClientOutput {
  readonly netnsCookie: bigint;
  readonly results: readonly ClientSocketResult[];
}

/** A service of the tests: VIP:port with backends `backends` (ids) in its slots. */
export interface ServiceSpec {
  readonly port: number;
  readonly proto: number;
  readonly revNat: number;
  readonly backends: readonly number[];
  readonly flags?: number;
  /** Session affinity timeout (s), kept in the master's backend_id. */
  readonly affinityTimeout?: number;
}

function run(cmd: string, args: readonly string[]): void {
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** One loaded socket LB with its cgroup, namespaces, servers and event reader. */
export class SockTestbed {
  /** Every event read so far. */
  readonly events: DatapathEvent[] = [];
  readonly id = `${process.pid.toString(36)}${crypto.randomBytes(2).toString('hex')}`;
  readonly pinRoot = `/sys/fs/bpf/cilia-test-sk-${this.id}`;
  readonly cgroup = path.join(findCgroup2Mount() ?? '/sys/fs/cgroup/unified', `cilia-test-sk-${this.id}`);
  readonly ns = { srv: `sk-${this.id}-srv`, c1: `sk-${this.id}-c1`, c2: `sk-${this.id}-c2` };
  lxc!: LoadedLxcDatapath;
  sock!: LoadedSockDatapath;
  private reader?: RingBufferReader;
  private server?: ChildProcess;
  private readonly extraSocks: LoadedSockDatapath[] = [];

  private constructor(readonly config: Partial<DatapathConfig>) {}

  /** Builds everything; on failure removes what it made. Close it in `after`. */
  static async open(config: Partial<DatapathConfig> = {}): Promise<SockTestbed> {
    const tb = new SockTestbed(config);
    try {
      await tb.setUp();
      return tb;
    } catch (e) {
      await tb.close();
      throw e;
    }
  }

  get maps(): DatapathMaps {
    return this.lxc.maps;
  }

  private async setUp(): Promise<void> {
    fs.mkdirSync(this.pinRoot);
    this.lxc = loadLxcDatapath({ pinRoot: this.pinRoot, config: this.config });
    this.sock = loadSockDatapath({ pinRoot: this.pinRoot, config: this.config });
    this.reader = RingBufferReader.open(this.lxc.eventsPinPath, (records) => {
      for (const r of records) this.events.push(decodeEvent(r));
    }, { pollTimeoutMs: 10 });
    await this.reader.ready;
    createCgroup(this.cgroup);
    this.buildNetwork();
    await this.startServers();
  }

  private buildNetwork(): void {
    for (const ns of Object.values(this.ns)) {
      run('ip', ['netns', 'add', ns]);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    for (const ip of Object.values(BACKEND_IPS)) run('ip', ['-n', this.ns.srv, 'addr', 'add', `${ip}/32`, 'dev', 'lo']);
    // c1: 10.244.253.65/30 <-> srv .66; c2: .69/30 <-> srv .70. Clients route the backends' /26 via the server.
    (['c1', 'c2'] as const).forEach((c, i) => {
      const client = `10.244.253.${65 + 4 * i}`;
      const server = `10.244.253.${66 + 4 * i}`;
      const dev = `sk${this.id}${c}`;
      run('ip', ['-n', this.ns.srv, 'link', 'add', `${dev}s`, 'type', 'veth', 'peer', 'name', dev, 'netns', this.ns[c]]);
      run('ip', ['-n', this.ns.srv, 'addr', 'add', `${server}/30`, 'dev', `${dev}s`]);
      run('ip', ['-n', this.ns[c], 'addr', 'add', `${client}/30`, 'dev', dev]);
      run('ip', ['-n', this.ns.srv, 'link', 'set', `${dev}s`, 'up']);
      run('ip', ['-n', this.ns[c], 'link', 'set', dev, 'up']);
      run('ip', ['-n', this.ns[c], 'route', 'add', '10.244.253.0/26', 'via', server]);
    });
  }

  private async startServers(): Promise<void> {
    const specs = Object.values(BACKEND_IPS).flatMap((addr) => [
      { addr, port: TCP_PORT, proto: 'tcp' }, { addr, port: UDP_PORT, proto: 'udp' },
    ]);
    const server = spawn('ip', ['netns', 'exec', this.ns.srv, 'python3', '-c', SERVER_PY, JSON.stringify(specs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`servers not ready within 10 s: ${err}`)), 10_000);
      server.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      server.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      server.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`servers exited with ${code}: ${err}`));
      });
    });
  }

  /**
   * Runs a client in namespace `ns`. In the cgroup (default) it is moved there *before* `ip netns exec`,
   * because inside that command /sys/fs/cgroup is not visible. Throws when the client itself fails.
   */
  async client(ns: ClientNs, req: ClientRequest, opts: { inCgroup?: boolean } = {}): Promise<ClientOutput> {
    const inCgroup = opts.inCgroup ?? true;
    const args = inCgroup
      ? ['-c', 'echo $$ > "$1/cgroup.procs" && exec ip netns exec "$2" python3 -c "$3" "$4"', 'sh', this.cgroup, this.ns[ns], CLIENT_PY, JSON.stringify(req)]
      : ['-c', 'exec ip netns exec "$1" python3 -c "$2" "$3"', 'sh', this.ns[ns], CLIENT_PY, JSON.stringify(req)];
    const { stdout } = await execFileAsync('sh', args, { encoding: 'utf8', timeout: 60_000 });
    const out = JSON.parse(stdout) as { netnsCookie: string; results: ClientSocketResult[] };
    return { netnsCookie: BigInt(out.netnsCookie), results: out.results };
  }

  /**
   * Writes backend `id`: address BACKEND_IPS[id % 10] (so TCP backend 1 and UDP backend 11 are the same server),
   * the port of `proto`, state `state` (default active).
   */
  backend(id: number, proto: number, state: number = BackendState.Active): void {
    this.maps.lb4Backends.put(id, { address: BACKEND_IPS[id % 10], port: proto === TCP ? TCP_PORT : UDP_PORT, proto, flags: state });
  }

  /** Writes the master entry, the slots and the reverse-NAT entry of VIP:port (backends must exist separately). */
  service(s: ServiceSpec): void {
    const key = { address: VIP, dport: s.port, proto: s.proto, scope: 0 };
    this.maps.lb4Services.put({ ...key, backend_slot: 0 }, {
      backend_id: s.affinityTimeout ?? 0, count: s.backends.length, rev_nat_index: s.revNat, flags: s.flags ?? 0, flags2: 0,
    });
    s.backends.forEach((id, i) => this.maps.lb4Services.put({ ...key, backend_slot: i + 1 }, {
      backend_id: id, count: 0, rev_nat_index: s.revNat, flags: 0, flags2: 0,
    }));
    this.maps.lb4ReverseNat.put(s.revNat, { address: VIP, port: s.port });
  }

  /** Installs a Maglev table for `revNat`: entry i = table[i] (its length must be the configured M). */
  maglev(revNat: number, table: readonly number[]): void {
    const inner = createMaglevTable(table);
    try {
      this.maps.lb4Maglev.put(revNat, inner.fd);
    } finally {
      inner.close();
    }
  }

  /** Loads another instance of bpf_sock.o on the same maps (closed with the testbed). */
  loadAnotherSock(): LoadedSockDatapath {
    const s = loadSockDatapath({ pinRoot: this.pinRoot, config: this.config });
    this.extraSocks.push(s);
    return s;
  }

  /** Forwarded (0) or dropped (reason) counts of socket LB (dir 3), summed over CPUs. */
  serviceMetric(reason: number): bigint {
    return (this.maps.metrics.getPerCpu({ reason, dir: 3 }) ?? []).reduce((a, v) => a + v.count, 0n);
  }

  /** CLOCK_MONOTONIC ns: events sent after this call have `ktimeNs >= mark()`. */
  mark(): bigint {
    return process.hrtime.bigint();
  }

  /** Seconds of CLOCK_MONOTONIC, the clock of affinity timestamps. */
  nowSeconds(): number {
    return Number(process.hrtime.bigint() / 1_000_000_000n);
  }

  /** Resolves with the first event since `since` matching `pred`; rejects after `timeoutMs`. */
  async waitForEvent(pred: (e: DatapathEvent) => boolean, since: bigint, timeoutMs = 5000): Promise<DatapathEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find((e) => e.ktimeNs >= since && pred(e));
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no matching event within ${timeoutMs} ms; have ${this.events.length} events`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Empties the LB maps (services, backends, rev NAT, affinity, Maglev, socket reverse NAT) and the metrics. */
  reset(): void {
    for (const m of [this.maps.lb4Services, this.maps.lb4Backends, this.maps.lb4ReverseNat, this.maps.lb4Affinity,
      this.maps.lb4Maglev, this.maps.lb4ReverseSk, this.maps.metrics]) {
      (m as { clear(): number }).clear();
    }
  }

  /** Stops the servers, removes the cgroup (detaching), the namespaces and the pins. Safe on a half-built testbed. */
  async close(): Promise<void> {
    const errors: unknown[] = [];
    const step = async (fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    };
    await step(() => this.stopServers());
    await step(() => detachSockLb(this.cgroup));
    await step(() => removeCgroup(this.cgroup));
    for (const ns of Object.values(this.ns)) await step(() => { try { run('ip', ['netns', 'del', ns]); } catch { /* not made */ } });
    await step(() => this.reader?.stop());
    for (const s of this.extraSocks) s.close();
    this.sock?.close();
    this.lxc?.close();
    await step(() => removePinDir(this.pinRoot));
    if (errors.length) throw new AggregateError(errors, 'sock testbed cleanup failed');
  }

  private async stopServers(): Promise<void> {
    const server = this.server;
    if (!server || server.exitCode !== null || server.signalCode !== null) return;
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
}
