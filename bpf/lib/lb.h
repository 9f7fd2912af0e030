/* Per-packet service load balancing (cil_from_container, when socket LB is off): find the service
 * of (daddr, dport, proto), pin each connection to a backend with a CT_SERVICE entry on the
 * original tuple (so it keeps that backend even after the backend is removed), choose new backends
 * by session affinity, Maglev or at random, and reverse-NAT replies to the frontend. */
#ifndef CILIA_LB_H
#define CILIA_LB_H

#include "common.h"
#include "config.h"
#include "conntrack.h"
#include "csum.h"
#include "drop.h"
#include "flow.h"
#include "jhash.h"
#include "maps.h"

/* Where a service connection goes. */
struct lb4_target {
	__be32 addr;
	__be16 port;
	__u16  rev_nat_index;
	__u32  backend_id;
};

static __always_inline struct lb4_service *lb4_lookup_service(const struct flow4 *f)
{
	struct lb4_key key = { .address = f->daddr, .dport = f->dport, .proto = f->proto };

	if (f->proto != IPPROTO_TCP && f->proto != IPPROTO_UDP)
		return NULL;
	return bpf_map_lookup_elem(&cilia_lb4_services, &key);
}

/* The client must be inside one of the service's loadBalancerSourceRanges. */
static __always_inline bool lb4_src_range_ok(const struct lb4_service *svc, __be32 saddr)
{
	struct lb4_src_range_key key = {
		.prefixlen = 8 * (sizeof(key.rev_nat_id) + sizeof(key.pad) + sizeof(key.addr)),
		.rev_nat_id = svc->rev_nat_index,
		.addr = saddr,
	};

	if (!(svc->flags & SVC_F_SOURCE_RANGE))
		return true;
	return bpf_map_lookup_elem(&cilia_lb4_source_range, &key) != NULL;
}

/* bpf_loop state: does one of the service's slots still hold `backend_id`? */
struct lb4_slot_scan {
	struct lb4_key key;
	__u32 backend_id;
	bool found;
};

static long lb4_scan_slot(__u32 index, void *data)
{
	struct lb4_slot_scan *scan = data;
	struct lb4_service *slot;

	scan->key.backend_slot = index + 1;
	slot = bpf_map_lookup_elem(&cilia_lb4_services, &scan->key);
	if (slot && slot->backend_id == scan->backend_id) {
		scan->found = true;
		return 1; /* stop */
	}
	return 0;
}

static __always_inline bool lb4_service_has_backend(const struct flow4 *f,
						    const struct lb4_service *svc, __u32 backend_id)
{
	struct lb4_slot_scan scan = {
		.key = { .address = f->daddr, .dport = f->dport, .proto = f->proto },
		.backend_id = backend_id,
	};

	/* Only on a new connection with an affinity entry; bpf_loop keeps the verifier's work
	 * independent of the slot count. */
	bpf_loop(svc->count, lb4_scan_slot, &scan, 0);
	return scan.found;
}

static __always_inline void lb4_affinity_key(struct lb4_affinity_key *key, const struct flow4 *f,
					     const struct lb4_service *svc)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->client_id = f->saddr;
	key->rev_nat_id = svc->rev_nat_index;
}

/* The affinity backend of this client if it is still valid (within the service's timeout, kept in
 * the master's backend_id), active and still one of the service's backends; else 0. */
static __always_inline __u32 lb4_affinity_backend(const struct flow4 *f, const struct lb4_service *svc,
						  __u32 now)
{
	struct lb4_affinity_key key;
	struct lb_affinity_val *val;
	struct lb4_backend *be;
	__u32 id;

	lb4_affinity_key(&key, f, svc);
	val = bpf_map_lookup_elem(&cilia_lb4_affinity, &key);
	if (!val || val->last_used + svc->backend_id < now)
		return 0;
	id = val->backend_id;
	be = bpf_map_lookup_elem(&cilia_lb4_backends, &id);
	if (!be || be->flags != BACKEND_STATE_ACTIVE)
		return 0;
	return lb4_service_has_backend(f, svc, id) ? id : 0;
}

static __always_inline void lb4_affinity_update(const struct flow4 *f, const struct lb4_service *svc,
						__u32 backend_id, __u32 now)
{
	struct lb4_affinity_key key;
	struct lb_affinity_val val = { .last_used = now, .backend_id = backend_id };

	lb4_affinity_key(&key, f, svc);
	bpf_map_update_elem(&cilia_lb4_affinity, &key, &val, BPF_ANY);
}

/* Maglev: the flow's hash picks an entry of the service's lookup table; 0 if there is none. */
static __always_inline __u32 lb4_maglev_backend(const struct flow4 *f, const struct lb4_service *svc)
{
	__u16 rev_nat = svc->rev_nat_index;
	__u32 hash, index, *id;
	void *table;

	if (!CFG_MAGLEV_TABLE_SIZE)
		return 0;
	table = bpf_map_lookup_elem(&cilia_lb4_maglev, &rev_nat);
	if (!table)
		return 0;
	hash = jhash_3words(bpf_ntohl(f->saddr), bpf_ntohl(f->daddr),
			    ((__u32)bpf_ntohs(f->sport) << 16) | bpf_ntohs(f->dport), f->proto);
	index = hash % CFG_MAGLEV_TABLE_SIZE;
	id = bpf_map_lookup_elem(table, &index);
	return id ? *id : 0;
}

static __always_inline __u32 lb4_random_backend(const struct flow4 *f, const struct lb4_service *svc)
{
	struct lb4_key key = { .address = f->daddr, .dport = f->dport, .proto = f->proto };
	struct lb4_service *slot;

	key.backend_slot = 1 + bpf_get_prandom_u32() % svc->count;
	slot = bpf_map_lookup_elem(&cilia_lb4_services, &key);
	return slot ? slot->backend_id : 0;
}

/* Finds (or chooses and pins) the backend of the connection `f` to service `svc`. Returns 0 with
 * `out` filled, -DROP_NO_SERVICE (no backend), -DROP_NOT_IN_SRC_RANGE or -DROP_CT_CREATE_FAILED. */
static __always_inline int lb4_local(const struct flow4 *f, const struct lb4_service *svc, __u32 len,
				     __u32 now, struct lb4_target *out)
{
	struct ipv4_ct_tuple key;
	struct lb4_backend *be;
	struct ct_entry *e, ne;
	__u32 id = 0;

	if (svc->count == 0)
		return -DROP_NO_SERVICE;
	if (!lb4_src_range_ok(svc, f->saddr))
		return -DROP_NOT_IN_SRC_RANGE;

	ct_tuple_of(&key, f->saddr, f->daddr, f->sport, f->dport, f->proto, CT_SERVICE);
	e = ct_find(&key, now);
	if (e && !(flow_is_syn(f) && (e->flags & CT_F_CLOSING))) {
		ct_account(e, false, f, len, now);
		out->addr = e->nat_addr;
		out->port = e->nat_port;
		out->rev_nat_index = e->rev_nat_index;
		out->backend_id = e->backend_id;
		return 0;
	}

	if (svc->flags & SVC_F_AFFINITY)
		id = lb4_affinity_backend(f, svc, now);
	if (!id && (svc->flags & SVC_F_MAGLEV))
		id = lb4_maglev_backend(f, svc);
	if (!id)
		id = lb4_random_backend(f, svc);
	be = id ? bpf_map_lookup_elem(&cilia_lb4_backends, &id) : NULL;
	if (!be)
		return -DROP_NO_SERVICE;
	if (svc->flags & SVC_F_AFFINITY)
		lb4_affinity_update(f, svc, id, now);

	out->addr = be->address;
	out->port = be->port;
	out->rev_nat_index = svc->rev_nat_index;
	out->backend_id = id;

	ct_entry_init(&ne, f, len, now);
	ne.rev_nat_index = svc->rev_nat_index;
	ne.backend_id = id;
	ne.nat_addr = be->address;
	ne.nat_port = be->port;
	return ct_insert(&key, &ne);
}

/* Reverse NAT of a reply to a service connection: the source becomes the frontend again. */
static __always_inline int lb4_rev_nat(struct __sk_buff *ctx, struct flow4 *f, __u16 rev_nat_index)
{
	struct lb4_reverse_nat *nat = bpf_map_lookup_elem(&cilia_lb4_reverse_nat, &rev_nat_index);

	if (!nat)
		return 0; /* the service is gone: nothing to restore */
	return csum_snat(ctx, f, nat->address, nat->port);
}

#endif /* CILIA_LB_H */
