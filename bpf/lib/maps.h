/* The map ABI shared with TypeScript (docs/datapath.md, pkg/datapath/maps.ts): every key and value
 * struct and every map, pinned by name under the agent's bpf root. Change a layout here and in the
 * TS codec together; the alignment check compares them through BTF. */
#ifndef CILIA_MAPS_H
#define CILIA_MAPS_H

#include "common.h"

/* ---- endpoints ----------------------------------------------------------------------------- */

#define ENDPOINT_KEY_IPV4    1
#define ENDPOINT_KEY_IFINDEX 2

#define EP_F_INGRESS_ENFORCED 1
#define EP_F_EGRESS_ENFORCED  2

struct endpoint_key {
	__u32 addr_or_ifindex; /* kind 1: pod IPv4 (network order); kind 2: host-side veth ifindex */
	__u8  kind;
	__u8  pad[3];
};

struct endpoint_info {
	__u32  ifindex;    /* host-side veth */
	__u16  lxc_id;     /* endpoint id */
	__u16  flags;      /* EP_F_* */
	__u32  sec_id;     /* security identity */
	__be32 ipv4;
	__u8   mac[ETH_ALEN];      /* pod eth0 */
	__u8   node_mac[ETH_ALEN]; /* host-side veth */
	__u32  policy_rev; /* bumped by the agent after rewriting this endpoint's policy entries */
};

/* ---- ipcache ------------------------------------------------------------------------------- */

struct ipcache_key {
	__u32  prefixlen; /* LPM: 0..32, covers addr */
	__be32 addr;
};

struct remote_endpoint_info {
	__u32  sec_identity;    /* the address' own identity */
	__u32  cidr_identity;   /* longest policy-referenced CIDR containing it, 0 if none */
	__be32 tunnel_endpoint;
	__u8   flags;
	__u8   pad[3];
};

/* ---- policy -------------------------------------------------------------------------------- */

/* LPM over sec_label(32) ep_id(16) egress(8) protocol(8) dport(16) = 80 bits after prefixlen. */
#define POLICY_PREFIX_EXACT  80
#define POLICY_PREFIX_ANY_L4 56 /* sec_label, ep_id and egress only: any protocol and port */

struct policy_key {
	__u32  prefixlen;
	__u32  sec_label; /* peer identity; 0 = any */
	__u16  ep_id;
	__u8   egress;    /* 0 ingress, 1 egress */
	__u8   protocol;
	__be16 dport;     /* ICMP: the ICMP type */
	__u16  pad;
};

struct policy_entry {
	__u8  deny;
	__u8  flags;
	__u16 pad;
	__u32 rule_id;
	__u64 packets; /* new connections decided by this entry (plain add, see policy.h) */
	__u64 bytes;
};

/* ---- conntrack ----------------------------------------------------------------------------- */

#define CT_EGRESS  0 /* owned by the sender */
#define CT_INGRESS 1 /* owned by the receiver */
#define CT_SERVICE 2 /* per-packet LB: the original (pre-DNAT) tuple and its backend */

#define CT_F_TX_CLOSING   1
#define CT_F_RX_CLOSING   2
#define CT_F_SEEN_NON_SYN 4

struct ipv4_ct_tuple {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;  /* ICMP echo request: the echo id */
	__be16 dport;  /* ICMP echo reply: the echo id */
	__u8   nexthdr;
	__u8   flags;  /* CT_EGRESS / CT_INGRESS / CT_SERVICE */
	__u16  pad;
};

struct ct_entry {
	__u64  tx_packets, tx_bytes; /* original direction */
	__u64  rx_packets, rx_bytes; /* reply direction */
	__u32  lifetime;             /* expiry, seconds of CLOCK_MONOTONIC */
	__u32  created;
	__u16  rev_nat_index;        /* != 0: replies are reverse-NATed to this frontend */
	__u16  flags;                /* CT_F_* */
	__u8   tx_flags_seen, rx_flags_seen;
	__u16  pad;
	__u32  src_sec_id;           /* peer identity when created / last revalidated */
	__u32  policy_rev;           /* owner's policy_rev the entry was last validated against */
	__u32  last_report;          /* seconds; last trace event (monitor aggregation) */
	__u32  backend_id;           /* CT_SERVICE: the chosen backend */
	__be32 nat_addr;             /* CT_SERVICE: backend address and port */
	__be16 nat_port;
	__u16  pad2;
};

/* ---- metrics ------------------------------------------------------------------------------- */

struct metrics_key {
	__u8  reason; /* 0 forwarded, else the drop reason */
	__u8  dir;    /* DIR_* */
	__u16 pad;
};

struct metrics_value {
	__u64 count;
	__u64 bytes;
};

/* ---- load balancing ------------------------------------------------------------------------ */

#define SVC_F_AFFINITY     1
#define SVC_F_MAGLEV       2
#define SVC_F_SOURCE_RANGE 4
#define SVC_F_LOCAL        8

#define BACKEND_STATE_ACTIVE 0

struct lb4_key {
	__be32 address;
	__be16 dport;
	__u16  backend_slot; /* 0 = the service (master) entry; 1..count = slots */
	__u8   proto;
	__u8   scope;
	__u8   pad[2];
};

struct lb4_service {
	__u32 backend_id;    /* slot: the backend; master: affinity timeout (s) */
	__u16 count;         /* master: number of slots */
	__u16 rev_nat_index;
	__u8  flags;         /* SVC_F_* */
	__u8  flags2;
	__u16 pad;
};

struct lb4_backend {
	__be32 address;
	__be16 port;
	__u8   proto;
	__u8   flags; /* state: 0 active, 1 terminating, 2 quarantined, 3 maintenance */
};

struct lb4_reverse_nat {
	__be32 address;
	__be16 port;
	__u16  pad;
};

struct lb4_affinity_key {
	__u64 client_id;    /* per-packet LB: the client IPv4 as loaded (bytes 0-3, network order) */
	__u16 rev_nat_id;
	__u8  netns_cookie; /* 1: client_id is a netns cookie (socket LB) */
	__u8  pad[5];
};

struct lb_affinity_val {
	__u64 last_used; /* seconds */
	__u32 backend_id;
	__u32 pad;
};

struct lb4_src_range_key {
	__u32  prefixlen; /* 32 + CIDR bits */
	__u16  rev_nat_id;
	__u16  pad;
	__be32 addr;
};

struct ipv4_revnat_tuple {
	__u64  cookie;
	__be32 address;
	__be16 port;
	__u16  pad;
};

struct ipv4_revnat_entry {
	__be32 address;
	__be16 port;
	__u16  rev_nat_index;
};

/* ---- the maps ------------------------------------------------------------------------------ */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct endpoint_key);
	__type(value, struct endpoint_info);
	__uint(max_entries, 65535);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilia_lxc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct ipcache_key);
	__type(value, struct remote_endpoint_info);
	__uint(max_entries, 512000);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilia_ipcache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct policy_key);
	__type(value, struct policy_entry);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilia_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct ipv4_ct_tuple);
	__type(value, struct ct_entry);
	__uint(max_entries, 262144);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilia_ct4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__type(key, struct metrics_key);
	__type(value, struct metrics_value);
	__uint(max_entries, 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilia_metrics SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilia_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct lb4_key);
	__type(value, struct lb4_service);
	__uint(max_entries, 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilia_lb4_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct lb4_backend);
	__uint(max_entries, 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilia_lb4_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u16);
	__type(value, struct lb4_reverse_nat);
	__uint(max_entries, 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilia_lb4_reverse_nat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb4_affinity_key);
	__type(value, struct lb_affinity_val);
	__uint(max_entries, 65536);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilia_lb4_affinity SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct lb4_src_range_key);
	__type(value, __u8);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilia_lb4_source_range SEC(".maps");

/* The template of the Maglev inner tables. BPF_F_INNER_MAP lets inner arrays of any size be
 * inserted (the kernel otherwise demands the template's max_entries); the agent must create each
 * inner ARRAY (u32 -> u32, M entries) with the same flag, or the insert fails with EINVAL. */
struct maglev_inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__type(key, __u16);
	__uint(max_entries, 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct maglev_inner_map);
} cilia_lb4_maglev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct ipv4_revnat_tuple);
	__type(value, struct ipv4_revnat_entry);
	__uint(max_entries, 262144);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cilia_lb4_reverse_sk SEC(".maps");

#endif /* CILIA_MAPS_H */
