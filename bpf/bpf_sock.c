/* Socket-level service load balancing (Cilium's "kube-proxy replacement" socket LB), on cgroup v2
 * sock_addr hooks. connect() and sendmsg() to a service frontend are rewritten to a backend once per
 * call, before any packet exists, so the packets carry the backend address from the start and need no
 * NAT; recvmsg() and getpeername() translate the backend back to the frontend the application asked
 * for. Backends are chosen as by the per-packet LB (bpf/lib/lb.h): session affinity keyed by the
 * client's network namespace, Maglev hashing the socket, else a slot. The maps are bpf_lxc.o's,
 * reused from their pins. The behaviour is specified in docs/datapath.md "Socket load balancing". */
#include "lib/common.h"
#include "lib/config.h"
#include "lib/maps.h"
#include "lib/drop.h"
#include "lib/lb.h"
#include "lib/events.h"
#include "lib/metrics.h"
#include "lib/sock.h"

/* A service without a usable backend: the drop event (naming the caller's line) and the metric.
 * The system call then fails with ECONNREFUSED, as a kube-proxy REJECT rule makes it fail. */
#define REJECT_NO_SERVICE(ctx, cookie, frontend) \
	sock4_no_service(ctx, cookie, frontend, __LINE__)

static __always_inline int sock4_no_service(const struct bpf_sock_addr *ctx, __u64 cookie,
					    const struct lb4_key *frontend, __u16 line)
{
	sock_drop_event(ctx, cookie, frontend, DROP_NO_SERVICE, line);
	metrics_update(DROP_NO_SERVICE, DIR_SERVICE, 0);
	return -ECONNREFUSED;
}

/* Fails the system call with `err` (negative errno) instead of the default EPERM. */
static __always_inline int sock_reject(int err)
{
	bpf_set_retval(err);
	return SYS_REJECT;
}

/* connect()/sendmsg() towards (*addr, *port): if that is a service frontend for the socket's
 * protocol, chooses the backend, records the reverse mapping and sets *addr and *port to the backend.
 * Returns 1 when translated, 0 for anything that is not a service (left untouched), -ECONNREFUSED
 * when the service has no backend, -ENOMEM when the reverse mapping could not be stored (replies
 * would then show the backend, which UDP clients such as DNS resolvers reject). */
static __always_inline int sock4_xlate_fwd(struct bpf_sock_addr *ctx, __be32 *addr, __be16 *port)
{
	struct lb4_client client = { .is_netns_cookie = 1 };
	struct lb4_key frontend;
	struct lb4_service *svc;
	struct lb4_backend *be;
	__u32 hash, pick, id, now;
	__u64 cookie;

	/* ctx->protocol is a u32 (IPPROTO_MPTCP is 262): only TCP and UDP have services. */
	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return 0;
	lb4_frontend_key(&frontend, *addr, *port, ctx->protocol);
	svc = lb4_lookup_frontend(&frontend);
	if (!svc)
		return 0;
	cookie = bpf_get_socket_cookie(ctx);
	if (svc->count == 0)
		return REJECT_NO_SERVICE(ctx, cookie, &frontend);

	now = now_seconds();
	client.id = bpf_get_netns_cookie(ctx);
	hash = sock_lb_hash(cookie, *addr, *port, frontend.proto);
	/* TCP: a random slot per connection. UDP: the socket's hash, so the datagrams of one socket
	 * (connected or not) stay with one backend, as a conntrack entry keeps them per-packet. */
	pick = frontend.proto == IPPROTO_TCP ? bpf_get_prandom_u32() : hash;
	id = lb4_select_backend(&frontend, svc, &client, hash, pick, now);
	be = id ? bpf_map_lookup_elem(&cilia_lb4_backends, &id) : NULL;
	if (!be)
		return REJECT_NO_SERVICE(ctx, cookie, &frontend);
	if (svc->flags & SVC_F_AFFINITY)
		lb4_affinity_update(&client, svc, id, now);
	/* Before the rewrite: a reply must never find the mapping missing. */
	if (sock4_revnat_update(cookie, be, &frontend, svc->rev_nat_index) < 0)
		return -ENOMEM;
	metrics_update(REASON_FORWARDED, DIR_SERVICE, 0);
	*addr = be->address;
	*port = be->port;
	return 1;
}

/* recvmsg()/getpeername() reporting (*addr, *port): if this socket reached that backend through a
 * service, sets *addr and *port to the frontend and returns true. A mapping whose service is gone or
 * now has another rev-NAT index (deleted and recreated) is stale: it is deleted and nothing changes. */
static __always_inline bool sock4_xlate_rev(struct bpf_sock_addr *ctx, __be32 *addr, __be16 *port)
{
	struct ipv4_revnat_tuple key = {
		.cookie = bpf_get_socket_cookie(ctx), .address = *addr, .port = *port,
	};
	struct ipv4_revnat_entry *val;
	struct lb4_service *svc;
	struct lb4_key frontend;

	val = bpf_map_lookup_elem(&cilia_lb4_reverse_sk, &key);
	if (!val)
		return false;
	lb4_frontend_key(&frontend, val->address, val->port, ctx->protocol);
	svc = lb4_lookup_frontend(&frontend);
	if (!svc || svc->rev_nat_index != val->rev_nat_index) {
		bpf_map_delete_elem(&cilia_lb4_reverse_sk, &key);
		return false;
	}
	*addr = val->address;
	*port = val->port;
	return true;
}

/* ---- IPv4 sockets ------------------------------------------------------------------------------- */

static __always_inline int sock4_fwd(struct bpf_sock_addr *ctx)
{
	__be32 addr = ctx->user_ip4;
	__be16 port = ctx_user_port(ctx);
	int ret = sock4_xlate_fwd(ctx, &addr, &port);

	if (ret < 0)
		return sock_reject(ret);
	if (ret > 0) {
		ctx->user_ip4 = addr;
		ctx_set_user_port(ctx, port);
	}
	return SYS_PROCEED;
}

static __always_inline int sock4_rev(struct bpf_sock_addr *ctx)
{
	__be32 addr = ctx->user_ip4;
	__be16 port = ctx_user_port(ctx);

	if (sock4_xlate_rev(ctx, &addr, &port)) {
		ctx->user_ip4 = addr;
		ctx_set_user_port(ctx, port);
	}
	return SYS_PROCEED; /* recvmsg and getpeername cannot fail from here */
}

SEC("cgroup/connect4")
int cil_sock4_connect(struct bpf_sock_addr *ctx)
{
	return sock4_fwd(ctx);
}

/* Unconnected UDP: every sendto()/sendmsg() with an address. */
SEC("cgroup/sendmsg4")
int cil_sock4_sendmsg(struct bpf_sock_addr *ctx)
{
	return sock4_fwd(ctx);
}

/* UDP: the source address recvfrom()/recvmsg() report. */
SEC("cgroup/recvmsg4")
int cil_sock4_recvmsg(struct bpf_sock_addr *ctx)
{
	return sock4_rev(ctx);
}

SEC("cgroup/getpeername4")
int cil_sock4_getpeername(struct bpf_sock_addr *ctx)
{
	return sock4_rev(ctx);
}

/* ---- IPv6 sockets: IPv4-mapped addresses of dual-stack sockets ------------------------------ */

/* Real IPv6 destinations pass untouched (there are no IPv6 services yet). Only the last word of a
 * mapped address is the IPv4 address, so only it is rewritten. */
static __always_inline int sock6_fwd(struct bpf_sock_addr *ctx)
{
	__be32 addr;
	__be16 port;
	int ret;

	if (!ctx_user_ip6_v4mapped(ctx, &addr))
		return SYS_PROCEED;
	port = ctx_user_port(ctx);
	ret = sock4_xlate_fwd(ctx, &addr, &port);
	if (ret < 0)
		return sock_reject(ret);
	if (ret > 0) {
		ctx->user_ip6[3] = addr;
		ctx_set_user_port(ctx, port);
	}
	return SYS_PROCEED;
}

static __always_inline int sock6_rev(struct bpf_sock_addr *ctx)
{
	__be32 addr;
	__be16 port;

	if (!ctx_user_ip6_v4mapped(ctx, &addr))
		return SYS_PROCEED;
	port = ctx_user_port(ctx);
	if (sock4_xlate_rev(ctx, &addr, &port)) {
		ctx->user_ip6[3] = addr;
		ctx_set_user_port(ctx, port);
	}
	return SYS_PROCEED;
}

SEC("cgroup/connect6")
int cil_sock6_connect(struct bpf_sock_addr *ctx)
{
	return sock6_fwd(ctx);
}

SEC("cgroup/sendmsg6")
int cil_sock6_sendmsg(struct bpf_sock_addr *ctx)
{
	return sock6_fwd(ctx);
}

SEC("cgroup/recvmsg6")
int cil_sock6_recvmsg(struct bpf_sock_addr *ctx)
{
	return sock6_rev(ctx);
}

SEC("cgroup/getpeername6")
int cil_sock6_getpeername(struct bpf_sock_addr *ctx)
{
	return sock6_rev(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
