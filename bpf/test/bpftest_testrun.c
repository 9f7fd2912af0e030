// Test object for pkg/bpf: reports what a BPF_PROG_TEST_RUN context looked like. The program
// returns skb->ifindex, records ctx fields in `seen`, swaps the Ethernet addresses of the packet
// and writes skb->mark and cb[1] so the test can read them back from ctx_out.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct ctx_seen {
	__u32 ifindex;
	__u32 ingress_ifindex;
	__u32 mark;
	__u32 priority;
	__u32 cb0;
	__u32 len;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ctx_seen);
} seen SEC(".maps");

SEC("tc")
int echo_ctx(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u8 tmp[ETH_ALEN];
	__u32 zero = 0;
	struct ctx_seen *s = bpf_map_lookup_elem(&seen, &zero);
	int i;

	if (s) {
		s->ifindex = skb->ifindex;
		s->ingress_ifindex = skb->ingress_ifindex;
		s->mark = skb->mark;
		s->priority = skb->priority;
		s->cb0 = skb->cb[0];
		s->len = skb->len;
	}
	if ((void *)(eth + 1) <= data_end) {
		for (i = 0; i < ETH_ALEN; i++) {
			tmp[i] = eth->h_dest[i];
			eth->h_dest[i] = eth->h_source[i];
			eth->h_source[i] = tmp[i];
		}
	}
	skb->mark = skb->mark + 1;
	skb->cb[1] = 0xabcd;
	return skb->ifindex;
}

char LICENSE[] SEC("license") = "GPL";
