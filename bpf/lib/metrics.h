/* Packet and byte counters per (reason, direction): forwarded packets count under reason 0. The map
 * is per CPU, so no atomic operations are needed; the agent sums the CPUs. */
#ifndef CILIA_METRICS_H
#define CILIA_METRICS_H

#include "common.h"
#include "maps.h"

static __always_inline void metrics_update(__u8 reason, __u8 dir, __u32 len)
{
	struct metrics_key key = { .reason = reason, .dir = dir };
	struct metrics_value *v = bpf_map_lookup_elem(&cilia_metrics, &key);

	if (likely(v)) {
		v->count += 1;
		v->bytes += len;
		return;
	}
	struct metrics_value init = { .count = 1, .bytes = len };
	/* Another CPU may have created its own slot meanwhile: NOEXIST then fails, and that CPU's
	 * value is separate anyway, so the packet is counted on the next one. Acceptable for metrics. */
	bpf_map_update_elem(&cilia_metrics, &key, &init, BPF_NOEXIST);
}

#endif /* CILIA_METRICS_H */
