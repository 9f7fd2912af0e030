/* Monitor events into the cilia_events ring buffer: drops (with reason, file and line), traces
 * (observation points, subject to monitor aggregation) and policy verdicts of new connections.
 * One fixed 56-byte record; pkg/datapath/events.ts decodes and formats it like `cilium monitor`. */
#ifndef CILIA_EVENTS_H
#define CILIA_EVENTS_H

#include "common.h"
#include "flow.h"
#include "maps.h"

/* Message types, as Cilium's CILIUM_NOTIFY_*. */
#define EVENT_DROP           1
#define EVENT_TRACE          4
#define EVENT_POLICY_VERDICT 5

/* Trace observation points (`subtype`), as Cilium's TRACE_*. */
#define TRACE_TO_ENDPOINT   0
#define TRACE_TO_HOST       2
#define TRACE_TO_STACK      3
#define TRACE_FROM_ENDPOINT 5

/* Policy-verdict match types (`subtype`). */
#define POLICY_MATCH_NONE    0
#define POLICY_MATCH_L3_ONLY 1
#define POLICY_MATCH_L3_L4   2
#define POLICY_MATCH_L4_ONLY 3
#define POLICY_MATCH_ALL     4

/* Policy-verdict outcomes (`verdict`). */
#define VERDICT_ALLOWED     1
#define VERDICT_DENIED      2 /* no entry allowed it */
#define VERDICT_DENIED_RULE 3 /* a deny entry matched */

struct cilia_event {
	__u8   type;      /* EVENT_* */
	__u8   subtype;   /* drop: reason; trace: observation point; policy verdict: match type */
	__u16  source;    /* endpoint id that observed the packet */
	__u32  ifindex;
	__u32  src_label;
	__u32  dst_label;
	__u16  dst_id;    /* destination endpoint id when local, else 0 */
	__u16  line;      /* drops: source line */
	__u8   file;      /* drops: FILE_ID_* */
	__u8   dir;       /* DIR_INGRESS / DIR_EGRESS */
	__u8   ct_state;  /* CT_NEW .. CT_REOPENED */
	__u8   verdict;   /* policy verdict: VERDICT_* */
	__u8   proto;
	__u8   tcp_flags; /* TCP: the flags; ICMP: the message type */
	__be16 sport;     /* ICMP echo: the echo id */
	__be16 dport;     /* ICMP: the message code */
	__u16  pad;
	__be32 saddr, daddr;
	__u32  orig_len;  /* packet length */
	__u32  hash;      /* skb hash (flow id "flow 0x…" in the monitor) */
	__u64  ktime_ns;
};

/* Kept out of line so that struct cilia_event lands in the object's BTF (the alignment check of
 * the TS decoder needs it) and the ring buffer call exists once. A full ring drops the event. */
static __noinline int event_submit(struct cilia_event *ev)
{
	return bpf_ringbuf_output(&cilia_events, ev, sizeof(*ev), 0);
}

/* Fills the parts every event type shares: the tuple as the packet has it now. */
static __always_inline void event_init(struct cilia_event *ev, struct __sk_buff *ctx, __u8 type,
				       __u8 subtype, const struct flow4 *f)
{
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->subtype = subtype;
	ev->ifindex = ctx->ifindex;
	ev->orig_len = ctx->len;
	ev->hash = bpf_get_hash_recalc(ctx);
	ev->ktime_ns = bpf_ktime_get_ns();
	ev->proto = f->proto;
	ev->saddr = f->saddr;
	ev->daddr = f->daddr;
	if (f->proto == IPPROTO_ICMP) {
		ev->tcp_flags = f->icmp_type;
		ev->sport = f->sport | f->dport; /* the echo id, whichever side holds it */
		ev->dport = bpf_htons(f->icmp_code);
	} else {
		ev->tcp_flags = f->tcp_flags;
		ev->sport = f->sport;
		ev->dport = f->dport;
	}
}

/* Who observed the packet, and between which identities it travels. */
struct event_peers {
	__u16 source;
	__u16 dst_id;
	__u32 src_label;
	__u32 dst_label;
};

static __always_inline void send_drop_event(struct __sk_buff *ctx, const struct flow4 *f,
					    const struct event_peers *p, __u8 reason, __u8 dir,
					    __u8 file, __u16 line)
{
	struct cilia_event ev;

	event_init(&ev, ctx, EVENT_DROP, reason, f);
	ev.source = p->source;
	ev.dst_id = p->dst_id;
	ev.src_label = p->src_label;
	ev.dst_label = p->dst_label;
	ev.dir = dir;
	ev.file = file;
	ev.line = line;
	event_submit(&ev);
}

static __always_inline void send_trace_event(struct __sk_buff *ctx, const struct flow4 *f,
					     const struct event_peers *p, __u8 obs_point, __u8 dir,
					     __u8 ct_state)
{
	struct cilia_event ev;

	event_init(&ev, ctx, EVENT_TRACE, obs_point, f);
	ev.source = p->source;
	ev.dst_id = p->dst_id;
	ev.src_label = p->src_label;
	ev.dst_label = p->dst_label;
	ev.dir = dir;
	ev.ct_state = ct_state;
	event_submit(&ev);
}

static __always_inline void send_policy_verdict(struct __sk_buff *ctx, const struct flow4 *f,
						const struct event_peers *p, __u8 match, __u8 dir,
						__u8 verdict)
{
	struct cilia_event ev;

	event_init(&ev, ctx, EVENT_POLICY_VERDICT, match, f);
	ev.source = p->source;
	ev.dst_id = p->dst_id;
	ev.src_label = p->src_label;
	ev.dst_label = p->dst_label;
	ev.dir = dir;
	ev.verdict = verdict;
	event_submit(&ev);
}

#endif /* CILIA_EVENTS_H */
