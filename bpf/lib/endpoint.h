/* Who is who: local endpoints from cilia_lxc (by host-side ifindex or by pod IP) and the identity
 * of any address from the ipcache. */
#ifndef CILIA_ENDPOINT_H
#define CILIA_ENDPOINT_H

#include "common.h"
#include "maps.h"

static __always_inline struct endpoint_info *endpoint_by_ifindex(__u32 ifindex)
{
	struct endpoint_key key = { .addr_or_ifindex = ifindex, .kind = ENDPOINT_KEY_IFINDEX };

	return bpf_map_lookup_elem(&cilia_lxc, &key);
}

static __always_inline struct endpoint_info *endpoint_by_ipv4(__be32 addr)
{
	struct endpoint_key key = { .addr_or_ifindex = addr, .kind = ENDPOINT_KEY_IPV4 };

	return bpf_map_lookup_elem(&cilia_lxc, &key);
}

/* The identities policy looks at for a peer address. */
struct peer_identity {
	__u32 id;   /* the address' own identity; world when the ipcache does not know it */
	__u32 cidr; /* identity of the longest policy-referenced CIDR containing it, 0 if none */
};

static __always_inline void ipcache_lookup(__be32 addr, struct peer_identity *peer)
{
	struct ipcache_key key = { .prefixlen = 32, .addr = addr };
	struct remote_endpoint_info *info = bpf_map_lookup_elem(&cilia_ipcache, &key);

	peer->id = info && info->sec_identity ? info->sec_identity : IDENTITY_WORLD;
	peer->cidr = info ? info->cidr_identity : 0;
}

#endif /* CILIA_ENDPOINT_H */
