// A small hive around ServiceLbCell for tests and measurements: the real cell, statedb, a fake
// endpoint manager whose endpoints table the test writes, fixed daemon and loader settings, and
// LB maps that are either in memory (FakeLbMaps) or any other LbMaps (e.g. real BPF maps).

import type { NamedPortJSON } from '../../pkg/api/index.js';
import { type Hive, ILifecycle, type Lifecycle, module, provide } from '../../pkg/hive/index.js';
import { testHive } from '../../pkg/hive/hivetest/hivetest.js';
import { LabelSet } from '../../pkg/labels/index.js';
import { type DB, IDB, type RWTable, StateDBCell, index, keys, uintIndex } from '../../pkg/statedb/index.js';
import { Status } from '../../pkg/statedb/reconciler/index.js';
import { type ApiRequest, type ApiRoute, IApiRoutes, IApiServer, type Method } from '../api-server/types.js';
import { type ApplyHandler, type ApplyItem, IApplyHandlers } from '../apply/types.js';
import { IDaemonConfig } from '../daemon-config/types.js';
import { type Endpoint, type EndpointManager, IEndpointManager } from '../endpoint-manager/types.js';
import { ILoaderConfig, type LoaderConfig } from '../loader/types.js';
import { ILbMaps, ServiceLbCell } from './cell.js';
import { FakeLbMaps } from './fake.js';
import type { LbMaps } from './lbmaps.js';
import { IServiceLb, type ServiceLb } from './types.js';

/** Node name the test hive runs as. */
export const TEST_NODE = 'test-node';

/** Options of `serviceLbTestHive`. */
export interface TestHiveOptions {
  readonly stateDir: string;
  /** Default: a new FakeLbMaps. */
  readonly maps?: LbMaps;
  /** Maglev table size (default 251, small and prime). */
  readonly maglevTableSize?: number;
  /** Extra agent flags, e.g. `--bpf-lb-algorithm=maglev`. */
  readonly argv?: readonly string[];
  /**
   * Objects the apply cell would restore from its store at start (Services, EndpointSlices). They are
   * applied by a start hook placed where the agent's apply cell restores, i.e. before the table is
   * marked initialized.
   */
  readonly restoreObjects?: readonly Record<string, unknown>[];
}

/** A started test hive and handles on what tests poke. */
export interface ServiceLbTestHive {
  readonly hive: Hive;
  readonly lb: ServiceLb;
  readonly maps: LbMaps;
  /** The endpoints table behind the fake endpoint manager. */
  readonly endpoints: RWTable<Endpoint>;
  readonly db: DB;
  readonly apply: ApplyHandler;
  /** Calls an API route like the API server would (throws its ApiError). */
  call(method: Method, path: string, body?: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

/** A ready endpoint (policy resolved) for the fake endpoints table. */
export function testEndpoint(id: number, namespace: string, labels: Record<string, string>, ipv4: string, namedPorts: NamedPortJSON[] = [], ready = true): Endpoint {
  return {
    id, containerId: `c${id}`, ifName: 'eth0', name: `ep${id}`, namespace, labels, identityLabels: LabelSet.parse([]), identity: 1000 + id, ipv4,
    mac: '02:00:00:00:00:01', hostMac: '02:00:00:00:00:02', hostIfName: `lxc${id}`, netnsPath: `/run/netns/x${id}`, ownsNetns: true, mtu: 1500,
    namedPorts, ...(ready ? { policy: { ingressEnforced: false, egressEnforced: false, revision: 1 } } : {}), createdAt: '2026-01-01T00:00:00Z',
    status: Status.done(),
  };
}

function request(method: Method, path: string, params: Record<string, string>, body: unknown): ApiRequest {
  const url = new URL(`http://x${path}`);
  return {
    method, path: url.pathname, params, query: url.searchParams, body, rawBody: body === undefined ? '' : JSON.stringify(body), contentType: 'application/json',
    signal: new AbortController().signal, raw: undefined as never,
  };
}

function matchRoute(routes: readonly ApiRoute[], method: Method, path: string): { route: ApiRoute; params: Record<string, string> } {
  const pathname = new URL(`http://x${path}`).pathname;
  for (const r of routes) {
    if (r.method !== method) continue;
    const names: string[] = [];
    const re = new RegExp('^' + r.path.replace(/\{(\w+)\}/g, (_m, n: string) => (names.push(n), '([^/]+)')) + '$');
    const m = re.exec(pathname);
    if (m) return { route: r, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1])])) };
  }
  throw new Error(`no route ${method} ${path}`);
}

/** Builds and starts the hive. Stop it with `stop()` (tests: in `after`/`t.after`). */
export async function serviceLbTestHive(opts: TestHiveOptions): Promise<ServiceLbTestHive> {
  const maps = opts.maps ?? new FakeLbMaps();
  let endpoints!: RWTable<Endpoint>;
  const loader: LoaderConfig = {
    bpfObjectDir: '', bpfCtTimeoutRegularTcp: 21600, bpfCtTimeoutRegularTcpSyn: 60, bpfCtTimeoutRegularTcpFin: 10, bpfCtTimeoutRegularAny: 60,
    monitorAggregation: 'medium', bpfLbMaglevTableSize: opts.maglevTableSize ?? 251, enablePacketLb: true,
  };
  const fakes = module(
    'fakes',
    'Test doubles of the cells service-lb depends on',
    provide({ provides: IDaemonConfig, useValue: { stateDir: opts.stateDir, bpfRoot: '/sys/fs/bpf/unused', backend: 'local' as const, nodeName: TEST_NODE, extraModules: [] } }),
    provide({ provides: ILoaderConfig, useValue: loader }),
    // Stands in for the API server, which the cell uses to order its "applied objects restored" hook
    // after the apply cell's restore; this one does that restore itself.
    provide({
      provides: IApiServer,
      deps: [IApplyHandlers, ILifecycle],
      factory: (handlers: readonly ApplyHandler[], lc: Lifecycle) => {
        lc.append({ name: 'restore-objects', onStart: () => void (opts.restoreObjects?.length && handlers[0].prepareApply(applyItems(opts.restoreObjects), 'default').commit()) });
        return { socketPath: '', routes: () => [] };
      },
    }),
    provide({
      provides: IEndpointManager,
      deps: [IDB],
      factory: (db: DB) => {
        endpoints = db.newTable<Endpoint>({
          name: 'endpoints',
          primary: uintIndex('id', (e) => e.id),
          secondary: [index({ name: 'namespace', unique: false, key: (e: Endpoint) => e.namespace, encode: keys.str })],
        });
        return { table: endpoints.toTable() } as unknown as EndpointManager;
      },
    }),
  );
  const t = testHive([StateDBCell, fakes, ServiceLbCell], { argv: ['--log-level=debug', '--enable-socket-lb=false', ...(opts.argv ?? [])], overrides: [[ILbMaps, maps]] });
  await t.hive.start();
  const routes = (t.hive.resolve(IApiRoutes) as unknown as (readonly ApiRoute[])[]).flat();
  const handlers = t.hive.resolve(IApplyHandlers) as unknown as ApplyHandler[];
  return {
    hive: t.hive,
    lb: t.hive.resolve(IServiceLb),
    maps,
    endpoints,
    db: t.hive.resolve(IDB),
    apply: handlers[0],
    async call(method, path, body) {
      const { route, params } = matchRoute(routes, method, path);
      return await route.handler(request(method, path, params, body));
    },
    stop: () => t.hive.stop(),
  };
}

/** Apply items from plain objects (as the apply cell makes them from a manifest). */
export function applyItems(objects: readonly Record<string, unknown>[]): ApplyItem[] {
  return objects.map((object, i) => ({ kind: String(object.kind), apiVersion: String(object.apiVersion), object, where: `document ${i + 1}` }));
}

/** Applies objects like `cilia apply --wait` does: validate, commit, wait for the maps. Returns the revision. */
export async function applyAndWait(h: ServiceLbTestHive, objects: readonly Record<string, unknown>[], namespace = 'default'): Promise<number> {
  const change = h.apply.prepareApply(applyItems(objects), namespace);
  const rev = change.commit();
  await change.wait?.();
  return rev;
}

/** Deletes objects like `cilia delete --wait`. */
export async function deleteAndWait(h: ServiceLbTestHive, keys: readonly { kind: string; namespace: string; name: string }[]): Promise<void> {
  const change = h.apply.prepareDelete(keys);
  change.commit();
  await change.wait?.();
}

/** Writes endpoints into the fake endpoints table. */
export function putEndpoints(h: ServiceLbTestHive, eps: readonly Endpoint[], remove: readonly Endpoint[] = []): void {
  h.db.update([h.endpoints], (txn) => {
    for (const e of eps) h.endpoints.insert(txn, e);
    for (const e of remove) h.endpoints.delete(txn, e);
  });
}
