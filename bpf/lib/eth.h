/* Ethernet: the ethertype of a packet and the MAC rewrite of local delivery. */
#ifndef CILIA_ETH_H
#define CILIA_ETH_H

#include "common.h"
#include "drop.h"

/* The packet's ethertype (network order) in *proto; -DROP_INVALID when shorter than a header. */
static __always_inline int eth_proto(const struct __sk_buff *ctx, __be16 *proto)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return -DROP_INVALID;
	*proto = eth->h_proto;
	return 0;
}

/* Sets destination and source MAC. Both point at ETH_ALEN bytes (map values are fine). */
static __always_inline int eth_rewrite_macs(struct __sk_buff *ctx, const __u8 *dst, const __u8 *src)
{
	if (bpf_skb_store_bytes(ctx, offsetof(struct ethhdr, h_dest), dst, ETH_ALEN, 0) < 0 ||
	    bpf_skb_store_bytes(ctx, offsetof(struct ethhdr, h_source), src, ETH_ALEN, 0) < 0)
		return -DROP_WRITE_ERROR;
	return 0;
}

#endif /* CILIA_ETH_H */
