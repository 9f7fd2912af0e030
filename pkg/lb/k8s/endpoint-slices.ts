// Translation of discovery.k8s.io/v1 EndpointSlices into model backends: condition mapping, port
// matching against the Service's ports, and merging of the several slices of one service.
import {
  checkPort,
  checkProtocol,
  checkUnicastIPv4,
  LbUnsupportedError,
  LbValidationError,
  parseIPv4,
  sortInPlace,
  withFieldPrefix,
  type Backend,
  type Protocol,
} from '../model/index.js';
import { parseK8sService } from './service.js';
import type { K8sEndpointConditions, K8sEndpointSlice, K8sService } from './types.js';

/** The label that ties an EndpointSlice to its Service (value = the Service's name). */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/**
 * Maps an endpoint's conditions to a backend state. Defaults per the discovery/v1 API: a nil
 * `ready` or `serving` means true, a nil `terminating` means false.
 * - ready → `active` (takes new connections);
 * - not ready, but serving and terminating → `terminating` (a pod draining during graceful
 *   shutdown: no new connections, existing ones keep their backend);
 * - otherwise (not ready and not serving, or not ready and not terminating, i.e. failing its
 *   readiness probe) → undefined: not a backend at all.
 */
export function endpointState(conditions: K8sEndpointConditions | undefined): 'active' | 'terminating' | undefined {
  const ready = conditions?.ready ?? true;
  const serving = conditions?.serving ?? true;
  const terminating = conditions?.terminating ?? false;
  if (ready) return 'active';
  if (serving && terminating) return 'terminating';
  return undefined;
}

/** A usable port of a slice. */
export interface SlicePort {
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
}

/** A backend-worthy endpoint of a slice. */
export interface SliceEndpoint {
  readonly address: string;
  readonly state: 'active' | 'terminating';
  readonly nodeName?: string;
}

/** The load-balancing content of one EndpointSlice, validated. */
export interface EndpointSliceSpec {
  readonly namespace: string;
  /** Value of the kubernetes.io/service-name label. */
  readonly serviceName: string;
  /** Ports with a port number (a nil port is unusable and left out). */
  readonly ports: readonly SlicePort[];
  /** Endpoints that are backends (see endpointState); others are left out. */
  readonly endpoints: readonly SliceEndpoint[];
}

/**
 * Validates one EndpointSlice and keeps what load balancing uses: its service, its usable ports,
 * and its endpoints that are backends, each by its first address (the only one with defined
 * semantics; kube-proxy ignores the rest).
 * @throws LbUnsupportedError (`addressType`) for IPv6 and FQDN slices
 * @throws LbValidationError naming the field (`endpoints[2].addresses[0]`, `ports[0].port`,
 *   `metadata.labels["kubernetes.io/service-name"]`)
 */
export function parseEndpointSlice(slice: K8sEndpointSlice): EndpointSliceSpec {
  if (typeof slice !== 'object' || slice === null) throw new LbValidationError('endpointSlice', 'must be an object');
  if (slice.kind !== undefined && slice.kind !== 'EndpointSlice') {
    throw new LbValidationError('kind', `expected EndpointSlice, got ${JSON.stringify(slice.kind)}`);
  }
  if (slice.addressType !== 'IPv4') {
    throw new LbUnsupportedError('addressType', `address type ${JSON.stringify(slice.addressType)} is not supported; only IPv4 is`);
  }
  const serviceName = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  if (typeof serviceName !== 'string' || serviceName === '') {
    throw new LbValidationError(`metadata.labels["${SERVICE_NAME_LABEL}"]`, 'the slice names no service');
  }
  // Field paths of list elements are built only when one is at fault (withFieldPrefix).
  const ports: SlicePort[] = [];
  const slicePorts = slice.ports ?? [];
  for (let i = 0; i < slicePorts.length; i++) {
    const p = slicePorts[i];
    if (p.port === undefined || p.port === null) continue;
    try {
      ports.push({ name: p.name ?? '', port: checkPort(p.port, '.port'), protocol: checkProtocol(p.protocol ?? 'TCP', '.protocol') });
    } catch (err) {
      throw withFieldPrefix(err, `ports[${i}]`);
    }
  }
  const endpoints: SliceEndpoint[] = [];
  const sliceEndpoints = slice.endpoints ?? [];
  for (let i = 0; i < sliceEndpoints.length; i++) {
    const e = sliceEndpoints[i];
    const state = endpointState(e.conditions);
    if (state === undefined) continue;
    try {
      if (!Array.isArray(e.addresses) || e.addresses.length === 0) throw new LbValidationError('.addresses', 'an endpoint needs at least one address');
      const address = checkUnicastIPv4(e.addresses[0], '.addresses[0]');
      endpoints.push(e.nodeName ? { address, state, nodeName: e.nodeName } : { address, state });
    } catch (err) {
      throw withFieldPrefix(err, `endpoints[${i}]`);
    }
  }
  return { namespace: slice.metadata?.namespace ?? 'default', serviceName, ports, endpoints };
}

/** Sorts backends by port name, then address (numerically), then port: a stable order for reconciliation. */
export function sortBackends<T extends Pick<Backend, 'portName' | 'address' | 'port'>>(backends: T[]): T[] {
  return sortInPlace(backends, compareBackends);
}

function compareBackends(a: Pick<Backend, 'portName' | 'address' | 'port'>, b: Pick<Backend, 'portName' | 'address' | 'port'>): number {
  return (
    (a.portName < b.portName ? -1 : a.portName > b.portName ? 1 : 0) ||
    (a.address === b.address ? 0 : (parseIPv4(a.address) ?? 0) - (parseIPv4(b.address) ?? 0)) ||
    a.port - b.port
  );
}

/**
 * The backends of a Service from its EndpointSlices. Only slices in the Service's namespace whose
 * kubernetes.io/service-name label names it, with addressType IPv4, are used (others, such as the
 * IPv6 slices of a dual-stack service, are ignored), so callers may pass every slice they hold.
 * For each service port, a slice port with the same name and protocol gives the target port; each
 * backend endpoint (see endpointState) becomes one backend per matching port, with portName = the
 * service port's name, weight 1. An endpoint present in several slices (it moves between slices
 * during updates) is one backend: `active` wins over `terminating`. Output sorted (sortBackends).
 * @throws LbUnsupportedError / LbValidationError from parseK8sService (Service paths) or
 *   parseEndpointSlice (prefixed `endpointSlices[i].`)
 */
export function backendsFromEndpointSlices(svc: K8sService, slices: readonly K8sEndpointSlice[]): Backend[] {
  const service = parseK8sService(svc);
  const merged = new Map<string, Backend>();
  slices.forEach((slice, i) => {
    if (slice?.addressType !== 'IPv4') return;
    if ((slice.metadata?.namespace ?? 'default') !== service.namespace) return;
    if (slice.metadata?.labels?.[SERVICE_NAME_LABEL] !== service.name) return;
    let spec: EndpointSliceSpec;
    try {
      spec = parseEndpointSlice(slice);
    } catch (error) {
      if (error instanceof LbValidationError) {
        const Kind = error instanceof LbUnsupportedError ? LbUnsupportedError : LbValidationError;
        throw new Kind(`endpointSlices[${i}].${error.field}`, error.reason);
      }
      throw error;
    }
    for (const servicePort of service.ports) {
      const slicePort = spec.ports.find((p) => p.name === servicePort.name && p.protocol === servicePort.protocol);
      if (slicePort === undefined) continue;
      for (const endpoint of spec.endpoints) {
        const backend: Backend = {
          address: endpoint.address,
          port: slicePort.port,
          protocol: servicePort.protocol,
          portName: servicePort.name,
          weight: 1,
          state: endpoint.state,
          ...(endpoint.nodeName === undefined ? {} : { nodeName: endpoint.nodeName }),
        };
        const key = `${backend.portName}|${backend.address}:${backend.port}/${backend.protocol}`;
        const known = merged.get(key);
        if (known === undefined || (known.state !== 'active' && backend.state === 'active')) merged.set(key, backend);
      }
    }
  });
  return sortBackends([...merged.values()]);
}
