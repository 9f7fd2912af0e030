// Test object for pkg/bpf: a cgroup connect4 program that rewrites the destination of a
// connect() found in `svc_map` (socket load balancing in miniature) and counts rewrites.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct svc_key {
	__be32 vip;
	__be16 port;
	__u16 pad;
};

struct svc_backend {
	__be32 ip;
	__be16 port;
	__u16 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, struct svc_key);
	__type(value, struct svc_backend);
} svc_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} rewrites SEC(".maps");

SEC("cgroup/connect4")
int sock_connect4(struct bpf_sock_addr *ctx)
{
	struct svc_key key = { .vip = ctx->user_ip4, .port = (__u16)ctx->user_port };
	struct svc_backend *be = bpf_map_lookup_elem(&svc_map, &key);
	__u32 zero = 0;
	__u64 *n;

	if (!be)
		return 1;
	ctx->user_ip4 = be->ip;
	ctx->user_port = be->port;
	n = bpf_map_lookup_elem(&rewrites, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
