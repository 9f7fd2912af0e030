/* The endpoint datapath: cil_from_container on tc ingress of each pod's host-side veth (packets
 * leaving the pod) and cil_to_container on its tc egress (packets the host stack delivers to the
 * pod). One loaded pair serves every endpoint: per-endpoint facts come from cilia_lxc by ifindex.
 * The behaviour, step by step, is specified in docs/datapath.md. */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/maps.h"
#include "lib/drop.h"
#include "lib/flow.h"
#include "lib/eth.h"
#include "lib/ipv4.h"
#include "lib/l4.h"
#include "lib/csum.h"
#include "lib/endpoint.h"
#include "lib/conntrack.h"
#include "lib/policy.h"
#include "lib/lb.h"
#include "lib/events.h"
#include "lib/metrics.h"

/* Everything one program run knows about the packet it handles. */
struct lxc_ctx {
	struct flow4 flow;
	struct event_peers peers; /* for events: observer, endpoints and identities as known so far */
	__u32 len;                /* skb->len on entry */
	__u32 now;                /* seconds of CLOCK_MONOTONIC */
};

/* Drops the packet: a drop event naming this line, the metric, TC_ACT_SHOT. `reason` is positive.
 * Service LB drops count under DIR_SERVICE in metrics and as egress in the event. */
#define DROP(ctx, p, reason, metric_dir) lxc_drop(ctx, p, reason, metric_dir, __LINE__)

static __always_inline int lxc_drop(struct __sk_buff *ctx, const struct lxc_ctx *p, int reason,
				    __u8 metric_dir, __u16 line)
{
	__u8 dir = metric_dir == DIR_SERVICE ? DIR_EGRESS : metric_dir;

	send_drop_event(ctx, &p->flow, &p->peers, reason, dir, FILE_ID_BPF_LXC, line);
	metrics_update(reason, metric_dir, p->len);
	return TC_ACT_SHOT;
}

/* The identity of a peer address, from the ipcache unless already known. */
static __always_inline void peer_resolve(struct peer_identity *peer, __be32 addr)
{
	if (!peer->id)
		ipcache_lookup(addr, peer);
}

/* The ICMP type a policy entry of an existing ICMP connection was checked with: entries are keyed
 * by their first packet, an echo request (sport = id) or, rarely, an echo reply (dport = id). */
static __always_inline __be16 ct_policy_port(const struct ipv4_ct_tuple *t)
{
	if (t->nexthdr == IPPROTO_ICMP)
		return bpf_htons(t->dport ? ICMP_ECHOREPLY : ICMP_ECHO);
	return t->dport;
}

/* The owner endpoint's policy changed since the entry was last validated (policy_rev differs):
 * checks the connection again, in the entry's original direction and without counting it as new.
 * Still allowed: the entry takes the new revision. Not allowed: the entry is deleted and the drop
 * reason returned. Returns the metrics direction in *dir. */
static __always_inline int ct_revalidate(const struct lxc_ctx *p, const struct ct_result *ct,
					 const struct endpoint_info *owner, __u8 *dir)
{
	const struct ipv4_ct_tuple *t = &ct->key;
	struct ct_entry *e = ct->entry;
	struct peer_identity peer = {};
	struct policy_result pr;
	bool enforced;
	int ret;

	if (!e || e->policy_rev == owner->policy_rev)
		return 0;
	if (t->flags == CT_EGRESS) {
		*dir = DIR_EGRESS;
		enforced = owner->flags & EP_F_EGRESS_ENFORCED;
		ipcache_lookup(t->daddr, &peer);
	} else {
		*dir = DIR_INGRESS;
		enforced = owner->flags & EP_F_INGRESS_ENFORCED;
		ipcache_lookup(t->saddr, &peer);
	}
	if (enforced) {
		ret = policy_check(owner->lxc_id, *dir, &peer, t->nexthdr, ct_policy_port(t), p->len,
				   false, &pr);
		if (ret < 0) {
			bpf_map_delete_elem(&cilia_ct4, t);
			return ret;
		}
	}
	e->src_sec_id = peer.id;
	e->policy_rev = owner->policy_rev;
	return 0;
}

/* The receiver's side of a packet for local endpoint `ep` from a peer `src` (id 0 = look it up):
 * conntrack as the receiver, ingress policy and a policy-verdict event for new connections,
 * revalidation, reverse NAT of replies to the endpoint's own service connections. Shared by
 * cil_to_container and local delivery in cil_from_container. Returns 0 or -DROP_*. */
static __always_inline int lxc_ingress(struct __sk_buff *ctx, struct lxc_ctx *p,
				       const struct endpoint_info *ep, struct peer_identity *src,
				       struct ct_result *ct)
{
	struct event_peers peers;
	struct policy_result pr;
	struct ct_entry e;
	__u8 dir = DIR_INGRESS;
	int ret;

	ct_lookup4(&p->flow, CT_INGRESS, p->len, p->now, ct);
	switch (ct->state) {
	case CT_ESTABLISHED:
	case CT_REPLY:
		ret = ct_revalidate(p, ct, ep, &dir);
		if (ret < 0)
			return ret;
		if (ct->state == CT_REPLY && ct->entry && ct->entry->rev_nat_index)
			return lb4_rev_nat(ctx, &p->flow, ct->entry->rev_nat_index);
		return 0;
	case CT_RELATED:
		return 0;
	}
	if (p->flow.icmp_error)
		return -DROP_UNKNOWN_ICMP4_TYPE; /* an error about no connection we know */

	/* CT_NEW or CT_REOPENED */
	peer_resolve(src, p->flow.saddr);
	if (ep->flags & EP_F_INGRESS_ENFORCED) {
		ret = policy_check(ep->lxc_id, DIR_INGRESS, src, p->flow.proto,
				   flow_policy_port(&p->flow), p->len, true, &pr);
		peers.source = ep->lxc_id;
		peers.dst_id = ep->lxc_id;
		peers.src_label = src->id;
		peers.dst_label = ep->sec_id;
		send_policy_verdict(ctx, &p->flow, &peers, pr.match, DIR_INGRESS, pr.verdict);
		if (ret < 0)
			return ret;
	}
	ct_entry_init(&e, &p->flow, p->len, p->now);
	e.src_sec_id = src->id;
	e.policy_rev = ep->policy_rev;
	return ct_insert(&ct->key, &e);
}

/* Sends a trace event if monitor aggregation lets it through, with the destination identity
 * resolved on demand (established packets do not need it otherwise). */
static __always_inline void lxc_trace(struct __sk_buff *ctx, struct lxc_ctx *p, bool report,
				      __u8 obs_point, __u8 dir, __u8 ct_state)
{
	struct peer_identity dst = {};

	if (!report)
		return;
	if (!p->peers.dst_label) {
		ipcache_lookup(p->flow.daddr, &dst);
		p->peers.dst_label = dst.id;
	}
	send_trace_event(ctx, &p->flow, &p->peers, obs_point, dir, ct_state);
}

SEC("tc")
int cil_from_container(struct __sk_buff *ctx)
{
	struct lxc_ctx p = { .len = ctx->len, .now = now_seconds() };
	struct peer_identity peer = {};
	struct endpoint_info *ep, *dst_ep;
	struct lb4_target lb = {};
	struct policy_result pr;
	struct lb4_service *svc;
	struct ct_result ct;
	struct ct_entry e;
	__u8 ct_state, dir = DIR_EGRESS;
	__be16 proto;
	bool report;
	int ret;

	/* 1. L2: the host answers ARP for the router; only IPv4 goes further. */
	ep = endpoint_by_ifindex(ctx->ifindex);
	if (ep) {
		p.peers.source = ep->lxc_id;
		p.peers.src_label = ep->sec_id;
	}
	ret = eth_proto(ctx, &proto);
	if (ret < 0)
		return DROP(ctx, &p, -ret, DIR_EGRESS);
	if (proto == bpf_htons(ETH_P_ARP)) {
		metrics_update(REASON_FORWARDED, DIR_EGRESS, p.len);
		return TC_ACT_OK;
	}
	if (proto != bpf_htons(ETH_P_IP))
		return DROP(ctx, &p, DROP_UNKNOWN_L3, DIR_EGRESS);

	/* 2. The sending endpoint, its source address, the L4 header. */
	if (!ep)
		return DROP(ctx, &p, DROP_EP_NOT_READY, DIR_EGRESS);
	ret = ipv4_parse(ctx, &p.flow);
	if (ret == -DROP_INVALID)
		return DROP(ctx, &p, DROP_INVALID, DIR_EGRESS);
	if (p.flow.saddr != ep->ipv4)
		return DROP(ctx, &p, DROP_INVALID_SIP, DIR_EGRESS);
	if (ret < 0)
		return DROP(ctx, &p, -ret, DIR_EGRESS);
	ret = l4_parse(ctx, &p.flow);
	if (ret < 0)
		return DROP(ctx, &p, -ret, DIR_EGRESS);

	/* 3. Per-packet service load balancing: DNAT to the connection's backend. */
	if (CFG_ENABLE_PACKET_LB) {
		svc = lb4_lookup_service(&p.flow);
		if (svc) {
			ret = lb4_local(&p.flow, svc, p.len, p.now, &lb);
			if (ret < 0)
				return DROP(ctx, &p, -ret, DIR_SERVICE);
			ret = csum_dnat(ctx, &p.flow, lb.addr, lb.port);
			if (ret < 0)
				return DROP(ctx, &p, -ret, DIR_EGRESS);
		}
	}
	dst_ep = endpoint_by_ipv4(p.flow.daddr);
	if (dst_ep) {
		p.peers.dst_id = dst_ep->lxc_id;
		p.peers.dst_label = dst_ep->sec_id;
	}

	/* 4. Conntrack as the sender; egress policy for new connections. */
	ct_lookup4(&p.flow, CT_EGRESS, p.len, p.now, &ct);
	switch (ct.state) {
	case CT_ESTABLISHED:
	case CT_REPLY:
		ret = ct_revalidate(&p, &ct, ep, &dir);
		if (ret < 0)
			return DROP(ctx, &p, -ret, dir);
		break;
	case CT_RELATED:
		break;
	default: /* CT_NEW, CT_REOPENED */
		if (p.flow.icmp_error)
			return DROP(ctx, &p, DROP_UNKNOWN_ICMP4_TYPE, DIR_EGRESS);
		ipcache_lookup(p.flow.daddr, &peer);
		p.peers.dst_label = peer.id;
		if (ep->flags & EP_F_EGRESS_ENFORCED) {
			ret = policy_check(ep->lxc_id, DIR_EGRESS, &peer, p.flow.proto,
					   flow_policy_port(&p.flow), p.len, true, &pr);
			send_policy_verdict(ctx, &p.flow, &p.peers, pr.match, DIR_EGRESS, pr.verdict);
			if (ret < 0)
				return DROP(ctx, &p, -ret, DIR_EGRESS);
		}
		ct_entry_init(&e, &p.flow, p.len, p.now);
		e.src_sec_id = peer.id;
		e.policy_rev = ep->policy_rev;
		e.rev_nat_index = lb.rev_nat_index;
		ret = ct_insert(&ct.key, &e);
		if (ret < 0)
			return DROP(ctx, &p, -ret, DIR_EGRESS);
	}
	report = ct.report;
	ct_state = ct.state;

	/* 5. A local destination gets the receiver's ingress side here, then goes straight into
	 * its netns: one veth crossing, no host stack (eBPF host routing). */
	if (dst_ep) {
		/* Left for the ipcache (on new connections only): it gives the sender's identity and
		 * also the CIDR identity that fromCIDR/ipBlock rules over pod addresses match. */
		struct peer_identity src = {};

		ret = lxc_ingress(ctx, &p, dst_ep, &src, &ct);
		if (ret < 0) {
			p.peers.source = dst_ep->lxc_id;
			return DROP(ctx, &p, -ret, DIR_INGRESS);
		}
		ret = eth_rewrite_macs(ctx, dst_ep->mac, dst_ep->node_mac);
		if (ret < 0)
			return DROP(ctx, &p, -ret, DIR_EGRESS);
		ret = ipv4_dec_ttl(ctx, &p.flow);
		if (ret < 0)
			return DROP(ctx, &p, -ret, DIR_EGRESS);
		metrics_update(REASON_FORWARDED, DIR_EGRESS, p.len);
		metrics_update(REASON_FORWARDED, DIR_INGRESS, p.len);
		lxc_trace(ctx, &p, report, TRACE_TO_ENDPOINT, DIR_EGRESS, ct_state);
		return bpf_redirect_peer(dst_ep->ifindex, 0);
	}
	metrics_update(REASON_FORWARDED, DIR_EGRESS, p.len);
	lxc_trace(ctx, &p, report, TRACE_TO_STACK, DIR_EGRESS, ct_state);
	return TC_ACT_OK;
}

SEC("tc")
int cil_to_container(struct __sk_buff *ctx)
{
	struct lxc_ctx p = { .len = ctx->len, .now = now_seconds() };
	struct peer_identity src = {};
	struct endpoint_info *ep;
	struct ct_result ct;
	__be16 proto;
	int ret;

	ep = endpoint_by_ifindex(ctx->ifindex);
	if (ep) {
		p.peers.source = ep->lxc_id;
		p.peers.dst_id = ep->lxc_id;
		p.peers.dst_label = ep->sec_id;
	}
	ret = eth_proto(ctx, &proto);
	if (ret < 0)
		return DROP(ctx, &p, -ret, DIR_INGRESS);
	if (proto == bpf_htons(ETH_P_ARP)) {
		metrics_update(REASON_FORWARDED, DIR_INGRESS, p.len);
		return TC_ACT_OK;
	}
	if (proto != bpf_htons(ETH_P_IP))
		return DROP(ctx, &p, DROP_UNKNOWN_L3, DIR_INGRESS);
	if (!ep)
		return DROP(ctx, &p, DROP_EP_NOT_READY, DIR_INGRESS);
	ret = ipv4_parse(ctx, &p.flow);
	if (ret == -DROP_INVALID)
		return DROP(ctx, &p, DROP_INVALID, DIR_INGRESS);
	if (p.flow.daddr != ep->ipv4)
		return DROP(ctx, &p, DROP_INVALID, DIR_INGRESS); /* routed here, but not for this pod */
	if (ret < 0)
		return DROP(ctx, &p, -ret, DIR_INGRESS);
	ret = l4_parse(ctx, &p.flow);
	if (ret < 0)
		return DROP(ctx, &p, -ret, DIR_INGRESS);

	ret = lxc_ingress(ctx, &p, ep, &src, &ct);
	if (ret < 0 || ct.report) {
		peer_resolve(&src, p.flow.saddr); /* for the event */
		p.peers.src_label = src.id;
	}
	if (ret < 0)
		return DROP(ctx, &p, -ret, DIR_INGRESS);
	metrics_update(REASON_FORWARDED, DIR_INGRESS, p.len);
	lxc_trace(ctx, &p, ct.report, TRACE_TO_ENDPOINT, DIR_INGRESS, ct.state);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
