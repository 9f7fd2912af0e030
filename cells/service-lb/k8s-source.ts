// Kubernetes Services and EndpointSlices from `cilia apply`: the objects in force, and the services
// they make. A Service's backends come from its EndpointSlices; a Service with a selector and no
// EndpointSlice gets them from the local endpoints its selector matches (the EndpointSlice
// controller's job, done here), kept current as endpoints come, go and change labels or readiness.

import { badRequest } from '../../pkg/api/index.js';
import {
  type EndpointSliceSpec, type K8sEndpointSlice, type K8sService, type K8sServiceSpec, type SelectableEndpoint, deriveBackends,
  parseEndpointSlice, parseK8sService, selectorMatches, sortBackends,
} from '../../pkg/lb/k8s/index.js';
import { type Backend, type LbAlgorithm, LbUnsupportedError, LbValidationError, MAX_BACKENDS_PER_SERVICE, type Service } from '../../pkg/lb/model/index.js';
import type { Revision } from '../../pkg/statedb/index.js';
import type { DesiredService, ServiceManager } from './manager.js';
import { serviceKey } from './tables.js';

/** A Service in force: the object as applied (namespace filled in) and its parsed spec. */
interface StoredService {
  readonly object: K8sService;
  readonly spec: K8sServiceSpec;
}

/** An EndpointSlice in force. `spec` is undefined for slices we do not use (IPv6, FQDN). */
interface StoredSlice {
  readonly object: K8sEndpointSlice;
  /** `namespace/service-name` of the Service it belongs to. */
  readonly service: string;
  readonly spec?: EndpointSliceSpec;
}

/** The endpoints a selector can match, by namespace (from the endpoints table). */
export interface EndpointSource {
  inNamespace(namespace: string): SelectableEndpoint[];
}

/** A parsed apply input: the objects to store. */
export interface K8sObjects {
  readonly services: ReadonlyMap<string, StoredService>;
  readonly slices: ReadonlyMap<string, StoredSlice>;
}

/** A validated change, ready to commit. */
export interface PreparedK8sChange {
  readonly upserts: readonly DesiredService[];
  readonly deletes: readonly string[];
  commit(): Revision;
}

/**
 * The backends of a Service from its EndpointSlices: backendsFromEndpointSlices of pkg/lb, on the specs
 * parsed when the objects arrived (that function parses the Service and every slice again, which is
 * most of the cost of applying 10,000 services). Same rules: per service port the slice port with the
 * same name and protocol gives the target port; an endpoint in several slices is one backend, active
 * winning over terminating; sorted.
 */
export function backendsFromSliceSpecs(spec: K8sServiceSpec, slices: readonly EndpointSliceSpec[]): Backend[] {
  const merged = new Map<string, Backend>();
  for (const slice of slices) {
    for (const servicePort of spec.ports) {
      const slicePort = slice.ports.find((p) => p.name === servicePort.name && p.protocol === servicePort.protocol);
      if (slicePort === undefined) continue;
      for (const e of slice.endpoints) {
        const key = `${servicePort.name}|${e.address}:${slicePort.port}/${servicePort.protocol}`;
        const known = merged.get(key);
        if (known !== undefined && (known.state === 'active' || e.state !== 'active')) continue;
        merged.set(key, {
          address: e.address, port: slicePort.port, protocol: servicePort.protocol, portName: servicePort.name, weight: 1, state: e.state,
          ...(e.nodeName === undefined ? {} : { nodeName: e.nodeName }),
        });
      }
    }
  }
  return sortBackends([...merged.values()]);
}

/**
 * The model of a parsed Service with these backends: serviceFromK8s of pkg/lb without parsing the
 * Service again, and without validateService, which would only check again what holds by
 * construction (the spec and the backends were validated when parsed: unique ports, unicast
 * addresses, ports in range; each backend made for one of the service's ports; duplicates merged).
 * Skipping it saves a third of the CPU time of applying 10,000 services.
 */
export function serviceFromSpec(spec: K8sServiceSpec, backends: readonly Backend[], defaultAlgorithm: LbAlgorithm): Service {
  if (backends.length > MAX_BACKENDS_PER_SERVICE) {
    throw new LbValidationError('endpoints', `${backends.length} backends exceed the limit of ${MAX_BACKENDS_PER_SERVICE} per service`);
  }
  return {
    name: spec.name,
    namespace: spec.namespace,
    type: 'ClusterIP',
    frontends: spec.ports.map((p) => ({ address: spec.clusterIP, port: p.port, protocol: p.protocol, portName: p.name })),
    ...(spec.sessionAffinity === undefined ? {} : { sessionAffinity: spec.sessionAffinity }),
    sourceRanges: [],
    trafficPolicy: spec.trafficPolicy,
    algorithm: spec.algorithm ?? defaultAlgorithm,
    backends,
  };
}

/** Turns a pkg/lb validation error into a 400 naming `where` and the field. */
function asApiError(err: unknown, where: string): unknown {
  if (err instanceof LbValidationError) return badRequest(`${where}: ${err.message}`, `${where}: ${err.field}`);
  return err;
}

/** The object with `metadata.namespace` set (the apply's default namespace when it names none). */
function withNamespace<T extends { metadata?: { namespace?: string } }>(object: T, namespace: string): T {
  return object.metadata?.namespace ? object : { ...object, metadata: { ...object.metadata, namespace } };
}

/**
 * Parses a Service (for `cilia apply`). Throws ApiError 400 naming `where` and the field; a type we
 * do not support (NodePort, headless, IPv6-only) is refused too, so that nothing half-works silently.
 */
export function parseService(object: Readonly<Record<string, unknown>>, where: string, defaultNamespace: string): StoredService {
  if (object.apiVersion !== 'v1') throw badRequest(`${where}: a Service must be apiVersion v1, got ${JSON.stringify(object.apiVersion)}`, `${where}: apiVersion`);
  const svc = withNamespace(object as K8sService, defaultNamespace);
  try {
    return { object: svc, spec: parseK8sService(svc) };
  } catch (err) {
    throw asApiError(err, where);
  }
}

/** Parses an EndpointSlice; IPv6 and FQDN slices are kept but contribute nothing. Throws ApiError 400. */
export function parseSlice(object: Readonly<Record<string, unknown>>, where: string, defaultNamespace: string): StoredSlice {
  if (object.apiVersion !== 'discovery.k8s.io/v1') {
    throw badRequest(`${where}: an EndpointSlice must be apiVersion discovery.k8s.io/v1, got ${JSON.stringify(object.apiVersion)}`, `${where}: apiVersion`);
  }
  const slice = withNamespace(object as K8sEndpointSlice, defaultNamespace);
  const name = slice.metadata?.name;
  if (typeof name !== 'string' || name === '') throw badRequest(`${where}: metadata.name is required`, `${where}: metadata.name`);
  try {
    const spec = parseEndpointSlice(slice);
    return { object: slice, service: serviceKey(spec.namespace, spec.serviceName), spec };
  } catch (err) {
    if (err instanceof LbUnsupportedError) {
      const svcName = slice.metadata?.labels?.['kubernetes.io/service-name'] ?? '';
      return { object: slice, service: serviceKey(slice.metadata!.namespace!, svcName) };
    }
    throw asApiError(err, where);
  }
}

/** The Kubernetes objects in force and the services made from them. */
export class K8sServiceSource {
  private readonly services = new Map<string, StoredService>();
  private readonly slices = new Map<string, StoredSlice>();
  /** Service key → keys of its slices. */
  private readonly slicesOf = new Map<string, Set<string>>();

  constructor(
    private readonly manager: ServiceManager,
    private readonly endpoints: EndpointSource,
    private readonly defaultAlgorithm: () => LbAlgorithm,
  ) {}

  /**
   * Validates storing `objects` (and removing the services and slices in `removals`, by key) and
   * computes every service they affect. Throws ApiError (400 bad object, 409 conflict) before
   * anything changes; `where(key)` says where an object came from, for messages.
   */
  prepare(objects: K8sObjects, removals: { services: readonly string[]; slices: readonly string[] }, where: (key: string) => string): PreparedK8sChange {
    // The view after the change, without touching the current one.
    const services = new Map(this.services);
    const slicesOf = new Map<string, Set<string>>();
    const affected = new Set<string>();
    const moveSlice = (sliceKey: string, next: StoredSlice | undefined): void => {
      const old = this.slices.get(sliceKey);
      for (const s of [old?.service, next?.service]) {
        if (s === undefined) continue;
        affected.add(s);
        if (!slicesOf.has(s)) slicesOf.set(s, new Set(this.slicesOf.get(s)));
      }
      if (old) slicesOf.get(old.service)!.delete(sliceKey);
      if (next) slicesOf.get(next.service)!.add(sliceKey);
    };
    for (const key of removals.services) {
      services.delete(key);
      affected.add(key);
    }
    for (const key of removals.slices) moveSlice(key, undefined);
    for (const [key, s] of objects.services) {
      services.set(key, s);
      affected.add(key);
    }
    for (const [key, s] of objects.slices) moveSlice(key, s);
    const removedSlices = new Set(removals.slices);
    const sliceOf = (key: string): StoredSlice | undefined => (objects.slices.has(key) ? objects.slices.get(key) : removedSlices.has(key) ? undefined : this.slices.get(key));

    const upserts: DesiredService[] = [];
    const upsertWhere: string[] = [];
    const deletes: string[] = [];
    for (const key of affected) {
      const stored = services.get(key);
      if (!stored) {
        if (this.services.has(key)) deletes.push(key);
        continue;
      }
      const sliceKeys = slicesOf.get(key) ?? this.slicesOf.get(key) ?? new Set<string>();
      const slices = [...sliceKeys].map(sliceOf).filter((s): s is StoredSlice => s !== undefined);
      try {
        upserts.push(this.desired(stored, slices));
      } catch (err) {
        throw asApiError(err, where(key));
      }
      upsertWhere.push(where(key));
    }
    this.manager.check(upserts, deletes, 'k8s', (i) => `${upsertWhere[i]}: `);
    return {
      upserts,
      deletes,
      commit: () => {
        for (const key of removals.services) this.services.delete(key);
        for (const [key, s] of objects.services) this.services.set(key, s);
        for (const key of [...removals.slices, ...objects.slices.keys()]) {
          const old = this.slices.get(key);
          if (old) this.slicesOf.get(old.service)?.delete(key);
          this.slices.delete(key);
        }
        for (const [key, s] of objects.slices) {
          this.slices.set(key, s);
          let set = this.slicesOf.get(s.service);
          if (!set) this.slicesOf.set(s.service, (set = new Set()));
          set.add(key);
        }
        return this.manager.apply(upserts, deletes);
      },
    };
  }

  /**
   * Recomputes the selector-derived services of `namespace` whose selector matches one of `labelSets`
   * (an endpoint's labels before and after a change). Returns the services table revision.
   */
  endpointsChanged(namespace: string, labelSets: readonly Readonly<Record<string, string>>[]): Revision {
    const upserts: DesiredService[] = [];
    for (const [key, stored] of this.services) {
      const selector = stored.spec.selector;
      if (stored.spec.namespace !== namespace || !selector || this.slicesOf.get(key)?.size) continue;
      if (!labelSets.some((l) => selectorMatches(selector, l))) continue;
      upserts.push(this.desired(stored, []));
    }
    return this.manager.apply(upserts, []);
  }

  /** The Service `key` (`namespace/name`) as applied, if it is in force. */
  service(key: string): K8sService | undefined {
    return this.services.get(key)?.object;
  }

  /** The service a Service and its slices make (throws LbValidationError when they do not fit together). */
  private desired(stored: StoredService, slices: readonly StoredSlice[]): DesiredService {
    const algorithm = this.defaultAlgorithm();
    if (slices.length > 0 || !stored.spec.selector) {
      const specs = slices.flatMap((s) => (s.spec ? [s.spec] : []));
      return { service: serviceFromSpec(stored.spec, backendsFromSliceSpecs(stored.spec, specs), algorithm), source: 'k8s', backendSource: 'endpoint-slices' };
    }
    const backends = deriveBackends(stored.object, this.endpoints.inNamespace(stored.spec.namespace));
    return { service: serviceFromSpec(stored.spec, backends, algorithm), source: 'k8s', backendSource: 'selector' };
  }
}
