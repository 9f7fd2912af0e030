/* Rewriting IPv4 addresses and L4 ports with incremental checksum fixes (RFC 1624, through the
 * kernel's csum helpers): the IP header checksum covers the addresses, the TCP and UDP checksums
 * cover them too through the pseudo header, and cover the ports directly. ICMP has no pseudo header. */
#ifndef CILIA_CSUM_H
#define CILIA_CSUM_H

#include "common.h"
#include "drop.h"
#include "flow.h"
#include "ipv4.h"

/* Offset of the L4 checksum and the flags its updates need; false when the protocol has none that
 * covers addresses or ports. A UDP checksum of 0 means "none" and must stay 0 (BPF_F_MARK_MANGLED_0
 * leaves it alone and turns a computed 0 into 0xffff). */
static __always_inline bool l4_csum_at(const struct flow4 *f, __u32 *off, __u64 *flags)
{
	switch (f->proto) {
	case IPPROTO_TCP:
		*off = f->l4_off + offsetof(struct tcphdr, check);
		*flags = 0;
		return true;
	case IPPROTO_UDP:
		*off = f->l4_off + offsetof(struct udphdr, check);
		*flags = BPF_F_MARK_MANGLED_0;
		return true;
	default:
		return false;
	}
}

/* Replaces the IPv4 address at `addr_off` (IPV4_SADDR_OFF or IPV4_DADDR_OFF), `from` -> `to`. */
static __always_inline int csum_rewrite_addr(struct __sk_buff *ctx, const struct flow4 *f,
					     __u32 addr_off, __be32 from, __be32 to)
{
	__u64 flags;
	__u32 off;

	if (l4_csum_at(f, &off, &flags) &&
	    bpf_l4_csum_replace(ctx, off, from, to, flags | BPF_F_PSEUDO_HDR | sizeof(to)) < 0)
		return -DROP_CSUM_L4;
	if (bpf_l3_csum_replace(ctx, IPV4_CSUM_OFF, from, to, sizeof(to)) < 0)
		return -DROP_CSUM_L3;
	if (bpf_skb_store_bytes(ctx, addr_off, &to, sizeof(to), 0) < 0)
		return -DROP_WRITE_ERROR;
	return 0;
}

/* Replaces a TCP/UDP port at `port_off` from the L4 header start (0 source, 2 destination). */
static __always_inline int csum_rewrite_port(struct __sk_buff *ctx, const struct flow4 *f,
					     __u32 port_off, __be16 from, __be16 to)
{
	__u64 flags;
	__u32 off;

	if (!l4_csum_at(f, &off, &flags))
		return 0;
	if (bpf_l4_csum_replace(ctx, off, from, to, flags | sizeof(to)) < 0)
		return -DROP_CSUM_L4;
	if (bpf_skb_store_bytes(ctx, f->l4_off + port_off, &to, sizeof(to), 0) < 0)
		return -DROP_WRITE_ERROR;
	return 0;
}

#define L4_SPORT_OFF 0
#define L4_DPORT_OFF 2

/* DNAT: destination address and port to `addr`:`port`; updates `f` to match the packet. */
static __always_inline int csum_dnat(struct __sk_buff *ctx, struct flow4 *f, __be32 addr, __be16 port)
{
	int ret;

	if (f->daddr != addr) {
		ret = csum_rewrite_addr(ctx, f, IPV4_DADDR_OFF, f->daddr, addr);
		if (ret < 0)
			return ret;
		f->daddr = addr;
	}
	if (f->dport != port) {
		ret = csum_rewrite_port(ctx, f, L4_DPORT_OFF, f->dport, port);
		if (ret < 0)
			return ret;
		f->dport = port;
	}
	return 0;
}

/* Reverse NAT of a reply: source address and port to `addr`:`port`; updates `f`. */
static __always_inline int csum_snat(struct __sk_buff *ctx, struct flow4 *f, __be32 addr, __be16 port)
{
	int ret;

	if (f->saddr != addr) {
		ret = csum_rewrite_addr(ctx, f, IPV4_SADDR_OFF, f->saddr, addr);
		if (ret < 0)
			return ret;
		f->saddr = addr;
	}
	if (f->sport != port) {
		ret = csum_rewrite_port(ctx, f, L4_SPORT_OFF, f->sport, port);
		if (ret < 0)
			return ret;
		f->sport = port;
	}
	return 0;
}

#endif /* CILIA_CSUM_H */
