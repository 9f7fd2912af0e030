// Which backends serve a frontend and which of them may take new connections.
import type { Backend, BackendState, Frontend, Service, TrafficPolicy } from './types.js';

/**
 * The backends of `service` that serve `frontend`: same portName and protocol. Order preserved.
 */
export function backendsForFrontend(service: Service, frontend: Frontend): Backend[] {
  return service.backends.filter((b) => b.portName === frontend.portName && b.protocol === frontend.protocol);
}

/**
 * The stable identity of a backend, `address:port/PROTOCOL` (`10.244.1.5:8080/TCP`). It is the
 * same on every node (unlike backend ids, which are node-local), so Maglev hashes it.
 */
export function backendIdentity(backend: Pick<Backend, 'address' | 'port' | 'protocol'>): string {
  return `${backend.address}:${backend.port}/${backend.protocol}`;
}

/** What eligibility needs to know about a backend. */
export interface EligibilityFacts {
  readonly state: BackendState;
  readonly weight: number;
  readonly nodeName?: string;
}

/** Options of `eligibleForNewConnections`. */
export interface EligibilityOptions {
  /** `Local` keeps only backends whose nodeName equals `localNodeName`. Default `Cluster`. */
  readonly trafficPolicy?: TrafficPolicy;
  /** This node's name; backends without a nodeName are never local. */
  readonly localNodeName?: string;
  /**
   * When no active backend is eligible, fall back to `terminating` ones (kube-proxy's and
   * Cilium's behaviour for graceful termination: better a draining pod than a dropped
   * connection). Default false: terminating backends never get new connections.
   */
  readonly terminatingFallback?: boolean;
}

/**
 * The backends that may receive new connections, in input order: state `active` and weight > 0,
 * restricted to local ones under the `Local` traffic policy, with the optional terminating
 * fallback. Everything else stays known (backends map) but gets no slot / Maglev entry.
 */
export function eligibleForNewConnections<T extends EligibilityFacts>(backends: readonly T[], options: EligibilityOptions = {}): T[] {
  const local = (options.trafficPolicy ?? 'Cluster') === 'Local';
  const node = options.localNodeName;
  const candidate = (b: T): boolean => !local || (node !== undefined && b.nodeName === node);
  const active = backends.filter((b) => b.state === 'active' && b.weight > 0 && candidate(b));
  if (active.length > 0 || !options.terminatingFallback) return active;
  return backends.filter((b) => b.state === 'terminating' && b.weight > 0 && candidate(b));
}
