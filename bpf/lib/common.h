/* Basics every datapath object includes: kernel and libbpf headers, branch hints, directions,
 * reserved identities and the source file ids that drop events carry. */
#ifndef CILIA_COMMON_H
#define CILIA_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/icmp.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <stdbool.h>
#include <stddef.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Traffic direction as events (`dir`), metrics (`dir`) and the policy key (`egress`) see it. */
#define DIR_INGRESS 1 /* towards the endpoint */
#define DIR_EGRESS  2 /* away from the endpoint */
#define DIR_SERVICE 3 /* metrics only: drops of the service load balancer */

/* Reserved security identities (Cilium's numbers). */
#define IDENTITY_HOST  1
#define IDENTITY_WORLD 2

/* Source file ids carried by drop events (`file`), as in Cilium: 2 = bpf_lxc.c, 5 = bpf_sock.c. */
#define FILE_ID_BPF_LXC  2
#define FILE_ID_BPF_SOCK 5

#define NSEC_PER_SEC 1000000000ULL

/* Seconds of CLOCK_MONOTONIC: the time unit of conntrack lifetimes and affinity timestamps. */
static __always_inline __u32 now_seconds(void)
{
	return (__u32)(bpf_ktime_get_ns() / NSEC_PER_SEC);
}

#endif /* CILIA_COMMON_H */
