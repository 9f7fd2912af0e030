// Bob Jenkins' lookup3 hash as the Linux kernel defines it for 1..3 words (include/linux/jhash.h),
// bit-exact, so the control plane can predict the datapath's per-packet hash.

/** The kernel's arbitrary initial value, JHASH_INITVAL. */
export const JHASH_INITVAL = 0xdeadbeef;

// All arithmetic is on 32-bit integers: `| 0` after + and - wraps like C's u32 (the bit pattern is
// what matters; the result is turned unsigned with `>>> 0` at the end).
function rol32(word: number, shift: number): number {
  return (word << shift) | (word >>> (32 - shift));
}

/**
 * __jhash_nwords: adds `initval` to each word, then applies __jhash_final and returns c.
 * The three public functions differ only in their initval.
 */
function jhashNwords(a: number, b: number, c: number, initval: number): number {
  a = (a + initval) | 0;
  b = (b + initval) | 0;
  c = (c + initval) | 0;
  // __jhash_final(a, b, c)
  c ^= b; c = (c - rol32(b, 14)) | 0;
  a ^= c; a = (a - rol32(c, 11)) | 0;
  b ^= a; b = (b - rol32(a, 25)) | 0;
  c ^= b; c = (c - rol32(b, 16)) | 0;
  a ^= c; a = (a - rol32(c, 4)) | 0;
  b ^= a; b = (b - rol32(a, 14)) | 0;
  c ^= b; c = (c - rol32(b, 24)) | 0;
  return c >>> 0;
}

/**
 * jhash_3words(a, b, c, initval) of the Linux kernel: every argument is taken modulo 2^32 and
 * the result is an unsigned 32-bit integer.
 */
export function jhash3words(a: number, b: number, c: number, initval: number): number {
  return jhashNwords(a, b, c, (initval + JHASH_INITVAL + (3 << 2)) | 0);
}

/** jhash_2words(a, b, initval) of the Linux kernel (= __jhash_nwords(a, b, 0, initval + JHASH_INITVAL + 8)). */
export function jhash2words(a: number, b: number, initval: number): number {
  return jhashNwords(a, b, 0, (initval + JHASH_INITVAL + (2 << 2)) | 0);
}

/** jhash_1word(a, initval) of the Linux kernel (= __jhash_nwords(a, 0, 0, initval + JHASH_INITVAL + 4)). */
export function jhash1word(a: number, initval: number): number {
  return jhashNwords(a, 0, 0, (initval + JHASH_INITVAL + (1 << 2)) | 0);
}
