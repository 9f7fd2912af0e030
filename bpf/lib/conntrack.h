/* Connection tracking in one LRU map, keyed by the tuple of a connection's FIRST packet plus who
 * owns the entry: the sender (CT_EGRESS), the receiver (CT_INGRESS) or the service load balancer
 * (CT_SERVICE, the pre-DNAT tuple). A local pod-to-pod connection so has two entries, one per
 * endpoint, and each endpoint finds its own: a packet is looked up as-is with the owner's flag
 * (original direction) and reversed with the other flag (reply direction).
 *
 * TCP: the entry lives CFG_CT_TIMEOUT_SYN until the handshake completed (a reply was seen, then a
 * packet without SYN: CT_F_SEEN_NON_SYN), then CFG_CT_TIMEOUT_TCP. FIN marks its direction closing,
 * RST both; closing in both directions means CFG_CT_TIMEOUT_FIN. A pure SYN in the original
 * direction of a closing entry reopens it (CT_REOPENED: the caller decides like for a new
 * connection and recreates the entry). UDP and ICMP: CFG_CT_TIMEOUT_ANY. An expired entry the
 * agent did not collect yet counts as absent. */
#ifndef CILIA_CONNTRACK_H
#define CILIA_CONNTRACK_H

#include "common.h"
#include "config.h"
#include "drop.h"
#include "flow.h"
#include "maps.h"

/* Lookup results (also the `ct_state` of events), as Cilium's. */
#define CT_NEW         0
#define CT_ESTABLISHED 1
#define CT_REPLY       2
#define CT_RELATED     3
#define CT_REOPENED    4

#define CT_F_CLOSING (CT_F_TX_CLOSING | CT_F_RX_CLOSING)

struct ct_result {
	struct ipv4_ct_tuple key; /* the entry found; for CT_NEW the key a new entry gets */
	struct ct_entry *entry;   /* NULL for CT_NEW (and for CT_RELATED) */
	__u8 state;               /* CT_* */
	__u8 report;              /* monitor aggregation: send a trace for this packet */
};

static __always_inline void ct_tuple_of(struct ipv4_ct_tuple *t, __be32 saddr, __be32 daddr,
					__be16 sport, __be16 dport, __u8 proto, __u8 owner)
{
	t->saddr = saddr;
	t->daddr = daddr;
	t->sport = sport;
	t->dport = dport;
	t->nexthdr = proto;
	t->flags = owner;
	t->pad = 0;
}

static __always_inline __u8 ct_other_owner(__u8 owner)
{
	return owner == CT_EGRESS ? CT_INGRESS : CT_EGRESS;
}

static __always_inline struct ct_entry *ct_find(const struct ipv4_ct_tuple *key, __u32 now)
{
	struct ct_entry *e = bpf_map_lookup_elem(&cilia_ct4, key);

	if (e && e->lifetime < now)
		return NULL;
	return e;
}

static __always_inline __u32 ct_lifetime(const struct ct_entry *e, __u8 proto)
{
	if (proto != IPPROTO_TCP)
		return CFG_CT_TIMEOUT_ANY;
	if ((e->flags & CT_F_CLOSING) == CT_F_CLOSING)
		return CFG_CT_TIMEOUT_FIN;
	if (e->flags & CT_F_SEEN_NON_SYN)
		return CFG_CT_TIMEOUT_TCP;
	return CFG_CT_TIMEOUT_SYN;
}

/* Folds a TCP packet's flags into the entry's closing and handshake state. */
static __always_inline void ct_apply_tcp_flags(struct ct_entry *e, bool reply, __u8 tcp_flags)
{
	__u16 flags = e->flags;

	if (tcp_flags & TCP_FLAG_RST)
		flags |= CT_F_CLOSING;
	else if (tcp_flags & TCP_FLAG_FIN)
		flags |= reply ? CT_F_RX_CLOSING : CT_F_TX_CLOSING;
	if (!(tcp_flags & TCP_FLAG_SYN) && e->rx_packets)
		flags |= CT_F_SEEN_NON_SYN;
	if (flags != e->flags)
		e->flags = flags;
}

/* Counts one packet on an existing entry and renews its lifetime. Returns whether monitor
 * aggregation lets a trace through: always when off, else for TCP flags not seen before in this
 * direction. */
static __always_inline bool ct_account(struct ct_entry *e, bool reply, const struct flow4 *f,
				       __u32 len, __u32 now)
{
	bool report = !CFG_MONITOR_AGGREGATION;
	__u8 seen;

	if (reply) {
		__sync_fetch_and_add(&e->rx_packets, 1);
		__sync_fetch_and_add(&e->rx_bytes, len);
		seen = e->rx_flags_seen;
		if (f->tcp_flags & ~seen) {
			e->rx_flags_seen = seen | f->tcp_flags;
			report = true;
		}
	} else {
		__sync_fetch_and_add(&e->tx_packets, 1);
		__sync_fetch_and_add(&e->tx_bytes, len);
		seen = e->tx_flags_seen;
		if (f->tcp_flags & ~seen) {
			e->tx_flags_seen = seen | f->tcp_flags;
			report = true;
		}
	}
	if (f->proto == IPPROTO_TCP)
		ct_apply_tcp_flags(e, reply, f->tcp_flags);
	e->lifetime = now + ct_lifetime(e, f->proto);
	if (report)
		e->last_report = now;
	return report;
}

/* An ICMP error is related to a connection when the packet it quotes belongs to one. The quoted
 * packet travelled the other way, so it is looked up with the other owner flag. */
static __always_inline void ct_lookup_related(const struct flow4 *f, __u8 owner, __u32 now,
					      struct ct_result *res)
{
	const struct ipv4_ct_tuple *in = &f->inner;
	__u8 other = ct_other_owner(owner);

	res->entry = NULL;
	res->report = 1;
	res->state = CT_RELATED;
	ct_tuple_of(&res->key, in->saddr, in->daddr, in->sport, in->dport, in->nexthdr, other);
	if (ct_find(&res->key, now))
		return;
	ct_tuple_of(&res->key, in->daddr, in->saddr, in->dport, in->sport, in->nexthdr, owner);
	if (ct_find(&res->key, now))
		return;
	res->state = CT_NEW;
}

/* Looks the packet up for an endpoint that is its sender (owner CT_EGRESS) or its receiver
 * (CT_INGRESS), and accounts it on the entry found (except for CT_REOPENED, which the caller
 * recreates). */
static __always_inline void ct_lookup4(const struct flow4 *f, __u8 owner, __u32 len, __u32 now,
				       struct ct_result *res)
{
	struct ct_entry *e;

	if (f->icmp_error) {
		ct_lookup_related(f, owner, now, res);
		return;
	}
	res->report = 1;
	ct_tuple_of(&res->key, f->saddr, f->daddr, f->sport, f->dport, f->proto, owner);
	e = ct_find(&res->key, now);
	if (e) {
		res->entry = e;
		if (flow_is_syn(f) && (e->flags & CT_F_CLOSING)) {
			res->state = CT_REOPENED;
			return;
		}
		res->state = CT_ESTABLISHED;
		res->report = ct_account(e, false, f, len, now);
		return;
	}
	ct_tuple_of(&res->key, f->daddr, f->saddr, f->dport, f->sport, f->proto, ct_other_owner(owner));
	e = ct_find(&res->key, now);
	if (e) {
		res->entry = e;
		res->state = CT_REPLY;
		res->report = ct_account(e, true, f, len, now);
		return;
	}
	ct_tuple_of(&res->key, f->saddr, f->daddr, f->sport, f->dport, f->proto, owner);
	res->entry = NULL;
	res->state = CT_NEW;
}

/* A fresh entry for the first packet `f` of a connection; the caller adds identity, policy
 * revision and NAT facts, then calls ct_insert. */
static __always_inline void ct_entry_init(struct ct_entry *e, const struct flow4 *f, __u32 len,
					  __u32 now)
{
	__builtin_memset(e, 0, sizeof(*e));
	e->tx_packets = 1;
	e->tx_bytes = len;
	e->created = now;
	e->last_report = now;
	e->tx_flags_seen = f->tcp_flags;
	if (f->proto == IPPROTO_TCP)
		ct_apply_tcp_flags(e, false, f->tcp_flags);
	e->lifetime = now + ct_lifetime(e, f->proto);
}

/* Creates or replaces (a reopened or expired connection) the entry at `key`. */
static __always_inline int ct_insert(const struct ipv4_ct_tuple *key, const struct ct_entry *e)
{
	if (bpf_map_update_elem(&cilia_ct4, key, e, BPF_ANY) < 0)
		return -DROP_CT_CREATE_FAILED;
	return 0;
}

#endif /* CILIA_CONNTRACK_H */
