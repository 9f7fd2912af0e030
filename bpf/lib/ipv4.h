/* IPv4 header: parsing into a flow4, fragments, and the TTL decrement of a routed hop. */
#ifndef CILIA_IPV4_H
#define CILIA_IPV4_H

#include "common.h"
#include "drop.h"
#include "flow.h"

#define IPV4_L3_OFF          ETH_HLEN
#define IPV4_CSUM_OFF        (IPV4_L3_OFF + offsetof(struct iphdr, check))
#define IPV4_TTL_OFF         (IPV4_L3_OFF + offsetof(struct iphdr, ttl))
#define IPV4_SADDR_OFF       (IPV4_L3_OFF + offsetof(struct iphdr, saddr))
#define IPV4_DADDR_OFF       (IPV4_L3_OFF + offsetof(struct iphdr, daddr))
#define IPV4_FRAG_OFFSET_MASK 0x1fff
#define IPV4_MIN_IHL         5
#define IPV4_IHL_UNIT        4 /* ihl counts 32-bit words */

/* Fills addresses, protocol, TTL and the L4 offset of `f`. Returns -DROP_INVALID for a truncated
 * header or one that is not IPv4, -DROP_FRAG_NOSUPPORT for a non-first fragment (it carries no L4
 * header, so neither conntrack nor policy could look at it). */
static __always_inline int ipv4_parse(const struct __sk_buff *ctx, struct flow4 *f)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + IPV4_L3_OFF;

	if ((void *)(ip + 1) > data_end)
		return -DROP_INVALID;
	if (ip->version != 4 || ip->ihl < IPV4_MIN_IHL)
		return -DROP_INVALID;
	f->saddr = ip->saddr;
	f->daddr = ip->daddr;
	f->proto = ip->protocol;
	f->ttl = ip->ttl;
	f->l4_off = IPV4_L3_OFF + ip->ihl * IPV4_IHL_UNIT;
	if (ip->frag_off & bpf_htons(IPV4_FRAG_OFFSET_MASK))
		return -DROP_FRAG_NOSUPPORT;
	return 0;
}

/* Decrements the TTL (the packet takes a routed hop the host stack no longer sees) and fixes the
 * header checksum. -DROP_TTL_EXCEEDED when it would reach 0. */
static __always_inline int ipv4_dec_ttl(struct __sk_buff *ctx, const struct flow4 *f)
{
	__u8 ttl = f->ttl - 1;

	if (f->ttl <= 1)
		return -DROP_TTL_EXCEEDED;
	/* TTL is the high byte of the 16-bit word it shares with the protocol byte. */
	if (bpf_l3_csum_replace(ctx, IPV4_CSUM_OFF, bpf_htons((__u16)f->ttl << 8),
				bpf_htons((__u16)ttl << 8), sizeof(__u16)) < 0)
		return -DROP_CSUM_L3;
	if (bpf_skb_store_bytes(ctx, IPV4_TTL_OFF, &ttl, sizeof(ttl), 0) < 0)
		return -DROP_WRITE_ERROR;
	return 0;
}

#endif /* CILIA_IPV4_H */
