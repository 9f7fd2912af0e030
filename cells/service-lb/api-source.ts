// Services made through the API (`cilia service upsert/delete`): validated requests, persisted in
// <state-dir>/service-lb/services.jsonl so that a restarted agent has them again.

import { badRequest, conflict, notFound } from '../../pkg/api/index.js';
import {
  type LbAlgorithm, LbValidationError, type Service, type ServiceInput, parseFrontend, validateService,
} from '../../pkg/lb/model/index.js';
import type { DB, Revision, Table } from '../../pkg/statedb/index.js';
import type { JsonLinesStore } from '../../pkg/statefile/index.js';
import type { ServiceManager } from './manager.js';
import { frontendKey, serviceKey } from './tables.js';
import type { LbService, ServiceUpsertRequest } from './types.js';

/** What an upsert or delete did. */
export interface ApiChange {
  readonly key: string;
  readonly revision: Revision;
}

/** The name a service without one gets from its frontend: `10.96.0.10:53/UDP` → `10-96-0-10-53-udp`. */
export function nameFromFrontend(f: { address: string; port: number; protocol?: string }): string {
  return `${f.address.replace(/\./g, '-')}-${f.port}-${(f.protocol ?? 'TCP').toLowerCase()}`;
}

/** How `cilia service delete` names a service: `IP:PORT[/proto]` (a frontend), `namespace/name` or `name`. */
export function isFrontendRef(ref: string): boolean {
  return ref.includes(':');
}

/** API-made services. */
export class ApiServiceSource {
  constructor(
    private readonly manager: ServiceManager,
    private readonly services: Table<LbService>,
    private readonly store: JsonLinesStore<Service>,
    private readonly defaultAlgorithm: () => LbAlgorithm,
    private readonly db: DB,
  ) {}

  /**
   * Applies the persisted services (after a restart). Services that no longer validate or conflict
   * are skipped and returned with the reason; the rest go in as one change.
   */
  restore(): { restored: number; skipped: { key: string; error: string }[] } {
    const good: Service[] = [];
    const skipped: { key: string; error: string }[] = [];
    for (const [key, stored] of this.store.load()) {
      try {
        good.push(validateService(stored));
      } catch (err) {
        skipped.push({ key, error: (err as Error).message });
      }
    }
    const desired = good.map((service) => ({ service, source: 'api' as const, backendSource: 'explicit' as const }));
    try {
      this.manager.check(desired, [], 'api');
      this.manager.apply(desired, []);
      return { restored: desired.length, skipped };
    } catch {
      // Something conflicts (e.g. a Kubernetes Service took a frontend): go one by one and skip the culprits.
      let restored = 0;
      for (const d of desired) {
        try {
          this.manager.check([d], [], 'api');
          this.manager.apply([d], []);
          restored++;
        } catch (err) {
          skipped.push({ key: serviceKey(d.service.namespace, d.service.name), error: (err as Error).message });
        }
      }
      return { restored, skipped };
    }
  }

  /**
   * Validates and applies one request. Throws ApiError 400 naming the field (`frontends[0].port`,
   * `backends[1].address`, `backends` when missing), 409 when the name belongs to a service made by
   * `cilia apply` or a frontend to another service. Nothing changes on error.
   */
  upsert(req: ServiceUpsertRequest): ApiChange {
    if (typeof req !== 'object' || req === null) throw badRequest('the body must be a service object');
    if (!Array.isArray(req.frontends) || req.frontends.length === 0) throw badRequest('frontends: a service needs at least one frontend', 'frontends');
    if (!Array.isArray(req.backends)) {
      throw badRequest('backends: required; an empty list is a service without backends, whose new connections are dropped ("Service backend not found")', 'backends');
    }
    const namespace = req.namespace ?? 'default';
    const input: ServiceInput = { ...req, namespace, name: req.name ?? this.nameFor(req, namespace), algorithm: req.algorithm ?? this.defaultAlgorithm() };
    let service: Service;
    try {
      service = validateService(input);
    } catch (err) {
      if (err instanceof LbValidationError) throw badRequest(err.message, err.field);
      throw err;
    }
    const desired = [{ service, source: 'api' as const, backendSource: 'explicit' as const }];
    this.manager.check(desired, [], 'api');
    const revision = this.manager.apply(desired, []);
    const key = serviceKey(service.namespace, service.name);
    this.store.set(key, service);
    this.store.flush();
    return { key, revision };
  }

  /**
   * Deletes the API-made service named by `ref` (see isFrontendRef; `namespace` for a bare name).
   * Throws ApiError 400 (malformed frontend), 404 (no such service), 409 (made by `cilia apply`).
   */
  delete(ref: string, namespace: string): ApiChange {
    const svc = this.find(ref, namespace);
    if (!svc) throw notFound(`no service ${ref}`);
    if (svc.source !== 'api') throw conflict(`service ${svc.key} is managed by cilia apply; delete it with cilia delete`, 'name');
    this.manager.check([], [svc.key], 'api');
    const revision = this.manager.apply([], [svc.key]);
    this.store.delete(svc.key);
    this.store.flush();
    return { key: svc.key, revision };
  }

  /** The service `ref` names (a frontend, `namespace/name`, or a name in `namespace`), of any source. Throws 400 for a malformed frontend. */
  find(ref: string, namespace: string): LbService | undefined {
    const txn = this.db.readTxn();
    if (isFrontendRef(ref)) {
      let fkey: string;
      try {
        const f = parseFrontend(ref, 'service');
        fkey = frontendKey({ address: f.address, port: f.port, protocol: f.protocol ?? 'TCP' });
      } catch (err) {
        if (err instanceof LbValidationError) throw badRequest(err.message, err.field);
        throw err;
      }
      return this.services.get(txn, { index: 'frontend', key: fkey });
    }
    const slash = ref.indexOf('/');
    const key = slash > 0 ? ref : serviceKey(namespace, ref);
    return this.services.get(txn, { index: 'key', key });
  }

  /** A name for a request without one: the API service owning its first frontend, else one from the frontend. */
  private nameFor(req: ServiceUpsertRequest, namespace: string): string {
    const first = req.frontends[0];
    if (typeof first === 'object' && first !== null && typeof first.address === 'string' && typeof first.port === 'number') {
      const owner = this.services.get(this.db.readTxn(), { index: 'frontend', key: frontendKey({ address: first.address, port: first.port, protocol: first.protocol ?? 'TCP' }) });
      if (owner?.source === 'api' && owner.namespace === namespace) return owner.name;
      return nameFromFrontend(first);
    }
    return 'invalid-frontend'; // validation names frontends[0]
  }
}
