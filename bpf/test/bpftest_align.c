// Test object for pkg/bpf: structs whose BTF the alignment-check tests compare with TS codecs.
// Padding holes, a nested struct, an array and an anonymous union are there on purpose.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct align_inner {
	__u16 a;
	__u32 b;
};

struct align_test {
	__u8 flags;
	__u32 id;
	__u64 big;
	__u8 mac[6];
	__be16 port;
	struct align_inner inner;
	__u32 arr[3];
	union {
		__be32 ip4;
		__u8 ip6[16];
	};
	__u16 tail;
};

typedef struct align_test align_test_t;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, align_test_t);
} align_map SEC(".maps");

SEC("tc")
int align_ref(struct __sk_buff *skb)
{
	__u32 zero = 0;
	align_test_t *v = bpf_map_lookup_elem(&align_map, &zero);

	return v ? v->tail : 0;
}

char LICENSE[] SEC("license") = "GPL";
