// Owns the decomposition of port ranges into the aligned power-of-two blocks an LPM key can hold.

/** A block of ports: the `2^(16-prefixLen)` ports starting at `port` (aligned to that size). */
export interface PortBlock {
  readonly port: number;
  readonly prefixLen: number;
}

/**
 * Splits the inclusive range [first, last] (0 ≤ first ≤ last ≤ 65535) into the fewest aligned
 * blocks: 80-83 → 80/14; 1024-65535 → 1024/6, 2048/5, 4096/4, 8192/3, 16384/2, 32768/1;
 * 0-65535 → 0/0; a single port p → p/16. Throws RangeError on a bad range.
 */
export function portBlocks(first: number, last: number): PortBlock[] {
  if (!Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last > 65535 || first > last) {
    throw new RangeError(`invalid port range ${first}-${last}`);
  }
  const out: PortBlock[] = [];
  let p = first;
  while (p <= last) {
    // The largest block that starts at p (alignment: lowest set bit of p) and ends by `last`.
    let size = p === 0 ? 65536 : p & -p;
    while (p + size - 1 > last) size >>= 1;
    out.push({ port: p, prefixLen: 16 - Math.log2(size) });
    p += size;
  }
  return out;
}

/** Whether block `outer` contains block `inner`. */
export function blockContains(outer: PortBlock, inner: PortBlock): boolean {
  if (outer.prefixLen > inner.prefixLen) return false;
  const shift = 16 - outer.prefixLen;
  return outer.port >>> shift === inner.port >>> shift;
}

/** Whether a port lies in a block. */
export function blockHas(block: PortBlock, port: number): boolean {
  return blockContains(block, { port, prefixLen: 16 });
}
