// Test-only: a loaded bpf_lxc.o in a fresh bpffs directory (/sys/fs/bpf/cilia-test-dp-<random>), driven
// through BPF_PROG_TEST_RUN, with helpers for endpoints, policy, ipcache, conntrack, metrics and the event
// ring buffer. Not exported from index.ts.
//
// The kernel runs a test packet with skb->dev = lo (ifindex 1), so the programs' "current" endpoint is the
// one whose cilia_lxc ifindex key is 1: `as(ep)` points that key at `ep` before a run.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { RingBufferReader, removePinDir, testRun, type TestRunResult } from '../bpf/index.js';
import { decodeEvent, type DatapathEvent } from './events.js';
import { loadLxcDatapath, type DatapathConfig, type LoadedLxcDatapath } from './loader.js';
import {
  CT_EGRESS, EP_F_EGRESS_ENFORCED, EP_F_INGRESS_ENFORCED, POLICY_PREFIX_EXACT, endpointKeyByIfindex, endpointKeyByIp,
  type CtEntry, type EndpointInfo, type Ipv4CtTuple,
} from './maps.js';
import { parsePacket, type ParsedPacket } from './packet.js';

/** skb->dev of a test run without a context: lo. */
export const TEST_RUN_IFINDEX = 1;
/** tc verdicts. */
export const TC_ACT_OK = 0;
export const TC_ACT_SHOT = 2;
export const TC_ACT_REDIRECT = 7;

/** A local endpoint of a test. */
export interface TestEndpoint {
  readonly id: number;
  readonly ip: string;
  readonly identity: number;
  /** The host-side veth's ifindex as cilia_lxc records it (a redirect target; need not exist). */
  readonly ifindex: number;
  readonly mac: string;
  readonly nodeMac: string;
  readonly ingressEnforced?: boolean;
  readonly egressEnforced?: boolean;
  readonly policyRev?: number;
}

/** The result of one run, with the output packet parsed when it is still a valid frame. */
export interface RunResult extends TestRunResult {
  readonly parsed?: ParsedPacket;
}

/** Endpoint `n` of the test range 10.244.252.0/24. */
export function testEndpoint(n: number, extra: Partial<TestEndpoint> = {}): TestEndpoint {
  const hex = n.toString(16).padStart(2, '0');
  return {
    id: 100 + n, ip: `10.244.252.${n}`, identity: 1000 + n, ifindex: 500 + n, mac: `0a:00:00:00:01:${hex}`,
    nodeMac: `0a:00:00:00:02:${hex}`, ...extra,
  };
}

/** One loaded datapath with its own pin directory and event reader. */
export class LxcTestbed {
  /** Every event read so far, in ring order. */
  readonly events: DatapathEvent[] = [];
  private readonly reader: RingBufferReader;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly pinRoot: string, readonly dp: LoadedLxcDatapath) {
    this.reader = RingBufferReader.open(dp.eventsPinPath, (records) => {
      for (const r of records) this.events.push(decodeEvent(r));
      for (const w of this.waiters) w();
    }, { pollTimeoutMs: 10 });
  }

  /** Loads bpf_lxc.o (or `objectPath`) into a fresh pin directory with `config`. Close it in `after`. */
  static async open(config: Partial<DatapathConfig> = {}, objectPath?: string): Promise<LxcTestbed> {
    const pinRoot = `/sys/fs/bpf/cilia-test-dp-${process.pid.toString(36)}${crypto.randomBytes(3).toString('hex')}`;
    fs.mkdirSync(pinRoot);
    let dp: LoadedLxcDatapath | undefined;
    try {
      dp = loadLxcDatapath({ pinRoot, config, objectPath });
      const tb = new LxcTestbed(pinRoot, dp);
      await tb.reader.ready;
      return tb;
    } catch (e) {
      dp?.close();
      removePinDir(pinRoot);
      throw e;
    }
  }

  get maps(): LoadedLxcDatapath['maps'] {
    return this.dp.maps;
  }

  /** The cilia_lxc value of `ep`. */
  info(ep: TestEndpoint): EndpointInfo {
    return {
      ifindex: ep.ifindex, lxc_id: ep.id, sec_id: ep.identity, ipv4: ep.ip, mac: ep.mac, node_mac: ep.nodeMac,
      flags: (ep.ingressEnforced ? EP_F_INGRESS_ENFORCED : 0) | (ep.egressEnforced ? EP_F_EGRESS_ENFORCED : 0),
      policy_rev: ep.policyRev ?? 1,
    };
  }

  /** Registers `ep` as a local endpoint: its IP key, its own ifindex key and its ipcache /32. */
  addEndpoint(ep: TestEndpoint): void {
    this.maps.lxc.put(endpointKeyByIp(ep.ip), this.info(ep));
    this.maps.lxc.put(endpointKeyByIfindex(ep.ifindex), this.info(ep));
    this.maps.ipcache.put({ prefixlen: 32, addr: ep.ip }, { sec_identity: ep.identity, cidr_identity: 0, tunnel_endpoint: '0.0.0.0', flags: 0 });
  }

  /** Makes `ep` the endpoint whose veth the next runs happen on (the ifindex key of lo). */
  as(ep: TestEndpoint): void {
    this.maps.lxc.put(endpointKeyByIfindex(TEST_RUN_IFINDEX), this.info(ep));
  }

  /** An ipcache entry: `cidr` ("a.b.c.d/n") has identity `id` (and CIDR identity `cidrId`). */
  ipcache(cidr: string, id: number, cidrId = 0): void {
    const [addr, len] = cidr.split('/');
    this.maps.ipcache.put({ prefixlen: Number(len ?? 32), addr }, { sec_identity: id, cidr_identity: cidrId, tunnel_endpoint: '0.0.0.0', flags: 0 });
  }

  /** A policy entry of endpoint `epId`; `prefixlen` defaults to exact. */
  policy(e: { epId: number; dir: 'ingress' | 'egress'; identity: number; proto?: number; port?: number; prefixlen?: number; deny?: boolean; ruleId?: number }): void {
    this.maps.policy.put(
      { prefixlen: e.prefixlen ?? POLICY_PREFIX_EXACT, sec_label: e.identity, ep_id: e.epId, egress: e.dir === 'egress' ? 1 : 0, protocol: e.proto ?? 0, dport: e.port ?? 0 },
      { deny: e.deny ? 1 : 0, flags: 0, rule_id: e.ruleId ?? 0, packets: 0n, bytes: 0n },
    );
  }

  /** Runs cil_from_container on `pkt` (as the current endpoint). */
  fromContainer(pkt: Buffer, repeat = 1): RunResult {
    return this.run(this.dp.fromContainer.fd, pkt, repeat);
  }

  /** Runs cil_to_container on `pkt` (delivered to the current endpoint). */
  toContainer(pkt: Buffer, repeat = 1): RunResult {
    return this.run(this.dp.toContainer.fd, pkt, repeat);
  }

  /** The conntrack entry at `tuple` (owner defaults to CT_EGRESS), or undefined. */
  ct(t: Omit<Ipv4CtTuple, 'flags'> & { flags?: number }): CtEntry | undefined {
    return this.maps.ct4.get({ ...t, flags: t.flags ?? CT_EGRESS });
  }

  /** Packets and bytes counted for (reason, dir), summed over CPUs. */
  metric(reason: number, dir: number): { count: bigint; bytes: bigint } {
    const per = this.maps.metrics.getPerCpu({ reason, dir }) ?? [];
    return per.reduce((a, v) => ({ count: a.count + v.count, bytes: a.bytes + v.bytes }), { count: 0n, bytes: 0n });
  }

  /**
   * The current CLOCK_MONOTONIC time in ns, the clock of event timestamps: events sent after this call have
   * `ktimeNs >= mark()`, however late the reader delivers them.
   */
  mark(): bigint {
    return process.hrtime.bigint();
  }

  /** Events sent since `since` (a `mark()`). */
  eventsSince(since: bigint): DatapathEvent[] {
    return this.events.filter((e) => e.ktimeNs >= since);
  }

  /** Resolves with the first event sent since `since` matching `pred`; rejects after `timeoutMs`. */
  waitForEvent(pred: (e: DatapathEvent) => boolean, since = 0n, timeoutMs = 5000): Promise<DatapathEvent> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.eventsSince(since).find(pred);
        if (!hit) return false;
        cleanup();
        resolve(hit);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no matching event within ${timeoutMs} ms; have ${this.events.length} events`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter = (): void => { check(); };
      this.waiters.add(waiter);
      check();
    });
  }

  /** Empties every map that carries per-test state (not the ring buffer). */
  reset(): void {
    for (const m of [this.maps.lxc, this.maps.ipcache, this.maps.policy, this.maps.ct4, this.maps.metrics, this.maps.lb4Services,
      this.maps.lb4Backends, this.maps.lb4ReverseNat, this.maps.lb4Affinity, this.maps.lb4SourceRange, this.maps.lb4Maglev]) {
      (m as { clear(): number }).clear();
    }
  }

  /** Stops the reader, closes the object and removes the pin directory. */
  async close(): Promise<void> {
    try {
      await this.reader.stop();
    } finally {
      this.dp.close();
      removePinDir(this.pinRoot);
    }
  }

  private run(fd: number, pkt: Buffer, repeat: number): RunResult {
    const r = testRun(fd, { data: pkt, repeat });
    let parsed: ParsedPacket | undefined;
    try {
      parsed = parsePacket(r.data);
    } catch {
      parsed = undefined;
    }
    return { ...r, parsed };
  }
}
