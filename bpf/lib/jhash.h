/* Bob Jenkins' lookup3 hash for three words, exactly as Linux include/linux/jhash.h defines
 * jhash_3words: the Maglev hash of a flow must equal what the agent (pkg/lb) computes. */
#ifndef CILIA_JHASH_H
#define CILIA_JHASH_H

#include "common.h"

#define JHASH_INITVAL 0xdeadbeef

static __always_inline __u32 rol32(__u32 word, unsigned int shift)
{
	return (word << shift) | (word >> ((-shift) & 31));
}

/* __jhash_final: final mixing of three 32-bit values into c. */
#define __jhash_final(a, b, c)          \
	do {                            \
		c ^= b; c -= rol32(b, 14); \
		a ^= c; a -= rol32(c, 11); \
		b ^= a; b -= rol32(a, 25); \
		c ^= b; c -= rol32(b, 16); \
		a ^= c; a -= rol32(c, 4);  \
		b ^= a; b -= rol32(a, 14); \
		c ^= b; c -= rol32(b, 24); \
	} while (0)

static __always_inline __u32 jhash_3words(__u32 a, __u32 b, __u32 c, __u32 initval)
{
	/* __jhash_nwords with the length term of 3 words. */
	initval += JHASH_INITVAL + (3 << 2);
	a += initval;
	b += initval;
	c += initval;
	__jhash_final(a, b, c);
	return c;
}

#endif /* CILIA_JHASH_H */
