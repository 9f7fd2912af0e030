/* The policy decision for a new connection of endpoint E in direction D with a peer: three LPM
 * lookups in cilia_policy, for the peer's own identity, its CIDR identity (if any) and identity 0
 * (any peer). Each answers with its most specific entry for (protocol, port): exact port, a port
 * range (dport prefix), or any protocol and port (prefix 56). Deny entries win over every allow;
 * without a matching entry the connection is denied. The agent guarantees that an allow entry never
 * shadows a broader deny of the same identity key, so three answers are enough. */
#ifndef CILIA_POLICY_H
#define CILIA_POLICY_H

#include "common.h"
#include "drop.h"
#include "endpoint.h"
#include "events.h"
#include "maps.h"

struct policy_result {
	__u32 rule_id; /* of the deciding entry, 0 if none */
	__u8  verdict; /* VERDICT_* */
	__u8  match;   /* POLICY_MATCH_* */
};

/* How specific the deciding entry is. LPM lookups return the value only, so the entry's prefix is
 * recovered by asking again with the L4 wildcard prefix: the same entry means it is the wildcard. */
static __always_inline __u8 policy_match_type(struct policy_key *key, __u32 label,
					      const struct policy_entry *hit)
{
	struct policy_entry *wild;

	key->prefixlen = POLICY_PREFIX_ANY_L4;
	key->sec_label = label;
	wild = bpf_map_lookup_elem(&cilia_policy, key);
	if (label)
		return wild == hit ? POLICY_MATCH_L3_ONLY : POLICY_MATCH_L3_L4;
	return wild == hit ? POLICY_MATCH_ALL : POLICY_MATCH_L4_ONLY;
}

/* Decides whether endpoint `ep_id` may talk to `peer` in direction `dir` (DIR_INGRESS/DIR_EGRESS)
 * with `proto`/`port` (ICMP: the type). Returns 0 (allowed), -DROP_POLICY_DENY or -DROP_POLICY and
 * fills `out`. `new_conn` counts the connection on the deciding entry and works out the match type
 * for the policy-verdict event; revalidation of an existing entry passes false. */
static __always_inline int policy_check(__u16 ep_id, __u8 dir, const struct peer_identity *peer,
					__u8 proto, __be16 port, __u32 len, bool new_conn,
					struct policy_result *out)
{
	struct policy_key key = {
		.prefixlen = POLICY_PREFIX_EXACT,
		.ep_id = ep_id,
		.egress = dir == DIR_EGRESS,
		.protocol = proto,
		.dport = port,
	};
	struct policy_entry *by_id, *by_cidr = NULL, *by_any, *hit = NULL;
	__u32 label = 0;

	key.sec_label = peer->id;
	by_id = bpf_map_lookup_elem(&cilia_policy, &key);
	if (peer->cidr && peer->cidr != peer->id) {
		key.sec_label = peer->cidr;
		by_cidr = bpf_map_lookup_elem(&cilia_policy, &key);
	}
	key.sec_label = 0;
	by_any = bpf_map_lookup_elem(&cilia_policy, &key);

	/* Deny first, then allow; among equals the most specific identity decides (for tracing). */
	if (by_id && by_id->deny) {
		hit = by_id;
		label = peer->id;
	} else if (by_cidr && by_cidr->deny) {
		hit = by_cidr;
		label = peer->cidr;
	} else if (by_any && by_any->deny) {
		hit = by_any;
	} else if (by_id) {
		hit = by_id;
		label = peer->id;
	} else if (by_cidr) {
		hit = by_cidr;
		label = peer->cidr;
	} else if (by_any) {
		hit = by_any;
	}

	out->match = POLICY_MATCH_NONE;
	if (!hit) {
		out->rule_id = 0;
		out->verdict = VERDICT_DENIED;
		return -DROP_POLICY;
	}
	out->rule_id = hit->rule_id;
	if (new_conn) {
		/* Plain adds, not atomic ones: an LPM trie stores the value right after the 12 key
		 * bytes, so these u64s are only 4-byte aligned and may straddle a cache line. A locked
		 * add there is a split lock, which this VM traps: ~60 us per new connection instead of
		 * ~0.4 us. Concurrent new connections on two CPUs may lose an increment. */
		hit->packets += 1;
		hit->bytes += len;
		out->match = policy_match_type(&key, label, hit);
	}
	if (hit->deny) {
		out->verdict = VERDICT_DENIED_RULE;
		return -DROP_POLICY_DENY;
	}
	out->verdict = VERDICT_ALLOWED;
	return 0;
}

#endif /* CILIA_POLICY_H */
