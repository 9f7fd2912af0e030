/* The floor of eBPF host routing, for bench/throughput: a tc ingress program on a pod's host-side veth
 * that only hands every packet to the other pod with bpf_redirect_peer(). No lookups, no conntrack,
 * no rewrites. Built by the benchmark at run time with -DIF_A=<ifindex> -DIF_B=<ifindex>: the two
 * host-side veths, each program sends to the other's peer. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int bench_redirect_peer(struct __sk_buff *skb)
{
	return bpf_redirect_peer(skb->ifindex == IF_A ? IF_B : IF_A, 0);
}

char _license[] SEC("license") = "GPL";
