// Test object for pkg/bpf: `bad_access` reads packet data without a bounds check, so the
// verifier rejects it; the loader must report the verifier log. `fine` is a valid program.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int fine(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("tc")
int bad_access(struct __sk_buff *skb)
{
	__u8 *data = (__u8 *)(long)skb->data;

	return data[12];
}

char LICENSE[] SEC("license") = "GPL";
