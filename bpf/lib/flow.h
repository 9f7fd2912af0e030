/* struct flow4: what the programs know about an IPv4 packet after parsing (ipv4.h, l4.h). Handlers
 * work on this copy; the packet itself is only changed through helpers (csum.h), so no packet
 * pointer has to survive a write. */
#ifndef CILIA_FLOW_H
#define CILIA_FLOW_H

#include "common.h"
#include "maps.h"

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_PSH 0x08
#define TCP_FLAG_ACK 0x10

struct flow4 {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;       /* TCP/UDP; ICMP echo request: the echo id; else 0 */
	__be16 dport;       /* TCP/UDP; ICMP echo reply: the echo id; else 0 */
	__u8   proto;
	__u8   tcp_flags;   /* TCP_FLAG_* of a TCP packet, else 0 */
	__u8   icmp_type;
	__u8   icmp_code;
	__u8   ttl;
	__u8   icmp_error;  /* 1: an ICMP error; `inner` is the tuple of the packet it quotes */
	__u16  l4_off;      /* offset of the L4 header from the packet start */
	struct ipv4_ct_tuple inner;
};

/* The port a policy entry matches: the destination port, for ICMP the message type. */
static __always_inline __be16 flow_policy_port(const struct flow4 *f)
{
	if (f->proto == IPPROTO_ICMP)
		return bpf_htons(f->icmp_type);
	return f->dport;
}

/* A pure SYN opens a connection; a SYN-ACK answers one. */
static __always_inline bool flow_is_syn(const struct flow4 *f)
{
	return f->proto == IPPROTO_TCP &&
	       (f->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
}

#endif /* CILIA_FLOW_H */
