// Validation and normalisation of services, frontends and backends (defaults applied, errors typed).
import { checkDnsLabel, checkIntegerInRange, checkPort, checkProtocol, checkUnicastIPv4, isArrayValue } from './checks.js';
import { LbUnsupportedError, LbValidationError } from './errors.js';
import { formatIPv4Cidr, parseIPv4Cidr } from './ipv4.js';
import {
  BACKEND_STATES,
  DEFAULT_AFFINITY_TIMEOUT_SECONDS,
  MAX_AFFINITY_TIMEOUT_SECONDS,
  MAX_BACKEND_WEIGHT,
  MAX_BACKENDS_PER_SERVICE,
  type Backend,
  type BackendInput,
  type Frontend,
  type FrontendInput,
  type LbAlgorithm,
  type Service,
  type ServiceInput,
  type TrafficPolicy,
} from './types.js';

/**
 * Validates one frontend and fills defaults (protocol TCP, portName '').
 * @param field path used in errors, e.g. `frontends[0]`
 * @throws LbValidationError naming the sub-field (`frontends[0].port`)
 */
export function validateFrontend(input: FrontendInput, field: string): Frontend {
  if (typeof input !== 'object' || input === null) throw new LbValidationError(field, 'must be an object');
  return {
    address: checkUnicastIPv4(input.address, `${field}.address`),
    port: checkPort(input.port, `${field}.port`),
    protocol: checkProtocol(input.protocol ?? 'TCP', `${field}.protocol`),
    portName: checkPortName(input.portName, `${field}.portName`),
  };
}

/**
 * Validates one backend and fills defaults (protocol TCP, portName '', weight 1, state active).
 * @param field path used in errors, e.g. `backends[3]`
 * @throws LbValidationError naming the sub-field (`backends[3].weight`)
 */
export function validateBackend(input: BackendInput, field: string): Backend {
  if (typeof input !== 'object' || input === null) throw new LbValidationError(field, 'must be an object');
  const state = input.state ?? 'active';
  if (!(BACKEND_STATES as readonly string[]).includes(state)) {
    throw new LbValidationError(`${field}.state`, `unknown state ${JSON.stringify(state)}; expected one of ${BACKEND_STATES.join(', ')}`);
  }
  const backend: Backend = {
    address: checkUnicastIPv4(input.address, `${field}.address`),
    port: checkPort(input.port, `${field}.port`),
    protocol: checkProtocol(input.protocol ?? 'TCP', `${field}.protocol`),
    portName: checkPortName(input.portName, `${field}.portName`),
    weight: checkIntegerInRange(input.weight ?? 1, 0, MAX_BACKEND_WEIGHT, `${field}.weight`, 'weight'),
    state,
  };
  if (input.nodeName === undefined) return backend;
  if (typeof input.nodeName !== 'string' || input.nodeName === '') {
    throw new LbValidationError(`${field}.nodeName`, 'must be a non-empty string when set');
  }
  return { ...backend, nodeName: input.nodeName };
}

/**
 * Validates a service and returns it normalised: defaults filled, CIDRs canonical, objects fresh.
 * Rules: name and namespace are DNS labels; type ClusterIP only; at least one frontend, no two
 * with the same address:port/protocol; affinity timeout 1..86400; source ranges valid IPv4 CIDRs
 * without host bits and without duplicates; at most 65535 backends, no two with the same
 * address:port/protocol for the same port name, each serving at least one frontend (same
 * portName and protocol). No backends at all is valid (see Service).
 * @throws LbUnsupportedError for a type other than ClusterIP
 * @throws LbValidationError naming the first offending field (`backends[2].port`)
 */
export function validateService(input: ServiceInput): Service {
  if (typeof input !== 'object' || input === null) throw new LbValidationError('service', 'must be an object');
  const name = checkDnsLabel(input.name, 'name');
  const namespace = checkDnsLabel(input.namespace ?? 'default', 'namespace');
  const type = input.type ?? 'ClusterIP';
  if (type !== 'ClusterIP') throw new LbUnsupportedError('type', `service type ${JSON.stringify(type)} is not supported; only ClusterIP is`);

  const frontends = validateFrontends(input.frontends);
  const service: Service = {
    name,
    namespace,
    type: 'ClusterIP',
    frontends,
    sourceRanges: validateSourceRanges(input.sourceRanges ?? []),
    trafficPolicy: checkOneOf<TrafficPolicy>(input.trafficPolicy ?? 'Cluster', ['Cluster', 'Local'], 'trafficPolicy'),
    algorithm: checkOneOf<LbAlgorithm>(input.algorithm ?? 'random', ['random', 'maglev'], 'algorithm'),
    backends: validateBackends(input.backends ?? [], frontends),
  };
  if (input.sessionAffinity === undefined) return service;
  if (typeof input.sessionAffinity !== 'object' || input.sessionAffinity === null) {
    throw new LbValidationError('sessionAffinity', 'must be an object like { timeoutSeconds: 10800 }');
  }
  const timeoutSeconds = checkIntegerInRange(
    input.sessionAffinity.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS,
    1,
    MAX_AFFINITY_TIMEOUT_SECONDS,
    'sessionAffinity.timeoutSeconds',
    'affinity timeout',
  );
  return { ...service, sessionAffinity: { timeoutSeconds } };
}

function validateFrontends(inputs: readonly FrontendInput[]): Frontend[] {
  if (!isArrayValue(inputs) || inputs.length === 0) throw new LbValidationError('frontends', 'a service needs at least one frontend');
  const seen = new Map<string, number>();
  return inputs.map((input, i) => {
    const frontend = validateFrontend(input, `frontends[${i}]`);
    const key = `${frontend.address}:${frontend.port}/${frontend.protocol}`;
    const first = seen.get(key);
    if (first !== undefined) throw new LbValidationError(`frontends[${i}]`, `duplicate frontend ${key} (same as frontends[${first}])`);
    seen.set(key, i);
    return frontend;
  });
}

function validateBackends(inputs: readonly BackendInput[], frontends: readonly Frontend[]): Backend[] {
  if (!isArrayValue(inputs)) throw new LbValidationError('backends', 'must be an array');
  if (inputs.length > MAX_BACKENDS_PER_SERVICE) {
    throw new LbValidationError('backends', `${inputs.length} backends exceed the limit of ${MAX_BACKENDS_PER_SERVICE} per service`);
  }
  const served = new Set(frontends.map((f) => `${f.portName}/${f.protocol}`));
  const seen = new Map<string, number>();
  return inputs.map((input, i) => {
    const backend = validateBackend(input, `backends[${i}]`);
    const key = `${backend.address}:${backend.port}/${backend.protocol}`;
    const keyWithPort = `${key} port name "${backend.portName}"`;
    const first = seen.get(keyWithPort);
    if (first !== undefined) throw new LbValidationError(`backends[${i}]`, `duplicate backend ${key} (same as backends[${first}])`);
    seen.set(keyWithPort, i);
    if (!served.has(`${backend.portName}/${backend.protocol}`)) {
      throw new LbValidationError(
        `backends[${i}]`,
        `backend ${key} with port name "${backend.portName}" serves no frontend (none has that port name and protocol)`,
      );
    }
    return backend;
  });
}

function validateSourceRanges(inputs: readonly string[]): string[] {
  if (!isArrayValue(inputs)) throw new LbValidationError('sourceRanges', 'must be an array of CIDRs');
  const seen = new Set<string>();
  return inputs.map((text, i) => {
    const canonical = formatIPv4Cidr(parseIPv4Cidr(text, `sourceRanges[${i}]`));
    if (seen.has(canonical)) throw new LbValidationError(`sourceRanges[${i}]`, `duplicate source range ${canonical}`);
    seen.add(canonical);
    return canonical;
  });
}

function checkPortName(value: unknown, field: string): string {
  if (value === undefined || value === '') return '';
  return checkDnsLabel(value, field);
}

function checkOneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new LbValidationError(field, `unknown value ${JSON.stringify(value)}; expected one of ${allowed.join(', ')}`);
}
