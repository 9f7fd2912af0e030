// IPv4 address and CIDR text: strict parsing, formatting and containment, as used by the LB model.
import { LbValidationError } from './errors.js';

/**
 * Parses dotted-quad IPv4 text into its 32-bit value (unsigned, most significant octet first).
 * Strict: exactly four decimal octets 0..255, no leading zeros (`010` is ambiguous: octal in
 * inet_aton), no whitespace. Returns undefined when the text is not such an address.
 */
export function parseIPv4(text: string): number | undefined {
  if (typeof text !== 'string' || text.length < 7 || text.length > 15) return undefined;
  // A hand-written scanner: this runs for every frontend and backend of a 10,000-service apply.
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return undefined;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return undefined; // a leading zero
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (dots !== 3 || digits === 0) return undefined;
  return value * 256 + octet;
}

/** Formats a 32-bit value (most significant octet first) as dotted-quad text. */
export function formatIPv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

/** An IPv4 prefix in canonical form (host bits zero). */
export interface Ipv4Cidr {
  /** Network address, dotted quad. */
  readonly address: string;
  /** Prefix length 0..32. */
  readonly prefixLength: number;
}

/** The netmask of a prefix length as an unsigned 32-bit value. */
export function prefixMask(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/**
 * Parses `a.b.c.d/len` (len 0..32) into canonical form.
 * @throws LbValidationError naming `field` when the text is malformed or has host bits set
 *   (`10.0.0.1/8`: the LPM map would silently widen it, so we make the user say `10.0.0.0/8`).
 */
export function parseIPv4Cidr(text: string, field: string): Ipv4Cidr {
  if (typeof text !== 'string') throw new LbValidationError(field, 'CIDR must be a string like 10.0.0.0/8');
  const slash = text.indexOf('/');
  if (slash < 0) throw new LbValidationError(field, `"${text}" is not a CIDR: missing "/<prefix length>"`);
  const address = parseIPv4(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  if (address === undefined) throw new LbValidationError(field, `"${text}" is not an IPv4 CIDR: bad address`);
  if (!/^(0|[1-9][0-9]?)$/.test(lengthText) || Number(lengthText) > 32) {
    throw new LbValidationError(field, `"${text}" is not an IPv4 CIDR: prefix length must be 0..32`);
  }
  const prefixLength = Number(lengthText);
  const network = (address & prefixMask(prefixLength)) >>> 0;
  if (network !== address) {
    throw new LbValidationError(field, `"${text}" has host bits set; did you mean ${formatIPv4(network)}/${prefixLength}?`);
  }
  return { address: formatIPv4(network), prefixLength };
}

/** Formats a CIDR as `a.b.c.d/len`. */
export function formatIPv4Cidr(cidr: Ipv4Cidr): string {
  return `${cidr.address}/${cidr.prefixLength}`;
}

/** Whether `address` (dotted quad) lies inside `cidr`; false for malformed addresses. */
export function cidrContains(cidr: Ipv4Cidr, address: string): boolean {
  const value = parseIPv4(address);
  const network = parseIPv4(cidr.address);
  if (value === undefined || network === undefined) return false;
  return ((value & prefixMask(cidr.prefixLength)) >>> 0) === network;
}
