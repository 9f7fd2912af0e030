// The EndpointSlice controller's job, done locally: backends of a selector Service from the pods
// (endpoints) that match it, for setups without Kubernetes-made slices.
import { checkPort, checkProtocol, checkUnicastIPv4, LbValidationError, type Backend, type Protocol } from '../model/index.js';
import { sortBackends } from './endpoint-slices.js';
import { parseK8sService } from './service.js';
import type { K8sService } from './types.js';

/** A workload endpoint (typically a pod) that a Service selector may match. */
export interface SelectableEndpoint {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The endpoint's IPv4 address. */
  readonly ipv4: string;
  /** Container ports by name (targets of named targetPorts); protocol default TCP. */
  readonly namedPorts: Readonly<Record<string, { readonly port: number; readonly protocol?: Protocol }>>;
  /** Readiness; endpoints that are not ready get no backend. */
  readonly ready: boolean;
  readonly nodeName?: string;
}

/** Whether every key=value of `selector` is among `labels` (Kubernetes equality-based selection). */
export function selectorMatches(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([key, value]) => Object.hasOwn(labels, key) && labels[key] === value);
}

/**
 * Derives a selector Service's backends from endpoints, as the EndpointSlice controller would:
 * endpoints in the Service's namespace whose labels match spec.selector and that are ready. For
 * each service port the target is the numbered targetPort, or, for a named targetPort, the
 * endpoint's named port of that name and the service port's protocol; an endpoint without it is
 * skipped for that port only. A Service without a selector has no derived backends (its endpoints
 * are managed by hand). Backends: weight 1, state active, portName = service port name; duplicates
 * (e.g. host-network pods sharing an address) are merged; sorted (sortBackends).
 * @throws LbUnsupportedError / LbValidationError from parseK8sService
 * @throws LbValidationError (`endpoints[i].ipv4`, `endpoints[i].namedPorts["http"].port`) for bad endpoint data
 */
export function deriveBackends(svc: K8sService, endpoints: readonly SelectableEndpoint[]): Backend[] {
  const service = parseK8sService(svc);
  const selector = service.selector;
  if (selector === undefined) return [];
  const merged = new Map<string, Backend>();
  endpoints.forEach((endpoint, i) => {
    if (endpoint.namespace !== service.namespace || !endpoint.ready || !selectorMatches(selector, endpoint.labels ?? {})) return;
    const address = checkUnicastIPv4(endpoint.ipv4, `endpoints[${i}].ipv4`);
    for (const servicePort of service.ports) {
      let port: number;
      if (typeof servicePort.targetPort === 'number') {
        port = servicePort.targetPort;
      } else {
        const named = Object.hasOwn(endpoint.namedPorts ?? {}, servicePort.targetPort) ? endpoint.namedPorts[servicePort.targetPort] : undefined;
        if (named === undefined) continue;
        const field = `endpoints[${i}].namedPorts["${servicePort.targetPort}"]`;
        if (typeof named !== 'object' || named === null) throw new LbValidationError(field, 'must be { port, protocol? }');
        if (checkProtocol(named.protocol ?? 'TCP', `${field}.protocol`) !== servicePort.protocol) continue;
        port = checkPort(named.port, `${field}.port`);
      }
      const backend: Backend = {
        address,
        port,
        protocol: servicePort.protocol,
        portName: servicePort.name,
        weight: 1,
        state: 'active',
        ...(endpoint.nodeName === undefined ? {} : { nodeName: endpoint.nodeName }),
      };
      const key = `${backend.portName}|${address}:${port}/${backend.protocol}`;
      if (!merged.has(key)) merged.set(key, backend);
    }
  });
  return sortBackends([...merged.values()]);
}
