// Translation of a Kubernetes v1 Service (ClusterIP) into the LB model, with Kubernetes field paths in errors.
import {
  checkDnsLabel,
  checkIntegerInRange,
  checkPort,
  checkProtocol,
  checkUnicastIPv4,
  DEFAULT_AFFINITY_TIMEOUT_SECONDS,
  isArrayValue,
  LbUnsupportedError,
  LbValidationError,
  MAX_AFFINITY_TIMEOUT_SECONDS,
  parseIPv4,
  validateService,
  withFieldPrefix,
  type BackendInput,
  type LbAlgorithm,
  type Protocol,
  type Service,
  type SessionAffinity,
  type TrafficPolicy,
} from '../model/index.js';
import type { K8sService, K8sServicePort } from './types.js';

/** Cilium's per-service algorithm annotation; values `random` or `maglev`. */
export const LB_ALGORITHM_ANNOTATION = 'service.cilium.io/lb-algorithm';

/** A validated service port. */
export interface K8sPortSpec {
  /** '' when the service's only port is unnamed. */
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
  /** Target port number, or the container port name to look up per endpoint. */
  readonly targetPort: number | string;
}

/** The parts of a v1 Service that load balancing needs, validated. */
export interface K8sServiceSpec {
  readonly name: string;
  readonly namespace: string;
  /** The IPv4 cluster IP. */
  readonly clusterIP: string;
  readonly ports: readonly K8sPortSpec[];
  /** Equality-based pod selector; undefined (or empty in the API) = endpoints managed by hand. */
  readonly selector?: Readonly<Record<string, string>>;
  readonly sessionAffinity?: SessionAffinity;
  readonly trafficPolicy: TrafficPolicy;
  /** From the lb-algorithm annotation; undefined = the agent's default. */
  readonly algorithm?: LbAlgorithm;
}

// IANA_SVC_NAME (RFC 6335): at most 15 characters, lower-case alphanumerics and '-', at least one
// letter, no '-' at either end and no "--".
function checkIanaServiceName(value: string, field: string): string {
  if (value.length > 15 || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(value) || value.includes('--') || !/[a-z]/.test(value)) {
    const hint = /^[0-9]+$/.test(value) ? ' (a quoted number is a name in the API: write the port without quotes)' : '';
    throw new LbValidationError(field, `"${value}" is not a valid port name (IANA_SVC_NAME: up to 15 of a-z, 0-9, '-', with a letter)${hint}`);
  }
  return value;
}

function parsePorts(ports: readonly K8sServicePort[] | undefined): K8sPortSpec[] {
  if (!isArrayValue(ports) || ports === undefined || ports.length === 0) throw new LbValidationError('spec.ports', 'a ClusterIP service needs at least one port');
  const out: K8sPortSpec[] = [];
  for (let i = 0; i < ports.length; i++) {
    try {
      out.push(parsePort(ports[i], ports.length > 1, out));
    } catch (err) {
      throw withFieldPrefix(err, `spec.ports[${i}]`);
    }
  }
  return out;
}

/**
 * One service port, after the `before` ones (for duplicates). Errors name fields relative to the port
 * (`.port`; '' for the port itself), and earlier ports by their full path.
 */
function parsePort(p: K8sServicePort, several: boolean, before: readonly K8sPortSpec[]): K8sPortSpec {
  if (typeof p !== 'object' || p === null) throw new LbValidationError('', 'must be an object');
  const name = p.name === undefined || p.name === '' ? '' : checkDnsLabel(p.name, '.name');
  if (name === '' && several) throw new LbValidationError('.name', 'every port needs a name when a service has more than one');
  const port = checkPort(p.port, '.port');
  const protocol = checkProtocol(p.protocol ?? 'TCP', '.protocol');
  const sameName = before.findIndex((q) => q.name === name);
  if (sameName >= 0) throw new LbValidationError('.name', `duplicate port name "${name}" (same as spec.ports[${sameName}])`);
  const samePort = before.findIndex((q) => q.port === port && q.protocol === protocol);
  if (samePort >= 0) throw new LbValidationError('', `duplicate port ${port}/${protocol} (same as spec.ports[${samePort}])`);
  let targetPort: number | string = port;
  if (typeof p.targetPort === 'number') targetPort = checkPort(p.targetPort, '.targetPort');
  else if (typeof p.targetPort === 'string') targetPort = checkIanaServiceName(p.targetPort, '.targetPort');
  else if (p.targetPort !== undefined && p.targetPort !== null) throw new LbValidationError('.targetPort', 'must be a number or a port name');
  return { name, protocol, port, targetPort };
}

function pickClusterIP(spec: NonNullable<K8sService['spec']>): string {
  const { clusterIP, clusterIPs } = spec;
  if (clusterIP === 'None' || clusterIPs?.[0] === 'None') {
    throw new LbUnsupportedError('spec.clusterIP', 'headless service (clusterIP None) has no virtual IP to load-balance');
  }
  if (clusterIPs !== undefined && !isArrayValue(clusterIPs)) throw new LbValidationError('spec.clusterIPs', 'must be a list of IPs');
  if (clusterIP !== undefined && clusterIP !== '' && clusterIPs !== undefined && clusterIPs.length > 0 && clusterIPs[0] !== clusterIP) {
    throw new LbValidationError('spec.clusterIPs[0]', `must equal spec.clusterIP ${clusterIP}, got ${clusterIPs[0]}`);
  }
  const candidates: [string, string][] =
    clusterIPs !== undefined && clusterIPs.length > 0
      ? clusterIPs.map((ip, i) => [ip, `spec.clusterIPs[${i}]`])
      : clusterIP !== undefined && clusterIP !== ''
        ? [[clusterIP, 'spec.clusterIP']]
        : [];
  if (candidates.length === 0) throw new LbValidationError('spec.clusterIP', 'no cluster IP allocated yet');
  // Dual-stack services list an IPv6 address too; we serve the IPv4 one.
  const v4 = candidates.find(([ip]) => typeof ip === 'string' && !ip.includes(':'));
  if (v4 === undefined) throw new LbUnsupportedError(candidates[0][1], 'IPv6-only services are not supported');
  if (parseIPv4(v4[0]) === undefined) throw new LbValidationError(v4[1], `"${v4[0]}" is not an IPv4 address`);
  return checkUnicastIPv4(v4[0], v4[1]);
}

function parseSelector(selector: unknown): Readonly<Record<string, string>> | undefined {
  if (selector === undefined || selector === null) return undefined;
  if (typeof selector !== 'object' || Array.isArray(selector)) throw new LbValidationError('spec.selector', 'must be a map of label key to value');
  const entries = Object.entries(selector as Record<string, unknown>);
  for (const [key, value] of entries) {
    if (typeof value !== 'string') throw new LbValidationError(`spec.selector["${key}"]`, 'label value must be a string');
  }
  // An empty selector never reaches the EndpointSlice controller as "match all": the API stores it as nil.
  return entries.length === 0 ? undefined : (selector as Record<string, string>);
}

/**
 * Validates the load-balancing parts of a v1 Service.
 * Rules: kind Service (when given); metadata.name a DNS label; namespace default "default";
 * spec.type ClusterIP (default); an IPv4 cluster IP (from clusterIPs, the IPv4 one of a
 * dual-stack service, or clusterIP); ports as the API validates them (name required with more
 * than one port, unique names and port/protocol pairs, protocol default TCP, targetPort a number
 * or IANA_SVC_NAME, default = port); sessionAffinity None | ClientIP with
 * sessionAffinityConfig.clientIP.timeoutSeconds 1..86400 (default 10800); internalTrafficPolicy
 * Cluster | Local (default Cluster); annotation service.cilium.io/lb-algorithm random | maglev.
 * @throws LbUnsupportedError for other service types, headless (clusterIP None) and IPv6-only services
 * @throws LbValidationError naming the Kubernetes field path (`spec.ports[1].port`)
 */
export function parseK8sService(svc: K8sService): K8sServiceSpec {
  if (typeof svc !== 'object' || svc === null) throw new LbValidationError('service', 'must be an object');
  if (svc.kind !== undefined && svc.kind !== 'Service') throw new LbValidationError('kind', `expected Service, got ${JSON.stringify(svc.kind)}`);
  const name = checkDnsLabel(svc.metadata?.name, 'metadata.name');
  const namespace = checkDnsLabel(svc.metadata?.namespace ?? 'default', 'metadata.namespace');
  const spec = svc.spec;
  if (typeof spec !== 'object' || spec === null) throw new LbValidationError('spec', 'a Service needs a spec');
  const type = spec.type ?? 'ClusterIP';
  if (type !== 'ClusterIP') throw new LbUnsupportedError('spec.type', `service type ${JSON.stringify(type)} is not supported; only ClusterIP is`);
  const clusterIP = pickClusterIP(spec);
  const ports = parsePorts(spec.ports);

  const affinity = spec.sessionAffinity ?? 'None';
  if (affinity !== 'None' && affinity !== 'ClientIP') {
    throw new LbValidationError('spec.sessionAffinity', `unknown value ${JSON.stringify(affinity)}; expected None or ClientIP`);
  }
  const policy = spec.internalTrafficPolicy ?? 'Cluster';
  if (policy !== 'Cluster' && policy !== 'Local') {
    throw new LbValidationError('spec.internalTrafficPolicy', `unknown value ${JSON.stringify(policy)}; expected Cluster or Local`);
  }
  const algorithmText = svc.metadata?.annotations?.[LB_ALGORITHM_ANNOTATION];
  if (algorithmText !== undefined && algorithmText !== 'random' && algorithmText !== 'maglev') {
    throw new LbValidationError(`metadata.annotations["${LB_ALGORITHM_ANNOTATION}"]`, `unknown algorithm ${JSON.stringify(algorithmText)}; expected random or maglev`);
  }
  const selector = parseSelector(spec.selector);
  // Optional properties are added, not spread in: spreads of conditional objects make slow objects.
  const result: { -readonly [K in keyof K8sServiceSpec]: K8sServiceSpec[K] } = { name, namespace, clusterIP, ports, trafficPolicy: policy };
  if (selector !== undefined) result.selector = selector;
  if (algorithmText !== undefined) result.algorithm = algorithmText;
  if (affinity === 'None') return result;
  const timeoutSeconds = checkIntegerInRange(
    spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS,
    1,
    MAX_AFFINITY_TIMEOUT_SECONDS,
    'spec.sessionAffinityConfig.clientIP.timeoutSeconds',
    'affinity timeout',
  );
  result.sessionAffinity = { timeoutSeconds };
  return result;
}

/** Options of `serviceFromK8s`. */
export interface K8sTranslationOptions {
  /** Algorithm when the service has no lb-algorithm annotation (the agent's default); default `random`. */
  readonly defaultAlgorithm?: LbAlgorithm;
}

/**
 * Translates a v1 Service into the model: one frontend per service port (cluster IP, port,
 * protocol, portName = port name), the given backends (from backendsFromEndpointSlices or
 * deriveBackends, whose portName says which port each serves), no source ranges
 * (loadBalancerSourceRanges only applies to LoadBalancer services).
 * @throws LbUnsupportedError / LbValidationError as parseK8sService; LbValidationError with model
 *   paths (`backends[i]`) if a caller-made backend is invalid or serves no port
 */
export function serviceFromK8s(svc: K8sService, backends: readonly BackendInput[] = [], options: K8sTranslationOptions = {}): Service {
  const spec = parseK8sService(svc);
  return validateService({
    name: spec.name,
    namespace: spec.namespace,
    type: 'ClusterIP',
    frontends: spec.ports.map((p) => ({ address: spec.clusterIP, port: p.port, protocol: p.protocol, portName: p.name })),
    ...(spec.sessionAffinity === undefined ? {} : { sessionAffinity: spec.sessionAffinity }),
    sourceRanges: [],
    trafficPolicy: spec.trafficPolicy,
    algorithm: spec.algorithm ?? options.defaultAlgorithm ?? 'random',
    backends,
  });
}
