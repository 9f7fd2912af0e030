/* Test object for the agent's alignment check: every map struct of bpf_lxc.o, except that
 * `struct endpoint_info` has its `lxc_id` moved. An agent pointed at this object (as bpf_lxc.o) must
 * refuse to start and name the struct and the field. Never loaded into the kernel. */
#define endpoint_info endpoint_info_real
#include "../lib/common.h"
#include "../lib/config.h"
#include "../lib/maps.h"
#include "../lib/events.h"
#undef endpoint_info

struct endpoint_info {
	__u32  ifindex;
	__u32  lxc_id_moved_here_pad;
	__u16  lxc_id;   /* offset 8 instead of 4 */
	__u16  flags;
	__u32  sec_id;
	__be32 ipv4;
	__u8   mac[ETH_ALEN];
	__u8   node_mac[ETH_ALEN];
	__u32  policy_rev;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct endpoint_info);
	__uint(max_entries, 1);
} bpftest_abi_fake_lxc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct cilia_event);
	__uint(max_entries, 1);
} bpftest_abi_events SEC(".maps");

SEC("tc")
int bpftest_abi(struct __sk_buff *skb)
{
	__u32 k = 0;
	struct endpoint_info *e = bpf_map_lookup_elem(&bpftest_abi_fake_lxc, &k);
	struct cilia_event *ev = bpf_map_lookup_elem(&bpftest_abi_events, &k);
	return (e ? e->lxc_id : 0) + (ev ? ev->type : 0) + skb->len * 0;
}

char LICENSE[] SEC("license") = "GPL";
