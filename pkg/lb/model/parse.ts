// Parsers for the CLI forms of load-balancer objects: `IP:PORT[/proto]`, backend lists, `clientip:SECONDS`.
import { checkIntegerInRange, checkPort, checkUnicastIPv4 } from './checks.js';
import { LbValidationError } from './errors.js';
import {
  DEFAULT_AFFINITY_TIMEOUT_SECONDS,
  MAX_AFFINITY_TIMEOUT_SECONDS,
  MAX_BACKEND_WEIGHT,
  PROTOCOLS,
  type BackendInput,
  type FrontendInput,
  type Protocol,
  type SessionAffinity,
} from './types.js';

const ENDPOINT = /^([^:/@]+):([^:/@]+)(?:\/([^:/@]*))?(?:@([^:/@]*))?$/;

interface ParsedEndpoint {
  readonly address: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly weight?: number;
}

function parseEndpoint(text: string, field: string, defaultProtocol: Protocol, allowWeight: boolean): ParsedEndpoint {
  const form = allowWeight ? 'IP:PORT[/tcp|udp|sctp][@WEIGHT]' : 'IP:PORT[/tcp|udp|sctp]';
  const match = ENDPOINT.exec(typeof text === 'string' ? text.trim() : '');
  if (!match || (!allowWeight && match[4] !== undefined)) throw new LbValidationError(field, `"${text}" is not of the form ${form}`);
  const [, addressText, portText, protocolText, weightText] = match;
  const address = checkUnicastIPv4(addressText, field);
  if (!/^[0-9]+$/.test(portText)) throw new LbValidationError(field, `port "${portText}" is not a number`);
  const port = checkPort(Number(portText), field);
  let protocol = defaultProtocol;
  if (protocolText !== undefined) {
    const upper = protocolText.toUpperCase();
    if (!(PROTOCOLS as readonly string[]).includes(upper)) {
      throw new LbValidationError(field, `unknown protocol "${protocolText}"; expected tcp, udp or sctp`);
    }
    protocol = upper as Protocol;
  }
  if (weightText === undefined) return { address, port, protocol };
  if (!/^[0-9]+$/.test(weightText)) throw new LbValidationError(field, `weight "${weightText}" is not a number`);
  return { address, port, protocol, weight: checkIntegerInRange(Number(weightText), 0, MAX_BACKEND_WEIGHT, field, 'weight') };
}

/**
 * Parses a frontend `IP:PORT[/tcp|udp|sctp]` (protocol case-insensitive, default TCP), e.g.
 * `10.96.0.10:53/udp`.
 * @param field name used in errors, e.g. `--frontend`
 * @throws LbValidationError naming `field`
 */
export function parseFrontend(text: string, field = 'frontend'): FrontendInput {
  const { address, port, protocol } = parseEndpoint(text, field, 'TCP', false);
  return { address, port, protocol };
}

/**
 * Parses one backend `IP:PORT[/tcp|udp|sctp][@WEIGHT]`, e.g. `10.244.1.5:8080@3`.
 * @param defaultProtocol protocol when none is written (pass the frontend's so `--backends` need not repeat it)
 * @throws LbValidationError naming `field`
 */
export function parseBackend(text: string, field = 'backend', defaultProtocol: Protocol = 'TCP'): BackendInput {
  const { address, port, protocol, weight } = parseEndpoint(text, field, defaultProtocol, true);
  return weight === undefined ? { address, port, protocol } : { address, port, protocol, weight };
}

/**
 * Parses a comma-separated backend list (`10.244.1.5:8080,10.244.2.7:8080@2`); blanks around
 * items are ignored, an empty or all-blank string is the empty list, an empty item is an error.
 * Errors name the item: `backends[1]`.
 * @throws LbValidationError
 */
export function parseBackendList(text: string, field = 'backends', defaultProtocol: Protocol = 'TCP'): BackendInput[] {
  if (typeof text !== 'string') throw new LbValidationError(field, 'must be a comma-separated list of IP:PORT');
  if (text.trim() === '') return [];
  return text.split(',').map((item, i) => {
    if (item.trim() === '') throw new LbValidationError(`${field}[${i}]`, 'empty item in the backend list');
    return parseBackend(item, `${field}[${i}]`, defaultProtocol);
  });
}

/**
 * Parses session affinity: `none` → undefined (no affinity), `clientip` → the default 10800 s,
 * `clientip:SECONDS` → SECONDS (1..86400). Case-insensitive.
 * @throws LbValidationError naming `field`
 */
export function parseSessionAffinity(text: string, field = 'sessionAffinity'): SessionAffinity | undefined {
  const normalized = typeof text === 'string' ? text.trim().toLowerCase() : '';
  if (normalized === 'none') return undefined;
  const match = /^clientip(?::([0-9]+))?$/.exec(normalized);
  if (!match) throw new LbValidationError(field, `"${text}" is not of the form none | clientip[:SECONDS]`);
  const timeoutSeconds =
    match[1] === undefined
      ? DEFAULT_AFFINITY_TIMEOUT_SECONDS
      : checkIntegerInRange(Number(match[1]), 1, MAX_AFFINITY_TIMEOUT_SECONDS, field, 'affinity timeout');
  return { timeoutSeconds };
}
