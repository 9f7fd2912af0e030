/* Service load balancing. The selection of a backend (service lookup by frontend, session affinity,
 * Maglev, slot) is shared by both load balancers: per-packet (cil_from_container, when socket LB is
 * off), which also pins each connection to its backend with a CT_SERVICE entry on the original tuple
 * (so it keeps that backend even after the backend is removed) and reverse-NATs replies, and socket
 * LB (bpf_sock.c), which rewrites the address of connect()/sendmsg() once per socket. */
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

/* Who asks for a backend, for session affinity: per-packet LB knows the client's IPv4 address,
 * socket LB the client's network namespace (its cookie). */
struct lb4_client {
	__u64 id;             /* client IPv4 (__be32 widened) or netns cookie */
	__u8  is_netns_cookie;
};

/* The key of a service's master entry (slot 0) for the frontend (addr, port, proto). */
static __always_inline void lb4_frontend_key(struct lb4_key *key, __be32 addr, __be16 port, __u8 proto)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->address = addr;
	key->dport = port;
	key->proto = proto;
}

/* The service of a frontend key (slot 0), or NULL. Only TCP and UDP have services. */
static __always_inline struct lb4_service *lb4_lookup_frontend(const struct lb4_key *key)
{
	if (key->proto != IPPROTO_TCP && key->proto != IPPROTO_UDP)
		return NULL;
	return bpf_map_lookup_elem(&cilia_lb4_services, key);
}

static __always_inline struct lb4_service *lb4_lookup_service(const struct flow4 *f)
{
	struct lb4_key key;

	lb4_frontend_key(&key, f->daddr, f->dport, f->proto);
	return lb4_lookup_frontend(&key);
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

static __always_inline bool lb4_service_has_backend(const struct lb4_key *frontend,
						    const struct lb4_service *svc, __u32 backend_id)
{
	struct lb4_slot_scan scan = { .key = *frontend, .backend_id = backend_id };

	/* Only for a new connection with an affinity entry; bpf_loop keeps the verifier's work
	 * independent of the slot count. */
	bpf_loop(svc->count, lb4_scan_slot, &scan, 0);
	return scan.found;
}

static __always_inline void lb4_affinity_key(struct lb4_affinity_key *key, const struct lb4_client *c,
					     const struct lb4_service *svc)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->client_id = c->id;
	key->rev_nat_id = svc->rev_nat_index;
	key->netns_cookie = c->is_netns_cookie;
}

/* The affinity backend of this client if it is still valid (within the service's timeout, kept in
 * the master's backend_id), active and still one of the service's backends; else 0. */
static __always_inline __u32 lb4_affinity_backend(const struct lb4_key *frontend,
						  const struct lb4_service *svc,
						  const struct lb4_client *c, __u32 now)
{
	struct lb4_affinity_key key;
	struct lb_affinity_val *val;
	struct lb4_backend *be;
	__u32 id;

	lb4_affinity_key(&key, c, svc);
	val = bpf_map_lookup_elem(&cilia_lb4_affinity, &key);
	if (!val || val->last_used + svc->backend_id < now)
		return 0;
	id = val->backend_id;
	be = bpf_map_lookup_elem(&cilia_lb4_backends, &id);
	if (!be || be->flags != BACKEND_STATE_ACTIVE)
		return 0;
	return lb4_service_has_backend(frontend, svc, id) ? id : 0;
}

static __always_inline void lb4_affinity_update(const struct lb4_client *c, const struct lb4_service *svc,
						__u32 backend_id, __u32 now)
{
	struct lb4_affinity_key key;
	struct lb_affinity_val val = { .last_used = now, .backend_id = backend_id };

	lb4_affinity_key(&key, c, svc);
	bpf_map_update_elem(&cilia_lb4_affinity, &key, &val, BPF_ANY);
}

/* Maglev: `hash` picks an entry of the service's lookup table; 0 if there is none. */
static __always_inline __u32 lb4_maglev_backend(const struct lb4_service *svc, __u32 hash)
{
	__u16 rev_nat = svc->rev_nat_index;
	__u32 index, *id;
	void *table;

	if (!CFG_MAGLEV_TABLE_SIZE)
		return 0;
	table = bpf_map_lookup_elem(&cilia_lb4_maglev, &rev_nat);
	if (!table)
		return 0;
	index = hash % CFG_MAGLEV_TABLE_SIZE;
	id = bpf_map_lookup_elem(table, &index);
	return id ? *id : 0;
}

/* The Maglev hash of a packet's flow (docs/datapath.md; pkg/lb maglevFlowHash computes the same). */
static __always_inline __u32 lb4_flow_hash(const struct flow4 *f)
{
	return jhash_3words(bpf_ntohl(f->saddr), bpf_ntohl(f->daddr),
			    ((__u32)bpf_ntohs(f->sport) << 16) | bpf_ntohs(f->dport), f->proto);
}

/* The backend in slot 1 + pick % count (svc->count must not be 0). */
static __always_inline __u32 lb4_slot_backend(const struct lb4_key *frontend,
					      const struct lb4_service *svc, __u32 pick)
{
	struct lb4_key key = *frontend;
	struct lb4_service *slot;

	key.backend_slot = 1 + pick % svc->count;
	slot = bpf_map_lookup_elem(&cilia_lb4_services, &key);
	return slot ? slot->backend_id : 0;
}

/* Chooses the backend of a new connection to `svc` (count != 0), in the order every LB of the
 * datapath uses: the client's session affinity, then the Maglev table entry `maglev_hash` picks,
 * then slot 1 + `slot_pick` % count. Returns the backend id, 0 if none was found. Terminating
 * backends have no slot (the agent removes them), so only affinity could name one: it checks. */
static __always_inline __u32 lb4_select_backend(const struct lb4_key *frontend,
						const struct lb4_service *svc,
						const struct lb4_client *client, __u32 maglev_hash,
						__u32 slot_pick, __u32 now)
{
	__u32 id = 0;

	if (svc->flags & SVC_F_AFFINITY)
		id = lb4_affinity_backend(frontend, svc, client, now);
	if (!id && (svc->flags & SVC_F_MAGLEV))
		id = lb4_maglev_backend(svc, maglev_hash);
	if (!id)
		id = lb4_slot_backend(frontend, svc, slot_pick);
	return id;
}

/* Finds (or chooses and pins) the backend of the connection `f` to service `svc`. Returns 0 with
 * `out` filled, -DROP_NO_SERVICE (no backend), -DROP_NOT_IN_SRC_RANGE or -DROP_CT_CREATE_FAILED. */
static __always_inline int lb4_local(const struct flow4 *f, const struct lb4_service *svc, __u32 len,
				     __u32 now, struct lb4_target *out)
{
	struct lb4_client client = { .id = f->saddr };
	struct lb4_key frontend;
	struct ipv4_ct_tuple key;
	struct lb4_backend *be;
	struct ct_entry *e, ne;
	__u32 id;

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

	lb4_frontend_key(&frontend, f->daddr, f->dport, f->proto);
	id = lb4_select_backend(&frontend, svc, &client,
				(svc->flags & SVC_F_MAGLEV) ? lb4_flow_hash(f) : 0,
				bpf_get_prandom_u32(), now);
	be = id ? bpf_map_lookup_elem(&cilia_lb4_backends, &id) : NULL;
	if (!be)
		return -DROP_NO_SERVICE;
	if (svc->flags & SVC_F_AFFINITY)
		lb4_affinity_update(&client, svc, id, now);

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
