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
  const out: Backend[] = [];
  // Position in `out` by identity, built only once a service has many backends (a linear scan is
  // cheaper for the usual handful, and allocates nothing).
  let index: Map<string, number> | undefined;
  for (const slice of slices) {
    for (const servicePort of spec.ports) {
      const slicePort = slice.ports.find((p) => p.name === servicePort.name && p.protocol === servicePort.protocol);
      if (slicePort === undefined) continue;
      for (const e of slice.endpoints) {
        let at = -1;
        if (index) {
          at = index.get(`${servicePort.name}|${e.address}:${slicePort.port}/${servicePort.protocol}`) ?? -1;
        } else {
          for (let i = 0; i < out.length && at < 0; i++) {
            const b = out[i];
            if (b.address === e.address && b.port === slicePort.port && b.portName === servicePort.name && b.protocol === servicePort.protocol) at = i;
          }
        }
        if (at >= 0 && (out[at].state === 'active' || e.state !== 'active')) continue;
        const b: Backend =
          e.nodeName === undefined
            ? { address: e.address, port: slicePort.port, protocol: servicePort.protocol, portName: servicePort.name, weight: 1, state: e.state }
            : { address: e.address, port: slicePort.port, protocol: servicePort.protocol, portName: servicePort.name, weight: 1, state: e.state, nodeName: e.nodeName };
        if (at >= 0) {
          out[at] = b;
          continue;
        }
        out.push(b);
        if (index) index.set(`${b.portName}|${b.address}:${b.port}/${b.protocol}`, out.length - 1);
        else if (out.length > 16) index = new Map(out.map((x, i) => [`${x.portName}|${x.address}:${x.port}/${x.protocol}`, i]));
      }
    }
  }
  return sortBackends(out);
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
  const frontends = spec.ports.map((p) => ({ address: spec.clusterIP, port: p.port, protocol: p.protocol, portName: p.name }));
  const algorithm = spec.algorithm ?? defaultAlgorithm;
  return spec.sessionAffinity === undefined
    ? { name: spec.name, namespace: spec.namespace, type: 'ClusterIP', frontends, sourceRanges: NO_RANGES, trafficPolicy: spec.trafficPolicy, algorithm, backends }
    : { name: spec.name, namespace: spec.namespace, type: 'ClusterIP', frontends, sessionAffinity: spec.sessionAffinity, sourceRanges: NO_RANGES, trafficPolicy: spec.trafficPolicy, algorithm, backends };
}

/** Source ranges of a ClusterIP service from Kubernetes: none (shared, frozen). */
const NO_RANGES: readonly string[] = Object.freeze([]);

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
  /** Service key → keys of its slices (arrays: almost every service has one). */
  private readonly slicesOf = new Map<string, string[]>();

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
    // The view after the change, without touching (or copying) the current one.
    const removedServices = new Set(removals.services);
    const removedSlices = new Set(removals.slices);
    const serviceAfter = (key: string): StoredService | undefined => objects.services.get(key) ?? (removedServices.has(key) ? undefined : this.services.get(key));
    const sliceAfter = (key: string): StoredSlice | undefined => objects.slices.get(key) ?? (removedSlices.has(key) ? undefined : this.slices.get(key));
    // Every service whose Service object or set of slices changes, and the slices the input gives each.
    const affected = new Set<string>(removals.services);
    objects.services.forEach((_, key) => affected.add(key));
    for (const key of removals.slices) {
      const old = this.slices.get(key);
      if (old) affected.add(old.service);
    }
    const incoming = new Map<string, StoredSlice[]>();
    objects.slices.forEach((sl, key) => {
      const old = this.slices.get(key);
      if (old) affected.add(old.service);
      affected.add(sl.service);
      const list = incoming.get(sl.service);
      if (list) list.push(sl);
      else incoming.set(sl.service, [sl]);
    });

    const upserts: DesiredService[] = [];
    const upsertKeys: string[] = [];
    const deletes: string[] = [];
    for (const key of affected) {
      const stored = serviceAfter(key);
      if (!stored) {
        if (this.services.has(key)) deletes.push(key);
        continue;
      }
      // Its slices after the change: current ones that still name it (in their new version), then new ones.
      const current = this.slicesOf.get(key);
      const slices: StoredSlice[] = [];
      if (current) {
        for (const k of current) {
          const sl = sliceAfter(k);
          if (sl?.service === key) slices.push(sl);
        }
      }
      for (const sl of incoming.get(key) ?? []) {
        // A slice that already named this service came through `current`.
        if (current?.includes(serviceKey(sl.object.metadata!.namespace!, sl.object.metadata!.name!))) continue;
        slices.push(sl);
      }
      try {
        upserts.push(this.desired(stored, slices));
      } catch (err) {
        throw asApiError(err, where(key));
      }
      upsertKeys.push(key);
    }
    this.manager.check(upserts, deletes, 'k8s', (i) => `${where(upsertKeys[i])}: `);
    return {
      upserts,
      deletes,
      commit: () => {
        for (const key of removals.services) this.services.delete(key);
        objects.services.forEach((sl, key) => this.services.set(key, sl));
        const unlink = (key: string): void => {
          const old = this.slices.get(key);
          if (!old) return;
          const keys = this.slicesOf.get(old.service);
          const i = keys ? keys.indexOf(key) : -1;
          if (i >= 0) keys!.splice(i, 1);
          if (keys && !keys.length) this.slicesOf.delete(old.service);
          this.slices.delete(key);
        };
        for (const key of removals.slices) unlink(key);
        objects.slices.forEach((sl, key) => {
          unlink(key);
          this.slices.set(key, sl);
          const keys = this.slicesOf.get(sl.service);
          if (keys) keys.push(key);
          else this.slicesOf.set(sl.service, [key]);
        });
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
      if (stored.spec.namespace !== namespace || !selector || this.slicesOf.has(key)) continue;
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
      const specs: EndpointSliceSpec[] = [];
      for (const sl of slices) if (sl.spec) specs.push(sl.spec);
      return { service: serviceFromSpec(stored.spec, backendsFromSliceSpecs(stored.spec, specs), algorithm), source: 'k8s', backendSource: 'endpoint-slices' };
    }
    const backends = deriveBackends(stored.object, this.endpoints.inNamespace(stored.spec.namespace));
    return { service: serviceFromSpec(stored.spec, backends, algorithm), source: 'k8s', backendSource: 'selector' };
  }
}
