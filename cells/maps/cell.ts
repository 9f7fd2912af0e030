// maps: sizes of the pinned datapath maps (flags) and typed handles on them for the cells that write
// them. The maps themselves are created (or reused) under --bpf-root when the loader loads the object;
// this cell opens them by pin path, so handles stay valid across datapath reloads. Inspect with
// `cilia bpf endpoint list`, `cilia bpf ipcache list`, `cilia bpf metrics list`.

import { type DatapathMaps, closeDatapathMaps, dropReasonText, openDatapathMaps } from '../../pkg/datapath/index.js';
import { ILifecycle, type Lifecycle, config, module, provide, provideInto } from '../../pkg/hive/index.js';
import { IApiRoutes, route } from '../api-server/types.js';
import { IDaemonConfig } from '../daemon-config/types.js';
import { ILoader } from '../loader/types.js';
import { IDatapathMaps, IMapsConfig, type MapsAccess } from './types.js';

class MapsHolder implements MapsAccess {
  private m?: DatapathMaps;
  get maps(): DatapathMaps {
    if (!this.m) throw new Error('the datapath maps are not open (used before start)');
    return this.m;
  }
  open(bpfRoot: string): void {
    this.m = openDatapathMaps(bpfRoot);
  }
  close(): void {
    if (this.m) closeDatapathMaps(this.m);
    this.m = undefined;
  }
}

const DIRECTIONS: Record<number, string> = { 1: 'INGRESS', 2: 'EGRESS', 3: 'SERVICE' };

export const MapsCell = module(
  'maps',
  'Pinned datapath maps: sizes and typed handles',
  config(IMapsConfig, {
    bpfLxcMapMax: { doc: 'Maximum entries of cilia_lxc (two per endpoint)', format: 'nat', default: 65535 },
    bpfIpcacheMapMax: { doc: 'Maximum entries of cilia_ipcache', format: 'nat', default: 512000 },
    bpfPolicyMapMax: { doc: 'Maximum entries of cilia_policy (all endpoints together)', format: 'nat', default: 262144 },
    bpfCtGlobalMax: { doc: 'Maximum entries of the conntrack table cilia_ct4', format: 'nat', default: 262144 },
    bpfLbMapMax: { doc: 'Maximum entries of the service, backend and reverse-NAT maps', format: 'nat', default: 65536 },
    bpfLbMaglevMapMax: { doc: 'Maximum number of services with a Maglev table', format: 'nat', default: 1024 },
    monitorRingSize: { doc: 'Size in bytes of the cilia_events ring buffer (a power of two)', format: 'nat', default: 4 * 1024 * 1024 },
  }),
  provide({
    provides: IDatapathMaps,
    deps: [IDaemonConfig, ILoader, ILifecycle],
    factory: (daemon, loader, lc: Lifecycle) => {
      void loader; // the loader creates the pins; depending on it orders our start after its load
      const holder = new MapsHolder();
      lc.append({ name: 'open-maps', onStart: () => holder.open(daemon.bpfRoot), onStop: () => holder.close() });
      return holder;
    },
  }),
  provideInto(IApiRoutes, {
    deps: [IDatapathMaps],
    factory: (m) => [
      route('GET', '/v1/bpf/endpoints', 'Entries of cilia_lxc', () => [...m.maps.lxc.entries()].map(([key, value]) => ({ key, value }))),
      route('GET', '/v1/bpf/ipcache', 'Entries of cilia_ipcache', () => [...m.maps.ipcache.entries()].map(([key, value]) => ({ prefix: `${key.addr}/${key.prefixlen}`, ...value }))),
      route('GET', '/v1/bpf/metrics', 'Datapath counters per reason and direction (summed over CPUs)', () =>
        [...m.maps.metrics.entriesPerCpu()].map(([key, perCpu]) => ({
          reason: key.reason,
          reasonName: key.reason === 0 ? 'Forwarded' : dropReasonText(key.reason),
          direction: DIRECTIONS[key.dir] ?? String(key.dir),
          packets: perCpu.reduce((s, v) => s + v.count, 0n).toString(),
          bytes: perCpu.reduce((s, v) => s + v.bytes, 0n).toString(),
        })),
      ),
    ],
  }),
);
