// loader: loads bpf/bpf_lxc.o once per agent start — after checking that every TypeScript codec matches
// the C structs in its BTF (the agent refuses to start on a mismatch, naming the struct and field) —
// with per-node settings in its `const volatile` globals and its maps pinned under --bpf-root (reused
// across restarts). Reloads it when a datapath setting changes at runtime (PATCH /v1/config,
// `cilia config`), and the orchestrator swaps the programs on every endpoint atomically.

import path from 'node:path';
import { Subject } from 'rxjs';
import { assertAligned } from '../../pkg/bpf/index.js';
import { type DatapathConfig, DEFAULT_LXC_OBJECT, type LoadedLxcDatapath, MAP_CODECS, ciliaEvent, loadLxcDatapath } from '../../pkg/datapath/index.js';
import { badRequest } from '../../pkg/api/index.js';
import { type Health, IHealth, ILifecycle, ILogger, type Lifecycle, type Logger, config, module, provide, provideInto } from '../../pkg/hive/index.js';
import { IApiRoutes, route } from '../api-server/types.js';
import { IDaemonConfig } from '../daemon-config/types.js';
import { IMapsConfig, type MapsConfig } from '../maps/types.js';
import { IStatusLines } from '../status/types.js';
import { ILoader, ILoaderConfig, type Loader, type LoaderConfig } from './types.js';

function settingsOf(cfg: LoaderConfig): DatapathConfig {
  return {
    ctTimeoutTcp: cfg.bpfCtTimeoutRegularTcp,
    ctTimeoutSyn: cfg.bpfCtTimeoutRegularTcpSyn,
    ctTimeoutFin: cfg.bpfCtTimeoutRegularTcpFin,
    ctTimeoutAny: cfg.bpfCtTimeoutRegularAny,
    enablePacketLb: cfg.enablePacketLb,
    monitorAggregation: cfg.monitorAggregation !== 'none',
    maglevTableSize: cfg.bpfLbMaglevTableSize,
  };
}

function mapSizes(m: MapsConfig) {
  return {
    lxc: m.bpfLxcMapMax,
    ipcache: m.bpfIpcacheMapMax,
    policy: m.bpfPolicyMapMax,
    ct4: m.bpfCtGlobalMax,
    lb4Services: m.bpfLbMapMax,
    lb4Maglev: m.bpfLbMaglevMapMax,
    events: m.monitorRingSize,
  };
}

/** Runtime-changeable datapath options (`cilia config`), as Cilium's endpoint/daemon options. */
const RUNTIME_OPTIONS: Record<string, (v: string) => Partial<DatapathConfig>> = {
  MonitorAggregation: (v) => {
    if (v !== 'none' && v !== 'medium') throw badRequest('MonitorAggregation must be none or medium', 'MonitorAggregation');
    return { monitorAggregation: v === 'medium' };
  },
  ConntrackTimeoutTCP: (v) => ({ ctTimeoutTcp: positive(v, 'ConntrackTimeoutTCP') }),
  ConntrackTimeoutAny: (v) => ({ ctTimeoutAny: positive(v, 'ConntrackTimeoutAny') }),
};

function positive(v: string, field: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw badRequest(`${field} must be a positive integer (seconds)`, field);
  return n;
}

class LxcLoader implements Loader {
  private loaded?: LoadedLxcDatapath;
  private cfg: DatapathConfig;
  readonly reloaded$ = new Subject<LoadedLxcDatapath>();

  constructor(
    private readonly objectPath: string,
    private readonly pinRoot: string,
    initial: DatapathConfig,
    private readonly sizes: ReturnType<typeof mapSizes>,
    private readonly log: Logger,
  ) {
    this.cfg = initial;
  }

  start(): void {
    // The alignment check: a codec that disagrees with the C struct would silently corrupt maps.
    assertAligned(this.objectPath, [...MAP_CODECS, ciliaEvent]);
    const t0 = performance.now();
    this.loaded = loadLxcDatapath({ objectPath: this.objectPath, pinRoot: this.pinRoot, config: this.cfg, mapSizes: this.sizes });
    this.log.info('datapath loaded', { object: this.objectPath, pinRoot: this.pinRoot, ms: Math.round(performance.now() - t0), fromContainer: this.loaded.fromContainer.id, toContainer: this.loaded.toContainer.id });
  }

  stop(): void {
    this.loaded?.close();
    this.loaded = undefined;
    this.reloaded$.complete();
  }

  current(): LoadedLxcDatapath {
    if (!this.loaded) throw new Error('the datapath is not loaded (used before start)');
    return this.loaded;
  }

  settings(): DatapathConfig {
    return this.cfg;
  }

  reload(changes: Partial<DatapathConfig>): LoadedLxcDatapath {
    const next = { ...this.cfg, ...changes };
    const fresh = loadLxcDatapath({ objectPath: this.objectPath, pinRoot: this.pinRoot, config: next, mapSizes: this.sizes });
    const old = this.loaded;
    this.loaded = fresh;
    this.cfg = next;
    this.log.info('datapath reloaded', { changes, fromContainer: fresh.fromContainer.id, toContainer: fresh.toContainer.id });
    this.reloaded$.next(fresh);
    // Programs stay alive while attached; the old object's handles can go once everything moved.
    old?.close();
    return fresh;
  }
}

export const LoaderCell = module(
  'loader',
  'Loads the BPF objects once, with per-node settings, and reloads on change',
  config(ILoaderConfig, {
    bpfObjectDir: { doc: 'Directory of the compiled BPF objects (default: the bpf/ directory of this installation)', format: String, default: '' },
    bpfCtTimeoutRegularTcp: { doc: 'Conntrack lifetime of established TCP connections (s)', format: 'nat', default: 21600 },
    bpfCtTimeoutRegularTcpSyn: { doc: 'Conntrack lifetime of TCP connections before the handshake completed (s)', format: 'nat', default: 60 },
    bpfCtTimeoutRegularTcpFin: { doc: 'Conntrack lifetime after FIN in both directions or RST (s)', format: 'nat', default: 10 },
    bpfCtTimeoutRegularAny: { doc: 'Conntrack lifetime of UDP and ICMP flows (s)', format: 'nat', default: 60 },
    monitorAggregation: { doc: 'Trace events: none = every packet, medium = new connections and TCP flag changes', format: ['none', 'medium'], default: 'medium' as const },
    bpfLbMaglevTableSize: { doc: 'Size of Maglev lookup tables (a prime)', format: 'nat', default: 16381 },
    enablePacketLb: { doc: 'Per-packet service load balancing in the endpoint programs (for traffic socket LB does not see)', format: Boolean, default: true },
  }),
  provide({
    provides: ILoader,
    deps: [ILoaderConfig, IMapsConfig, IDaemonConfig, ILifecycle, ILogger, IHealth],
    factory: (cfg, maps, daemon, lc: Lifecycle, log: Logger, health: Health) => {
      const objectPath = cfg.bpfObjectDir ? path.join(cfg.bpfObjectDir, 'bpf_lxc.o') : DEFAULT_LXC_OBJECT;
      const loader = new LxcLoader(objectPath, daemon.bpfRoot, settingsOf(cfg), mapSizes(maps), log);
      lc.append({
        name: 'load-datapath',
        onStart: () => {
          loader.start();
          health.ok('bpf_lxc.o loaded');
        },
        onStop: () => loader.stop(),
      });
      return loader;
    },
  }),
  provideInto(IApiRoutes, {
    deps: [ILoader],
    factory: (loader) => [
      route('GET', '/v1/config', 'Datapath settings that can change at runtime', () => {
        const s = loader.settings();
        return { MonitorAggregation: s.monitorAggregation ? 'medium' : 'none', ConntrackTimeoutTCP: String(s.ctTimeoutTcp), ConntrackTimeoutAny: String(s.ctTimeoutAny), settings: s };
      }),
      route('PATCH', '/v1/config', 'Change datapath settings ({"MonitorAggregation": "none"}); reloads the datapath atomically', (req) => {
        const body = req.body as Record<string, unknown> | undefined;
        if (!body || typeof body !== 'object') throw badRequest('the body must be an object of option: value');
        let changes: Partial<DatapathConfig> = {};
        for (const [k, v] of Object.entries(body)) {
          const parse = RUNTIME_OPTIONS[k];
          if (!parse) throw badRequest(`unknown option ${JSON.stringify(k)}; options: ${Object.keys(RUNTIME_OPTIONS).join(', ')}`, k);
          changes = { ...changes, ...parse(String(v)) };
        }
        const fresh = loader.reload(changes);
        return { reloaded: true, fromContainer: fresh.fromContainer.id, toContainer: fresh.toContainer.id };
      }),
    ],
  }),
  provideInto(IStatusLines, {
    deps: [ILoader],
    factory: (loader) => () => {
      const s = loader.settings();
      return { name: 'Datapath', state: 'Ok' as const, message: `bpf_lxc.o (tc, eBPF host routing), per-packet LB ${s.enablePacketLb ? 'on' : 'off'}, monitor aggregation ${s.monitorAggregation ? 'medium' : 'none'}` };
    },
  }),
);
