// REST routes of the service load balancer: /v1/service (list, get, upsert, delete), /v1/bpf/lb (the
// LB maps decoded) and /v1/bpf/lb/maglev/{service}. Changes answer once the LB maps hold them.

import { ApiError, notFound } from '../../pkg/api/index.js';
import { SVC_F_AFFINITY, SVC_F_LOCAL, SVC_F_MAGLEV, SVC_F_SOURCE_RANGE } from '../../pkg/datapath/index.js';
import { BACKEND_STATES } from '../../pkg/lb/model/index.js';
import type { Table } from '../../pkg/statedb/index.js';
import { type ApiRoute, route } from '../api-server/types.js';
import type { ApiServiceSource } from './api-source.js';
import { lb4KeyText } from './layout.js';
import type { LbMaps } from './lbmaps.js';
import type { BpfLbJSON, BpfLbServiceJSON, BpfMaglevJSON, LbService, ServiceJSON, ServiceUpsertRequest } from './types.js';

const PROTO_NAMES: Record<number, string> = { 6: 'TCP', 17: 'UDP', 132: 'SCTP' };
const FLAG_NAMES: [number, string][] = [[SVC_F_AFFINITY, 'affinity'], [SVC_F_MAGLEV, 'maglev'], [SVC_F_SOURCE_RANGE, 'source-range'], [SVC_F_LOCAL, 'local']];

/** The wire form of a service row. */
export function serviceJSON(s: LbService): ServiceJSON {
  return {
    name: s.name,
    namespace: s.namespace,
    source: s.source,
    backendSource: s.backendSource,
    type: 'ClusterIP',
    frontends: s.frontends,
    backends: s.backends,
    ...(s.sessionAffinity ? { sessionAffinity: s.sessionAffinity } : {}),
    sourceRanges: s.sourceRanges,
    trafficPolicy: s.trafficPolicy,
    algorithm: s.algorithm,
    status: { kind: s.status.kind, ...(s.status.error ? { error: s.status.error } : {}) },
  };
}

/** The LB maps decoded: masters with their slots, backends, reverse NAT, source ranges, Maglev tables. */
export function bpfLbJSON(maps: LbMaps): BpfLbJSON {
  const entries = maps.readServices();
  const byKey = new Map(entries.map(([k, v]) => [lb4KeyText(k), v]));
  const services: BpfLbServiceJSON[] = entries
    .filter(([k]) => k.backend_slot === 0)
    .map(([k, v]) => {
      const slots: number[] = [];
      for (let s = 1; s <= v.count; s++) slots.push(byKey.get(lb4KeyText({ ...k, backend_slot: s }))?.backend_id ?? 0);
      return {
        frontend: `${k.address}:${k.dport}/${PROTO_NAMES[k.proto] ?? k.proto}`,
        revNat: v.rev_nat_index,
        count: v.count,
        flags: FLAG_NAMES.filter(([bit]) => v.flags & bit).map(([, name]) => name),
        ...(v.flags & SVC_F_AFFINITY ? { affinityTimeoutSeconds: v.backend_id } : {}),
        slots,
      };
    })
    .sort((a, b) => a.revNat - b.revNat);
  return {
    services,
    backends: maps
      .readBackends()
      .map(([id, b]) => ({ id, address: b.address, port: b.port, protocol: PROTO_NAMES[b.proto] ?? String(b.proto), state: BACKEND_STATES[b.flags] ?? `state ${b.flags}` }))
      .sort((a, b) => a.id - b.id),
    reverseNat: maps.readReverseNat().map(([revNat, v]) => ({ revNat, address: v.address, port: v.port })).sort((a, b) => a.revNat - b.revNat),
    sourceRanges: maps.readSourceRanges().map((k) => ({ revNat: k.rev_nat_id, cidr: `${k.addr}/${k.prefixlen - 32}` })),
    maglev: maps.readMaglev().map(([revNat, innerMapId]) => ({ revNat, innerMapId })).sort((a, b) => a.revNat - b.revNat),
  };
}

/** The Maglev tables of a service's frontends. */
export function maglevJSON(maps: LbMaps, svc: LbService): BpfMaglevJSON {
  return {
    service: svc.key,
    frontends: svc.frontends.map((f) => {
      const table = maps.readMaglevTable(f.revNat) ?? new Uint32Array(0);
      const counts: Record<string, number> = {};
      for (const id of table) counts[id] = (counts[id] ?? 0) + 1;
      return { frontend: `${f.address}:${f.port}/${f.protocol}`, revNat: f.revNat, size: table.length, counts, table: [...table] };
    }),
  };
}

/** What the routes need. */
export interface ServiceRoutesDeps {
  readonly services: Table<LbService>;
  readonly api: ApiServiceSource;
  readonly maps: LbMaps;
  readonly all: () => LbService[];
  /** Resolves once the LB maps hold every service change up to `rev`; rejects if one of `keys` failed. */
  readonly waitProgrammed: (rev: number, keys: readonly string[], signal?: AbortSignal) => Promise<void>;
  readonly current: (key: string) => LbService | undefined;
}

function readMaps<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new ApiError(500, `reading ${what} failed: ${(err as Error).message}`);
  }
}

/** The routes. */
export function serviceRoutes(d: ServiceRoutesDeps): ApiRoute[] {
  return [
    route('GET', '/v1/service', 'Services: frontends (with rev-NAT index), backends (with id and state), status', () => d.all().map(serviceJSON)),
    route('GET', '/v1/service/{ref}', 'One service by frontend (IP:PORT[/proto]), namespace/name, or name (?namespace=)', (req) => {
      const svc = d.api.find(req.params.ref, req.query.get('namespace') ?? 'default');
      if (!svc) throw notFound(`no service ${req.params.ref}`);
      return serviceJSON(svc);
    }),
    route('PUT', '/v1/service', 'Create or replace a service (answers once the LB maps hold it)', async (req) => {
      const change = d.api.upsert(req.body as ServiceUpsertRequest);
      await d.waitProgrammed(change.revision, [change.key], req.signal);
      return serviceJSON(d.current(change.key)!);
    }),
    route('DELETE', '/v1/service/{ref}', 'Delete a service made through the API (answers once the LB maps no longer hold it)', async (req) => {
      const change = d.api.delete(req.params.ref, req.query.get('namespace') ?? 'default');
      await d.waitProgrammed(change.revision, [], req.signal);
      return { deleted: change.key };
    }),
    route('GET', '/v1/bpf/lb', 'The LB maps decoded: services (master and slots), backends, reverse NAT, source ranges, Maglev tables', () => readMaps('the LB maps', () => bpfLbJSON(d.maps))),
    route('GET', '/v1/bpf/lb/maglev/{ref}', 'The Maglev lookup tables of a service (by frontend or name)', (req) => {
      const svc = d.api.find(req.params.ref, req.query.get('namespace') ?? 'default');
      if (!svc) throw notFound(`no service ${req.params.ref}`);
      return readMaps('cilia_lb4_maglev', () => maglevJSON(d.maps, svc));
    }),
  ];
}
