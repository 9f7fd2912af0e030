// endpoint-manager: endpoints (pods: a network namespace plus a veth) from the CNI plugin and
// `cilia endpoint create`. Owns the `endpoints` table (desired state; `cilia statedb endpoints`) and
// its reconciler, which wires veths, attaches the datapath programs and writes `cilia_lxc`. Endpoints
// are persisted in <state-dir>/endpoints/ and restored at start without touching running pods.
//
// Provides IEndpointManager. API: PUT/GET/DELETE /v1/endpoint, PATCH /v1/endpoint/{ref}/labels,
// POST /v1/endpoint/check.

import {
  type Health,
  IHealth,
  IJobGroup,
  ILifecycle,
  ILogger,
  type JobGroup,
  type Lifecycle,
  type Logger,
  config,
  module,
  observer,
  provide,
  provideInto,
  providePrivate,
  token,
} from '../../pkg/hive/index.js';
import { EP_F_EGRESS_ENFORCED, EP_F_INGRESS_ENFORCED, endpointKeyByIp } from '../../pkg/datapath/index.js';
import { Netlink } from '../../pkg/netlink/index.js';
import { IDB } from '../../pkg/statedb/index.js';
import { registerReconciler } from '../../pkg/statedb/reconciler/index.js';
import { IApiRoutes } from '../api-server/types.js';
import { IDaemonConfig } from '../daemon-config/types.js';
import { IIdentityAllocator } from '../identity/types.js';
import { IIpam } from '../ipam/types.js';
import { IDatapathMaps } from '../maps/types.js';
import { INamespaces } from '../namespaces/types.js';
import { IOrchestrator } from '../orchestrator/types.js';
import { IStatusLines } from '../status/types.js';
import { endpointRoutes } from './api.js';
import { EndpointManagerImpl } from './manager.js';
import { EndpointDatapathOps } from './ops.js';
import { newEndpointTable } from './table.js';
import { IEndpointManager, IEndpointManagerConfig } from './types.js';

const IManagerImpl = token<EndpointManagerImpl>('EndpointManagerImpl');

export const EndpointManagerCell = module(
  'endpoint-manager',
  'Endpoints: veths, datapath programs and lxc map entries of pods',
  config(IEndpointManagerConfig, {
    endpointIfnamePrefix: { doc: 'Prefix of host-side veth names (the agent prunes only devices with it)', format: String, default: 'lxc' },
    endpointMtu: { doc: 'MTU of endpoint interfaces', format: 'nat', default: 1500 },
    clusterName: { doc: 'Cluster name carried in identity labels (the `cluster` entity selects it)', format: String, default: 'default' },
  }),
  providePrivate({
    provides: IManagerImpl,
    deps: [IDB, IEndpointManagerConfig, IDaemonConfig, IIpam, IIdentityAllocator, INamespaces, IDatapathMaps, IOrchestrator, ILifecycle, IJobGroup, ILogger, IHealth],
    factory: (db, cfg, daemon, ipam, identities, namespaces, maps, orchestrator, lc: Lifecycle, jobs: JobGroup, log: Logger, health: Health) => {
      if (cfg.endpointIfnamePrefix.length < 1 || cfg.endpointIfnamePrefix.length > 8 || !/^[a-z0-9_]+$/.test(cfg.endpointIfnamePrefix)) {
        throw new Error(`--endpoint-ifname-prefix ${JSON.stringify(cfg.endpointIfnamePrefix)} must be 1-8 characters of [a-z0-9_]`);
      }
      const table = newEndpointTable(db);
      const markInitialized = db.update([table], (txn) => table.registerInitializer(txn, 'endpoint-restore'));
      let nl: Netlink | undefined;
      const ops = new EndpointDatapathOps(
        () => (nl ??= Netlink.open()),
        maps,
        orchestrator,
        ipam.routerIP,
        cfg.endpointIfnamePrefix,
        log,
      );
      const mgr = new EndpointManagerImpl(db, table, cfg, daemon.stateDir, ipam, identities, namespaces, (id) => ops.ifindexes.get(id), log);
      lc.append({
        name: 'endpoint-restore',
        onStart: () => {
          const { restored, dropped } = mgr.restore((ep) => {
            const info = maps.maps.lxc.get(endpointKeyByIp(ep.ipv4));
            return info && { ingressEnforced: (info.flags & EP_F_INGRESS_ENFORCED) !== 0, egressEnforced: (info.flags & EP_F_EGRESS_ENFORCED) !== 0, revision: info.policy_rev, datapathRevision: info.policy_rev };
          });
          db.update([table], (txn) => markInitialized(txn));
          log.info('endpoints restored', { restored, dropped });
          health.ok(`${restored} endpoint(s) restored`);
        },
        onStop: () => {
          nl?.close();
          nl = undefined;
        },
      });
      const rec = registerReconciler({ db, jobs, log, health: health.scope('datapath') }, {
        table,
        name: 'endpoints',
        getStatus: (e) => e.status,
        setStatus: (e, status) => ({ ...e, status }),
        ops,
        retry: { minMs: 200, maxMs: 30_000 },
      });
      mgr.setReconciler(rec);
      // A namespace's labels are part of its endpoints' identities: follow them.
      jobs.add(
        observer('follow-namespace-labels', namespaces.table.changes$(), async (c) => {
          for (const ep of mgr.list().filter((e) => e.namespace === c.object.name)) await mgr.relabel(ep.id, ep.labels);
        }),
      );
      return mgr;
    },
  }),
  provide({ provides: IEndpointManager, deps: [IManagerImpl], factory: (m) => m }),
  provideInto(IApiRoutes, { deps: [IEndpointManager, IIpam], factory: (mgr, ipam) => endpointRoutes(mgr, ipam.routerIP) }),
  provideInto(IStatusLines, {
    deps: [IEndpointManager],
    factory: (mgr) => () => {
      const all = mgr.list();
      const ready = all.filter((e) => e.status.kind === 'Done' && e.policy).length;
      const failed = all.filter((e) => e.status.kind === 'Error');
      return { name: 'Endpoints', state: failed.length ? ('Warning' as const) : ('Ok' as const), message: `${ready}/${all.length} ready${failed.length ? `, ${failed.length} failing: ${failed.map((e) => `${e.id} (${e.status.error})`).join(', ')}` : ''}` };
    },
  }),
);
