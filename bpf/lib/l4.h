/* L4 parsing into a flow4: TCP and UDP ports and flags, ICMP echo ids, and for ICMP errors the
 * tuple of the quoted packet, which conntrack uses to relate the error to a connection. */
#ifndef CILIA_L4_H
#define CILIA_L4_H

#include "common.h"
#include "drop.h"
#include "flow.h"
#include "ipv4.h"

#define TCP_FLAGS_OFF 13 /* byte of the TCP header holding FIN..CWR */

/* The quoted packet of an ICMP error: its IP header and at least its first 8 bytes (RFC 792). */
static __always_inline int icmp_parse_inner(const struct __sk_buff *ctx, struct flow4 *f)
{
	__u32 off = f->l4_off + sizeof(struct icmphdr);
	struct ipv4_ct_tuple *t = &f->inner;
	struct icmphdr ih;
	struct iphdr ip;
	__be16 ports[2];

	if (bpf_skb_load_bytes(ctx, off, &ip, sizeof(ip)) < 0)
		return -DROP_CT_INVALID_HDR;
	if (ip.version != 4 || ip.ihl < IPV4_MIN_IHL)
		return -DROP_CT_INVALID_HDR;
	t->saddr = ip.saddr;
	t->daddr = ip.daddr;
	t->nexthdr = ip.protocol;
	off += ip.ihl * IPV4_IHL_UNIT;
	switch (ip.protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		if (bpf_skb_load_bytes(ctx, off, ports, sizeof(ports)) < 0)
			return -DROP_CT_INVALID_HDR;
		t->sport = ports[0];
		t->dport = ports[1];
		break;
	case IPPROTO_ICMP:
		if (bpf_skb_load_bytes(ctx, off, &ih, sizeof(ih)) < 0)
			return -DROP_CT_INVALID_HDR;
		if (ih.type == ICMP_ECHO)
			t->sport = ih.un.echo.id;
		else if (ih.type == ICMP_ECHOREPLY)
			t->dport = ih.un.echo.id;
		else
			return -DROP_UNKNOWN_ICMP4_TYPE; /* an error about an error */
		break;
	default:
		return -DROP_UNKNOWN_ICMP4_TYPE; /* quotes a protocol conntrack does not track */
	}
	f->icmp_error = 1;
	return 0;
}

/* Reads ports, TCP flags or the ICMP header. -DROP_CT_INVALID_HDR for a truncated header,
 * -DROP_CT_UNKNOWN_PROTO for protocols other than TCP, UDP and ICMP, -DROP_UNKNOWN_ICMP4_TYPE for
 * ICMP other than echo, echo reply and the errors (unreachable, source quench, time exceeded,
 * parameter problem). */
static __always_inline int l4_parse(const struct __sk_buff *ctx, struct flow4 *f)
{
	struct tcphdr th;
	struct icmphdr ih;
	__be16 ports[2];

	switch (f->proto) {
	case IPPROTO_TCP:
		/* The whole fixed header must be there, even though only ports and flags are used. */
		if (bpf_skb_load_bytes(ctx, f->l4_off, &th, sizeof(th)) < 0)
			return -DROP_CT_INVALID_HDR;
		f->sport = th.source;
		f->dport = th.dest;
		f->tcp_flags = ((__u8 *)&th)[TCP_FLAGS_OFF];
		return 0;
	case IPPROTO_UDP:
		if (bpf_skb_load_bytes(ctx, f->l4_off, ports, sizeof(ports)) < 0 ||
		    f->l4_off + sizeof(struct udphdr) > ctx->len)
			return -DROP_CT_INVALID_HDR;
		f->sport = ports[0];
		f->dport = ports[1];
		return 0;
	case IPPROTO_ICMP:
		if (bpf_skb_load_bytes(ctx, f->l4_off, &ih, sizeof(ih)) < 0)
			return -DROP_CT_INVALID_HDR;
		f->icmp_type = ih.type;
		f->icmp_code = ih.code;
		switch (ih.type) {
		case ICMP_ECHO:
			f->sport = ih.un.echo.id;
			return 0;
		case ICMP_ECHOREPLY:
			/* Swapped so that the reply's reversed tuple is the request's tuple. */
			f->dport = ih.un.echo.id;
			return 0;
		case ICMP_DEST_UNREACH:
		case ICMP_SOURCE_QUENCH:
		case ICMP_TIME_EXCEEDED:
		case ICMP_PARAMETERPROB:
			return icmp_parse_inner(ctx, f);
		default:
			return -DROP_UNKNOWN_ICMP4_TYPE;
		}
	default:
		return -DROP_CT_UNKNOWN_PROTO;
	}
}

#endif /* CILIA_L4_H */
