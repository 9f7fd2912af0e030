/* Helpers of the socket load balancer (bpf_sock.c): the destination address of a cgroup sock_addr
 * hook as the programs read and write it (ports are a __be16 in the low half of a u32, IPv4 inside
 * IPv4-mapped IPv6 addresses), the per-socket hash, the reverse mapping that recvmsg and getpeername
 * use, and drop events without a packet (the tuple comes from the socket). */
#ifndef CILIA_SOCK_H
#define CILIA_SOCK_H

#include <linux/errno.h>

#include "common.h"
#include "drop.h"
#include "events.h"
#include "jhash.h"
#include "maps.h"
#include "metrics.h"

/* Verdicts of a sock_addr program: 0 fails the system call (with bpf_set_retval's error, EPERM if
 * none was set), 1 lets it go on. */
#define SYS_REJECT  0
#define SYS_PROCEED 1

/* The destination port (network order). One 4-byte load: a plain (__u16) cast lets clang emit a
 * 2-byte load of user_port, which not every kernel accepts. */
static __always_inline __be16 ctx_user_port(const struct bpf_sock_addr *ctx)
{
	volatile __u32 port = ctx->user_port;

	return (__be16)port;
}

static __always_inline void ctx_set_user_port(struct bpf_sock_addr *ctx, __be16 port)
{
	ctx->user_port = (__u32)port;
}

/* True when the hook's IPv6 address is IPv4-mapped (::ffff:a.b.c.d, what a dual-stack socket uses
 * for IPv4 peers); *v4 is then the IPv4 address. Real IPv6 addresses are left to IPv6 services. */
static __always_inline bool ctx_user_ip6_v4mapped(const struct bpf_sock_addr *ctx, __be32 *v4)
{
	if (ctx->user_ip6[0] != 0 || ctx->user_ip6[1] != 0 || ctx->user_ip6[2] != bpf_htonl(0xffff))
		return false;
	*v4 = ctx->user_ip6[3];
	return true;
}

/* The hash of a socket's request for a frontend: Maglev's lookup key, and for UDP the slot choice,
 * so every datagram an unconnected socket sends to a service reaches the same backend. pkg/datapath
 * sockLbHash computes the same. */
static __always_inline __u32 sock_lb_hash(__u64 cookie, __be32 addr, __be16 port, __u8 proto)
{
	return jhash_3words((__u32)cookie, (__u32)(cookie >> 32), bpf_ntohl(addr),
			    ((__u32)bpf_ntohs(port) << 16) | proto);
}

/* Remembers, for socket `cookie`, that `backend` stands for the frontend, so that the addresses
 * recvmsg and getpeername report are the frontend's. Writes only when the entry is missing or
 * different (most sendmsg calls repeat it). Returns 0 or the map update's error. */
static __always_inline int sock4_revnat_update(__u64 cookie, const struct lb4_backend *backend,
					       const struct lb4_key *frontend, __u16 rev_nat_index)
{
	struct ipv4_revnat_tuple key = { .cookie = cookie, .address = backend->address, .port = backend->port };
	struct ipv4_revnat_entry val = {
		.address = frontend->address, .port = frontend->dport, .rev_nat_index = rev_nat_index,
	};
	struct ipv4_revnat_entry *cur = bpf_map_lookup_elem(&cilia_lb4_reverse_sk, &key);

	if (cur && cur->address == val.address && cur->port == val.port &&
	    cur->rev_nat_index == val.rev_nat_index)
		return 0;
	return bpf_map_update_elem(&cilia_lb4_reverse_sk, &key, &val, BPF_ANY);
}

/* A drop event for a socket system call: no packet, so no length, ifindex or endpoint; the tuple is
 * the socket's (source as far as it is bound) to the frontend it asked for; `hash` carries the low
 * 32 bits of the socket cookie. `reason` is positive. */
static __always_inline void sock_drop_event(const struct bpf_sock_addr *ctx, __u64 cookie,
					    const struct lb4_key *frontend, __u8 reason, __u16 line)
{
	struct bpf_sock *sk = ctx->sk;
	struct cilia_event ev;

	__builtin_memset(&ev, 0, sizeof(ev));
	ev.type = EVENT_DROP;
	ev.subtype = reason;
	ev.dir = DIR_EGRESS;
	ev.file = FILE_ID_BPF_SOCK;
	ev.line = line;
	ev.proto = frontend->proto;
	ev.daddr = frontend->address;
	ev.dport = frontend->dport;
	ev.hash = (__u32)cookie;
	ev.ktime_ns = bpf_ktime_get_ns();
	if (sk) {
		ev.saddr = sk->src_ip4;
		ev.sport = bpf_htons((__u16)sk->src_port);
	}
	event_submit(&ev);
}

#endif /* CILIA_SOCK_H */
