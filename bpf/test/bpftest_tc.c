// Test object for pkg/bpf: two tc programs that count packets in their own slot of an array,
// so a test can tell which program handled each packet while it replaces one with the other.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} tc_counts SEC(".maps");

static __always_inline int count(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&tc_counts, &slot);

	if (n)
		__sync_fetch_and_add(n, 1);
	return TC_ACT_OK;
}

SEC("tc")
int count_v1(struct __sk_buff *skb)
{
	return count(0);
}

SEC("tc")
int count_v2(struct __sk_buff *skb)
{
	return count(1);
}

char LICENSE[] SEC("license") = "GPL";
