// Test object for pkg/bpf: declares the PIN_BY_NAME map of bpftest_consts.c with another value
// size, so loading it over the first object's pins must fail with a clear mismatch error.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bpftest_pinned SEC(".maps");

SEC("tc")
int touch_pinned(struct __sk_buff *skb)
{
	__u32 one = 1;
	__u32 *v = bpf_map_lookup_elem(&bpftest_pinned, &one);

	return v ? *v : 0;
}

char LICENSE[] SEC("license") = "GPL";
