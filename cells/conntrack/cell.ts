// conntrack: garbage-collects expired entries of the cilia_ct4 LRU map on a timer (the datapath only
// refreshes lifetimes; nothing else removes a dead flow before the LRU evicts it), and serves
// `cilia bpf ct list global` and `cilia bpf ct flush`.

import { badRequest } from '../../pkg/api/index.js';
import { CT_EGRESS, CT_INGRESS, CT_SERVICE, type CtEntry, type Ipv4CtTuple } from '../../pkg/datapath/index.js';
import { type Health, IHealth, IJobGroup, ILogger, type JobGroup, type Logger, config, invoke, module, provideInto, timer, token } from '../../pkg/hive/index.js';
import { IApiRoutes, route } from '../api-server/types.js';
import { IDatapathMaps, type MapsAccess } from '../maps/types.js';

interface ConntrackConfig {
  readonly conntrackGcIntervalMs: number;
}
const IConntrackConfig = token<Readonly<ConntrackConfig>>('ConntrackConfig');

/** Seconds of CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns() (libuv's hrtime uses it too). */
export function monotonicSeconds(): number {
  return Number(process.hrtime.bigint() / 1_000_000_000n);
}

const PROTO: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 132: 'SCTP' };
const DIR: Record<number, string> = { [CT_EGRESS]: 'OUT', [CT_INGRESS]: 'IN', [CT_SERVICE]: 'SERVICE' };

/** One entry as `cilia bpf ct list global --json` prints it. */
function entryJSON(k: Ipv4CtTuple, v: CtEntry, now: number) {
  return {
    proto: PROTO[k.nexthdr] ?? String(k.nexthdr),
    direction: DIR[k.flags] ?? String(k.flags),
    source: `${k.saddr}:${k.sport}`,
    destination: `${k.daddr}:${k.dport}`,
    expiresIn: v.lifetime - now,
    txPackets: Number(v.tx_packets),
    txBytes: Number(v.tx_bytes),
    rxPackets: Number(v.rx_packets),
    rxBytes: Number(v.rx_bytes),
    txFlagsSeen: v.tx_flags_seen,
    rxFlagsSeen: v.rx_flags_seen,
    flags: v.flags,
    revNatIndex: v.rev_nat_index,
    sourceIdentity: v.src_sec_id,
    backend: v.nat_addr !== '0.0.0.0' ? `${v.nat_addr}:${v.nat_port}` : undefined,
  };
}

/** Deletes expired entries; returns how many. */
export function collectGarbage(maps: MapsAccess, now = monotonicSeconds()): { scanned: number; deleted: number } {
  const ct = maps.maps.ct4;
  let scanned = 0;
  let deleted = 0;
  for (const [k, v] of [...ct.entries()]) {
    scanned++;
    if (v.lifetime < now && ct.delete(k)) deleted++;
  }
  return { scanned, deleted };
}

export const ConntrackCell = module(
  'conntrack',
  'Connection tracking: garbage collection and inspection',
  config(IConntrackConfig, {
    conntrackGcIntervalMs: { doc: 'How often expired conntrack entries are removed', format: 'nat', default: 60_000 },
  }),
  invoke('conntrack-gc', [IDatapathMaps, IConntrackConfig, IJobGroup, ILogger, IHealth], (maps, cfg, jobs: JobGroup, log: Logger, health: Health) => {
    jobs.add(
      timer(
        'ct-gc',
        async () => {
          const r = collectGarbage(maps);
          if (r.deleted) log.debug('conntrack garbage collected', r);
          health.ok(`${r.scanned - r.deleted} entries, ${r.deleted} expired removed at the last pass`);
        },
        Math.max(1000, cfg.conntrackGcIntervalMs),
      ),
    );
  }),
  provideInto(IApiRoutes, {
    deps: [IDatapathMaps],
    factory: (maps) => [
      route('GET', '/v1/bpf/ct/{scope}', 'Conntrack entries (scope: global)', (req) => {
        if (req.params.scope !== 'global') throw badRequest(`unknown conntrack scope ${JSON.stringify(req.params.scope)}; Cilia has one global table: use "global"`, 'scope');
        const now = monotonicSeconds();
        return [...maps.maps.ct4.entries()].map(([k, v]) => entryJSON(k, v, now));
      }),
      route('DELETE', '/v1/bpf/ct/{scope}', 'Flush conntrack entries (scope: global)', (req) => {
        if (req.params.scope !== 'global') throw badRequest(`unknown conntrack scope ${JSON.stringify(req.params.scope)}; use "global"`, 'scope');
        const ct = maps.maps.ct4;
        let n = 0;
        for (const k of [...ct.keys()]) if (ct.delete(k)) n++;
        return { flushed: n };
      }),
    ],
  }),
);
