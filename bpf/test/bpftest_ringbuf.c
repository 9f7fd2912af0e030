// Test object for pkg/bpf: every run emits one variable-size record (16..72 bytes) into a
// ring buffer. A record is {u64 seq, u32 len, u32 magic} followed by bytes (seq + i) & 0xff,
// so the reader can check that each record arrived whole. Failed outputs are counted.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define RECORD_MAX 72
#define RECORD_MAGIC 0x52494e47 /* "RING" */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

/* [0] = records attempted (next sequence number), [1] = records dropped (ring full). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} ring_stats SEC(".maps");

SEC("tc")
int emit(struct __sk_buff *skb)
{
	__u8 rec[RECORD_MAX] = {};
	__u32 k_seq = 0, k_drop = 1;
	__u64 *seqp = bpf_map_lookup_elem(&ring_stats, &k_seq);
	__u64 *dropp = bpf_map_lookup_elem(&ring_stats, &k_drop);
	__u64 seq;
	__u32 len;
	int i;

	if (!seqp || !dropp)
		return TC_ACT_OK;
	seq = __sync_fetch_and_add(seqp, 1);
	len = 16 + (seq & 7) * 8;
	*(__u64 *)&rec[0] = seq;
	*(__u32 *)&rec[8] = len;
	*(__u32 *)&rec[12] = RECORD_MAGIC;
#pragma unroll
	for (i = 16; i < RECORD_MAX; i++)
		rec[i] = (__u8)(seq + i);
	if (bpf_ringbuf_output(&events, rec, len & 0x7f, 0) < 0)
		__sync_fetch_and_add(dropp, 1);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
