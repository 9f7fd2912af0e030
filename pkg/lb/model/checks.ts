// Field-level checks shared by the model validator, the CLI parsers and the Kubernetes translation.
// Each returns the checked value or throws LbValidationError naming the field.
import { LbValidationError } from './errors.js';
import { parseIPv4 } from './ipv4.js';
import { PROTOCOLS, type Protocol } from './types.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * A unicast IPv4 address usable as a frontend or backend: dotted quad, not 0.0.0.0, not
 * 255.255.255.255, not multicast (224.0.0.0/4).
 * @throws LbValidationError naming `field`
 */
export function checkUnicastIPv4(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new LbValidationError(field, 'address must be a dotted-quad IPv4 string');
  const parsed = parseIPv4(value);
  if (parsed === undefined) throw new LbValidationError(field, `"${value}" is not an IPv4 address`);
  if (parsed === 0) throw new LbValidationError(field, '0.0.0.0 is not a usable address');
  if (parsed === 0xffffffff) throw new LbValidationError(field, '255.255.255.255 is not a usable address');
  if (parsed >>> 28 === 0xe) throw new LbValidationError(field, `${value} is a multicast address`);
  return value;
}

/**
 * A port number 1..65535 (integer).
 * @throws LbValidationError naming `field`
 */
export function checkPort(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new LbValidationError(field, `port must be an integer 1..65535, got ${JSON.stringify(value)}`);
  }
  if (value < 1 || value > 65535) throw new LbValidationError(field, `port ${value} is out of range 1..65535`);
  return value;
}

/**
 * One of TCP, UDP, SCTP (exact, upper case: the model's spelling and Kubernetes').
 * @throws LbValidationError naming `field`
 */
export function checkProtocol(value: unknown, field: string): Protocol {
  if (typeof value === 'string' && (PROTOCOLS as readonly string[]).includes(value)) return value as Protocol;
  throw new LbValidationError(field, `unknown protocol ${JSON.stringify(value)}; expected one of ${PROTOCOLS.join(', ')}`);
}

/**
 * An RFC 1123 DNS label: lower-case alphanumerics and '-', starting and ending alphanumeric,
 * at most 63 characters (Kubernetes names, namespaces and port names).
 * @throws LbValidationError naming `field`
 */
export function checkDnsLabel(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new LbValidationError(field, 'must be a non-empty string');
  if (value.length > 63) throw new LbValidationError(field, `"${value}" is longer than 63 characters`);
  if (!DNS_LABEL.test(value)) {
    throw new LbValidationError(field, `"${value}" is not a DNS label (lower-case letters, digits and '-', alphanumeric at both ends)`);
  }
  return value;
}

/**
 * An integer in [min, max].
 * @throws LbValidationError naming `field`
 */
export function checkIntegerInRange(value: unknown, min: number, max: number, field: string, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new LbValidationError(field, `${what} must be an integer ${min}..${max}, got ${JSON.stringify(value)}`);
  }
  if (value < min || value > max) throw new LbValidationError(field, `${what} ${value} is out of range ${min}..${max}`);
  return value;
}

/**
 * Whether `value` is an array, for input arriving from JSON. Unlike Array.isArray it does not
 * narrow, so a typed `readonly T[]` keeps its element type instead of becoming `any[]`.
 */
export function isArrayValue(value: unknown): boolean {
  return Array.isArray(value);
}
