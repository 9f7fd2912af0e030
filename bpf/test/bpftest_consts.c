// Test object for pkg/bpf: `const volatile` globals set by the loader before load, and a
// PIN_BY_NAME map used to check that pinned maps are reused across loads.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 cfg_u32 = 0;
const volatile __u16 cfg_u16 = 0;
const volatile __u64 cfg_u64 = 0;
const volatile __s32 cfg_s32 = 0;
const volatile __u8 cfg_mac[6] = {};
const volatile __u8 cfg_flag = 0;

struct consts_out {
	__u32 u32;
	__u16 u16;
	__u8 mac[6];
	__u64 u64;
	__s32 s32;
	__u8 flag;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct consts_out);
} consts_out SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bpftest_pinned SEC(".maps");

SEC("tc")
int read_consts(struct __sk_buff *skb)
{
	__u32 zero = 0, one = 1;
	struct consts_out *o = bpf_map_lookup_elem(&consts_out, &zero);
	__u64 *runs;
	int i;

	if (o) {
		o->u32 = cfg_u32;
		o->u16 = cfg_u16;
		o->u64 = cfg_u64;
		o->s32 = cfg_s32;
		o->flag = cfg_flag;
		/* Byte by byte: clang folds a memcpy from a const volatile array to its zero initializer. */
		for (i = 0; i < 6; i++)
			o->mac[i] = cfg_mac[i];
	}
	runs = bpf_map_lookup_elem(&bpftest_pinned, &one);
	if (runs) {
		__sync_fetch_and_add(runs, 1);
	} else {
		__u64 first = 1;
		bpf_map_update_elem(&bpftest_pinned, &one, &first, BPF_NOEXIST);
	}
	return cfg_u32;
}

char LICENSE[] SEC("license") = "GPL";
