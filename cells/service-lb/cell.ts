// service-lb: service load balancing (ClusterIP). Owns the `services` and `backends` tables (desired
// state: `cilia statedb services`, `cilia statedb backends`) and their reconciler, the only writer of
// cilia_lb4_services (master + slots per frontend), cilia_lb4_backends, cilia_lb4_reverse_nat,
// cilia_lb4_source_range and the Maglev tables in cilia_lb4_maglev (`cilia bpf lb list`).
//
// Sources: the API (`cilia service upsert/delete`, persisted in <state-dir>/service-lb/), Service and
// EndpointSlice objects of `cilia apply` (persisted by the apply cell), and for a Service with a
// selector and no EndpointSlice, the local endpoints it selects (followed as they change). Backend ids
// and rev-NAT indexes are stable and persisted, so the pinned maps and conntrack entries stay valid
// across restarts. The datapath does the work: per-packet in bpf_lxc.c (--enable-packet-lb) and, with
// --enable-socket-lb, at connect()/sendmsg() in bpf_sock.o, which this cell attaches to --cgroup-root.
//
// API: GET/PUT /v1/service, GET/DELETE /v1/service/{ref}, GET /v1/bpf/lb, GET /v1/bpf/lb/maglev/{ref}.

import path from 'node:path';
import {
  ConfigError, type Health, IHealth, IJobGroup, ILifecycle, ILogger, type JobGroup, type Lifecycle, type Logger, config, invoke, module, observer,
  optional, provide, provideInto, providePrivate, token,
} from '../../pkg/hive/index.js';
import { ApiError } from '../../pkg/api/index.js';
import type { SelectableEndpoint } from '../../pkg/lb/k8s/index.js';
import type { Service } from '../../pkg/lb/model/index.js';
import { type DB, IDB, type RWTable, type Revision, type WriteTxn } from '../../pkg/statedb/index.js';
import { type Reconciler, registerReconciler } from '../../pkg/statedb/reconciler/index.js';
import { IApiRoutes, IApiServer } from '../api-server/types.js';
import { IApplyHandlers } from '../apply/types.js';
import { IDaemonConfig } from '../daemon-config/types.js';
import { type Endpoint, type EndpointManager, IEndpointManager } from '../endpoint-manager/types.js';
import { ILoader, ILoaderConfig } from '../loader/types.js';
import { IDatapathMaps } from '../maps/types.js';
import { IStatusLines } from '../status/types.js';
import { serviceRoutes } from './api.js';
import { ApiServiceSource } from './api-source.js';
import { serviceApplyHandler } from './apply.js';
import { IdJournal } from './id-journal.js';
import { IdAllocator } from './ids.js';
import { JsonLinesStore } from '../../pkg/statefile/index.js';
import { K8sServiceSource } from './k8s-source.js';
import { BpfLbMaps, type LbMaps } from './lbmaps.js';
import { ServiceManager } from './manager.js';
import { ServiceMapOps } from './ops.js';
import { attachSocketLb } from './socklb.js';
import { newBackendsTable, newServicesTable } from './tables.js';
import { IServiceLb, IServiceLbConfig, type LbBackend, type LbService, type ServiceLb, type ServiceLbConfig } from './types.js';

/** The LB maps the reconciler writes (the kernel's; tests override it with FakeLbMaps). */
export const ILbMaps = token<LbMaps>('LbMaps');

/** Largest rev-NAT index (`lb4_service.rev_nat_index` is a u16). */
const MAX_REV_NAT = 65535;
/** Largest backend id (a u32 key). */
const MAX_BACKEND_ID = 0xffffffff;

/** Whether an endpoint can take connections: its policy is in the maps and its datapath did not fail. */
function isReady(ep: Endpoint): boolean {
  return ep.policy !== undefined && ep.status.kind !== 'Error';
}

function selectable(ep: Endpoint, nodeName: string): SelectableEndpoint {
  return {
    namespace: ep.namespace,
    labels: ep.labels,
    ipv4: ep.ipv4,
    namedPorts: Object.fromEntries(ep.namedPorts.map((p) => [p.name, { port: p.port, protocol: p.protocol }])),
    ready: isReady(ep),
    nodeName,
  };
}

/** Everything the cell runs, wired together. */
class ServiceLbImpl implements ServiceLb {
  readonly services: RWTable<LbService>;
  readonly backends: RWTable<LbBackend>;
  readonly manager: ServiceManager;
  readonly api: ApiServiceSource;
  readonly k8s: K8sServiceSource;
  reconciler?: Reconciler;
  private readonly markDone: Map<string, (txn: WriteTxn) => void>;
  private readonly idStore: IdJournal;
  private readonly revNats: IdAllocator;
  private readonly backendIds: IdAllocator;

  constructor(
    private readonly db: DB,
    stateDir: string,
    cfg: Readonly<ServiceLbConfig>,
    endpoints: EndpointManager,
    nodeName: string,
    private readonly log: Logger,
  ) {
    const services = newServicesTable(db);
    const backends = newBackendsTable(db);
    this.services = services;
    this.backends = backends;
    // The table is complete once the API-made services and the applied objects are back (restart).
    this.markDone = db.update([services], (txn) => new Map(['api-services', 'applied-objects'].map((n) => [n, services.registerInitializer(txn, n)])));
    const dir = path.join(stateDir, 'service-lb');
    this.idStore = new IdJournal(path.join(dir, 'ids.jsonl'));
    this.revNats = new IdAllocator('rev-NAT indexes', MAX_REV_NAT, this.idStore, 'frontend');
    this.backendIds = new IdAllocator('backend ids', MAX_BACKEND_ID, this.idStore, 'backend');
    this.manager = new ServiceManager(db, services, backends, this.revNats, this.backendIds, this.idStore);
    this.api = new ApiServiceSource(this.manager, services, new JsonLinesStore<Service>(path.join(dir, 'services.jsonl')), () => cfg.bpfLbAlgorithm, db);
    this.k8s = new K8sServiceSource(
      this.manager,
      { inNamespace: (ns) => endpoints.table.list(db.readTxn(), { index: 'namespace', key: ns }).map((ep) => selectable(ep, nodeName)) },
      () => cfg.bpfLbAlgorithm,
    );
  }

  /** Start: ids and API-made services from the state directory. Returns how many services came back. */
  restore(): number {
    this.idStore.load();
    this.revNats.restore();
    this.backendIds.restore();
    const { restored, skipped } = this.api.restore();
    for (const s of skipped) this.log.error('a persisted service could not be restored', { service: s.key, error: s.error });
    this.log.info('API services restored', { restored, skipped: skipped.length });
    this.markInitialized('api-services');
    return restored;
  }

  /** Marks one source complete; once all are, numbers nobody claimed again are freed. */
  markInitialized(name: string): void {
    const done = this.markDone.get(name);
    if (!done) return;
    this.markDone.delete(name);
    this.db.update([this.services], (txn) => done(txn));
    if (this.markDone.size) return;
    const freed = this.revNats.dropUnclaimed() + this.backendIds.dropUnclaimed();
    this.idStore.flush();
    if (freed) this.log.info('ids of services gone while the agent was down freed', { freed });
  }

  list(): LbService[] {
    return [...this.services.all(this.db.readTxn())];
  }

  /** The service with key `namespace/name`, if any. */
  get(key: string): LbService | undefined {
    return this.services.get(this.db.readTxn(), { index: 'key', key });
  }

  /** Number of backends in the table. */
  numBackends(): number {
    return this.backends.numObjects(this.db.readTxn());
  }

  async waitProgrammed(rev: Revision, signal?: AbortSignal, keys: readonly string[] = []): Promise<void> {
    const r = await this.reconciler!.waitUntilReconciled(rev, signal);
    // Some change up to `rev` failed (maybe another caller's): the statuses say whether one of ours did.
    if (r.retryLowWatermark > rev || !keys.length) return;
    const failed = keys.map((k) => this.get(k)).filter((s): s is LbService => s?.status.kind === 'Error');
    if (!failed.length) return;
    const first = failed[0];
    throw new ApiError(500, `service ${first.key} could not be written to the LB maps: ${first.status.error}${failed.length > 1 ? ` (and ${failed.length - 1} more)` : ''}`);
  }

  /** Follows the endpoints table: selector-derived backends change when endpoints come, go or change. */
  followEndpoints(endpoints: EndpointManager): ReturnType<typeof observer> {
    const seen = new Map<number, { namespace: string; labels: Readonly<Record<string, string>>; fingerprint: string }>();
    return observer('follow-endpoints', endpoints.table.changes$(), async (c) => {
      const ep = c.object;
      const old = seen.get(ep.id);
      const changed: [string, Readonly<Record<string, string>>[]][] = [];
      if (c.deleted) {
        seen.delete(ep.id);
        if (old) changed.push([old.namespace, [old.labels]]);
      } else {
        const fingerprint = JSON.stringify([ep.ipv4, isReady(ep), ep.labels, ep.namedPorts]);
        if (old?.fingerprint === fingerprint && old.namespace === ep.namespace) return;
        seen.set(ep.id, { namespace: ep.namespace, labels: ep.labels, fingerprint });
        if (old && old.namespace !== ep.namespace) changed.push([old.namespace, [old.labels]]);
        changed.push([ep.namespace, old && old.namespace === ep.namespace ? [old.labels, ep.labels] : [ep.labels]]);
      }
      for (const [ns, labelSets] of changed) {
        try {
          this.k8s.endpointsChanged(ns, labelSets);
        } catch (err) {
          this.log.error('recomputing selector backends failed', { namespace: ns, error: err });
        }
      }
    });
  }
}

const IServiceLbImpl = token<ServiceLbImpl>('ServiceLbImpl');

/**
 * The service-lb module (see the file comment): flags --enable-socket-lb, --cgroup-root,
 * --bpf-lb-algorithm; provides IServiceLb; contributes API routes, the Service/EndpointSlice apply
 * handler and a status line. Start fails when socket LB cannot be attached.
 */
export const ServiceLbCell = module(
  'service-lb',
  'Service load balancing: services, backends and the LB maps',
  config(IServiceLbConfig, {
    enableSocketLb: { doc: 'Socket-level service load balancing: bpf_sock.o on the cgroup hooks of --cgroup-root', format: Boolean, default: true },
    cgroupRoot: { doc: 'cgroup v2 directory whose processes (and those below it) get socket LB; mounted or created if missing', format: 'abs-path', default: '/run/cilia/cgroupv2' },
    bpfLbAlgorithm: { doc: 'Backend selection of services that choose none: random or maglev', format: ['random', 'maglev'], default: 'random' as const },
  }),
  invoke('check-lb-datapath', [IServiceLbConfig, ILoaderConfig], (cfg, loader) => {
    if (!cfg.enableSocketLb && !loader.enablePacketLb) {
      throw new ConfigError('--enable-socket-lb=false needs --enable-packet-lb: with neither, services would not be load-balanced');
    }
  }),
  // After the loader (bpf_sock.o reuses bpf_lxc.o's pinned maps); optional so that cell tests need no loader.
  invoke('socket-lb', [IServiceLbConfig, ILoaderConfig, optional(ILoader), IDaemonConfig, ILifecycle, ILogger, IHealth], (cfg, loaderCfg, loader, daemon, lc: Lifecycle, log: Logger, health: Health) => {
    const status = health.scope('socket-lb');
    lc.append({
      name: 'socket-lb',
      onStart: () => {
        if (!cfg.enableSocketLb) return status.ok('off (--enable-socket-lb=false): per-packet LB only');
        if (!loader) throw new Error('socket LB needs the loader cell (bpf_lxc.o loaded)');
        attachSocketLb({ bpfRoot: daemon.bpfRoot, cgroupRoot: cfg.cgroupRoot, objectDir: loaderCfg.bpfObjectDir, settings: () => loader.settings() }, log);
        status.ok(`attached to ${cfg.cgroupRoot}`);
      },
    });
  }),
  providePrivate({ provides: ILbMaps, deps: [IDatapathMaps], factory: (m) => new BpfLbMaps(() => m.maps) }),
  providePrivate({
    provides: IServiceLbImpl,
    deps: [IDB, IServiceLbConfig, ILoaderConfig, IDaemonConfig, IEndpointManager, ILbMaps, ILifecycle, IJobGroup, ILogger, IHealth],
    factory: (db, cfg, loader, daemon, endpoints, maps, lc: Lifecycle, jobs: JobGroup, log: Logger, health: Health) => {
      const lb = new ServiceLbImpl(db, daemon.stateDir, cfg, endpoints, daemon.nodeName, log);
      const ops = new ServiceMapOps(maps, lb.backends, () => ({ localNodeName: daemon.nodeName, maglevTableSize: loader.bpfLbMaglevTableSize }));
      lb.reconciler = registerReconciler({ db, jobs, log, health: health.scope('lb-maps') }, {
        table: lb.services,
        name: 'lb-maps',
        getStatus: (s) => s.status,
        setStatus: (s, status) => ({ ...s, status }),
        ops,
        batchOps: ops,
        // One round takes a whole `cilia apply` of 10,000 services: a few batched syscalls per map.
        roundSize: 20_000,
      });
      lc.append({ name: 'restore-services', onStart: () => health.ok(`${lb.restore()} service(s) made through the API restored`) });
      jobs.add(lb.followEndpoints(endpoints));
      return lb;
    },
  }),
  // Why an invoke with the API server: the apply cell restores stored Services and EndpointSlices in
  // its start hook. The API server serves the apply cell's routes, so once it exists the apply cell
  // (and its restore hook) was constructed, and a hook appended now runs after that restore. Without
  // an API server (cell tests) there is no apply cell either.
  invoke('mark-applied-objects', [IServiceLbImpl, optional(IApiServer), ILifecycle], (lb, _server, lc: Lifecycle) => {
    lc.append({ name: 'applied-services-restored', onStart: () => lb.markInitialized('applied-objects') });
  }),
  provide({ provides: IServiceLb, deps: [IServiceLbImpl], factory: (lb): ServiceLb => lb }),
  provideInto(IApplyHandlers, { deps: [IServiceLbImpl], factory: (lb) => serviceApplyHandler(lb.k8s, (rev, signal, keys) => lb.waitProgrammed(rev, signal, keys)) }),
  provideInto(IApiRoutes, {
    deps: [IServiceLbImpl, ILbMaps],
    factory: (lb, maps) =>
      serviceRoutes({
        services: lb.services,
        api: lb.api,
        maps,
        all: () => lb.list(),
        waitProgrammed: (rev, keys, signal) => lb.waitProgrammed(rev, signal, keys),
        current: (key) => lb.get(key),
      }),
  }),
  provideInto(IStatusLines, {
    deps: [IServiceLbImpl, IServiceLbConfig, ILoaderConfig],
    factory: (lb, cfg, loader) => () => {
      const all = lb.list();
      const failed = all.filter((s) => s.status.kind === 'Error').length;
      return {
        name: 'Services',
        state: failed ? ('Warning' as const) : ('Ok' as const),
        message: `${all.length} service(s), ${lb.numBackends()} backend(s)${failed ? `, ${failed} failing` : ''}; per-packet LB ${loader.enablePacketLb ? 'on' : 'off'}, socket LB ${cfg.enableSocketLb ? `on (${cfg.cgroupRoot})` : 'off'}`,
      };
    },
  }),
);
