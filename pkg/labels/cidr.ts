// Owns IP prefixes as policy sees them: parsing, containment, and the `cidr:` labels and
// selectors through which CIDR rules select CIDR identities.
import { LabelSource, label } from './label.js';
import { LabelSet } from './label-set.js';
import { EndpointSelector, type Requirement } from './selector.js';
import { reservedLabel } from './reserved.js';

/** An IP prefix with its host bits cleared. `address` holds the 32 (IPv4) or 128 (IPv6) bits. */
export interface IpPrefix {
  readonly family: 4 | 6;
  readonly address: bigint;
  readonly length: number;
}

/** Thrown by parsePrefix on malformed text. */
export class PrefixSyntaxError extends Error {
  constructor(readonly text: string, reason: string) {
    super(`invalid CIDR "${text}": ${reason}`);
    this.name = 'PrefixSyntaxError';
  }
}

const bitsOf = (family: 4 | 6): number => (family === 4 ? 32 : 128);

function parseIPv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    // Leading zeros are refused, as Go's net package does, because some tools read them as octal.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return undefined;
    v = (v << 8n) | BigInt(p);
  }
  return v;
}

function parseIPv6(text: string): bigint | undefined {
  let head = text;
  let tail4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    tail4 = parseIPv4(text.slice(lastColon + 1));
    if (tail4 === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const group = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const left = group(halves[0]);
  const right = halves.length === 2 ? group(halves[1]) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...right];
  let v = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  if (tail4 !== undefined) v = (v & ~0xffffffffn) | tail4;
  return v;
}

function formatIPv6(v: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(16 * (7 - i))) & 0xffffn));
  // RFC 5952: compress the longest run (first on ties) of two or more zero groups.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function mask(address: bigint, family: 4 | 6, length: number): bigint {
  const total = bitsOf(family);
  const hostBits = BigInt(total - length);
  return (address >> hostBits) << hostBits;
}

/**
 * Parses `address/length` (IPv4 or IPv6) and clears host bits (`10.1.2.3/8` → `10.0.0.0/8`).
 * With `allowBareAddress`, a plain address means a full-length prefix (Cilium's fromCIDR allows
 * that; Kubernetes ipBlock does not). Throws PrefixSyntaxError.
 */
export function parsePrefix(text: string, opts: { allowBareAddress?: boolean } = {}): IpPrefix {
  const slash = text.indexOf('/');
  if (slash < 0 && !opts.allowBareAddress) throw new PrefixSyntaxError(text, 'expected address/prefix-length');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const family: 4 | 6 = addrText.includes(':') ? 6 : 4;
  const address = family === 4 ? parseIPv4(addrText) : parseIPv6(addrText);
  if (address === undefined) throw new PrefixSyntaxError(text, `"${addrText}" is not an IPv${family} address`);
  let length = bitsOf(family);
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > bitsOf(family)) {
      throw new PrefixSyntaxError(text, `prefix length must be 0..${bitsOf(family)}`);
    }
    length = Number(lenText);
  }
  return Object.freeze({ family, address: mask(address, family, length), length });
}

/** Formats a prefix canonically: `10.0.0.0/8`, `2001:db8::/32`. */
export function formatPrefix(p: IpPrefix): string {
  if (p.family === 6) return `${formatIPv6(p.address)}/${p.length}`;
  const a = p.address;
  const octets = [24n, 16n, 8n, 0n].map((s) => String((a >> s) & 0xffn));
  return `${octets.join('.')}/${p.length}`;
}

/** Normalizes a prefix text to its canonical form (see parsePrefix for errors and options). */
export function canonicalPrefix(text: string, opts: { allowBareAddress?: boolean } = {}): string {
  return formatPrefix(parsePrefix(text, opts));
}

/** Whether `outer` contains `inner` (same family, shorter or equal length, same leading bits). */
export function prefixContains(outer: IpPrefix, inner: IpPrefix): boolean {
  return outer.family === inner.family && outer.length <= inner.length && mask(inner.address, inner.family, outer.length) === outer.address;
}

/** The prefix and every prefix containing it, longest first, down to /0. */
export function supernets(p: IpPrefix): IpPrefix[] {
  const out: IpPrefix[] = [];
  for (let len = p.length; len >= 0; len--) out.push(Object.freeze({ family: p.family, address: mask(p.address, p.family, len), length: len }));
  return out;
}

/**
 * The key of a prefix's `cidr:` label. IPv6 colons become '-' because ':' separates the label
 * source (Cilium does the same), and a leading or trailing '-' gets a '0' so the key stays a
 * valid label key: `::/0` → `0--0/0`, `2001:db8::/32` → `2001-db8--0/32`.
 */
export function cidrLabelKey(p: IpPrefix): string {
  const [addr, len] = formatPrefix(p).split('/') as [string, string];
  if (p.family === 4) return `${addr}/${len}`;
  let k = addr.replaceAll(':', '-');
  if (k.startsWith('-')) k = `0${k}`;
  if (k.endsWith('-')) k = `${k}0`;
  return `${k}/${len}`;
}

const asPrefix = (p: string | IpPrefix): IpPrefix => (typeof p === 'string' ? parsePrefix(p, { allowBareAddress: true }) : p);

/**
 * The labels of the CIDR identity allocated for `prefix`: `cidr:<q>` for the prefix and every
 * prefix containing it (down to /0), plus `reserved:world`. That is how a selector for
 * `cidr:10.0.0.0/8` selects the identity of 10.244.0.0/16. Throws PrefixSyntaxError on bad text.
 */
export function cidrLabels(prefix: string | IpPrefix): LabelSet {
  const p = asPrefix(prefix);
  return LabelSet.of([...supernets(p).map((q) => label(LabelSource.Cidr, cidrLabelKey(q))), reservedLabel('world')]);
}

/**
 * The selector of a CIDR rule: identities labelled `cidr:<prefix>` and none of `cidr:<except>`.
 * The excepted prefixes must be allocated CIDR identities of their own (they are part of
 * Repository.referencedPrefixes) so that addresses inside them get an identity this selector
 * does not select. Throws PrefixSyntaxError on bad text.
 */
export function cidrSelector(prefix: string | IpPrefix, except: readonly (string | IpPrefix)[] = []): EndpointSelector {
  const reqs: Requirement[] = [{ source: LabelSource.Cidr, key: cidrLabelKey(asPrefix(prefix)), operator: 'Exists', values: [] }];
  for (const e of except) reqs.push({ source: LabelSource.Cidr, key: cidrLabelKey(asPrefix(e)), operator: 'DoesNotExist', values: [] });
  return EndpointSelector.of(reqs);
}
