// Owns the TypeScript side of the datapath's map ABI (docs/datapath.md, bpf/lib/maps.h): one codec per
// C struct (field names = C member names, so the alignment check compares them through BTF), the map
// table with names, types and default sizes, and opening every pinned map of an agent under its bpf root.
// Addresses are dotted strings and ports host-order numbers; the codecs store them in network order.
import path from 'node:path';
import {
  BpfMap, MapType, be16, ipv4, mac, pad, struct, u16, u16Codec, u32, u32Codec, u64, u8, u8Codec, type Codec,
  type CodecValue,
} from '../bpf/index.js';

// ---- endpoints -------------------------------------------------------------------------------

/** `endpoint_key.kind`: the key holds a pod IPv4 address. */
export const ENDPOINT_KEY_IPV4 = 1;
/** `endpoint_key.kind`: the key holds the ifindex of the host-side veth. */
export const ENDPOINT_KEY_IFINDEX = 2;
/** `endpoint_info.flags`: ingress policy is enforced. */
export const EP_F_INGRESS_ENFORCED = 1;
/** `endpoint_info.flags`: egress policy is enforced. */
export const EP_F_EGRESS_ENFORCED = 2;

/**
 * `struct endpoint_key`. `addr_or_ifindex` is the raw u32: for kind 1 it holds the address in network order,
 * so build keys with `endpointKeyByIp` / `endpointKeyByIfindex` rather than by hand.
 */
export const endpointKey = struct('endpoint_key', { addr_or_ifindex: u32, kind: u8, pad: pad(3) });
/** Key of `cilia_lxc`. */
export type EndpointKey = CodecValue<typeof endpointKey>;

/** `struct endpoint_info`: what the datapath knows about one local endpoint. */
export const endpointInfo = struct('endpoint_info', {
  ifindex: u32, lxc_id: u16, flags: u16, sec_id: u32, ipv4, mac, node_mac: mac, policy_rev: u32,
});
/** Value of `cilia_lxc`. */
export type EndpointInfo = CodecValue<typeof endpointInfo>;

/** The `cilia_lxc` key of an endpoint by pod IPv4 address. Throws TypeError for a malformed address. */
export function endpointKeyByIp(ip: string): EndpointKey {
  return { addr_or_ifindex: ipv4Raw(ip), kind: ENDPOINT_KEY_IPV4 };
}

/** The `cilia_lxc` key of an endpoint by the ifindex of its host-side veth. */
export function endpointKeyByIfindex(ifindex: number): EndpointKey {
  return { addr_or_ifindex: ifindex, kind: ENDPOINT_KEY_IFINDEX };
}

/** The u32 whose little-endian bytes are the address in network order (a `__be32` read as a host u32). */
export function ipv4Raw(ip: string): number {
  const b = Buffer.alloc(4);
  ipv4.write(b, 0, ip);
  return b.readUInt32LE(0);
}

// ---- ipcache ---------------------------------------------------------------------------------

/** `struct ipcache_key` (LPM: `prefixlen` 0..32 covers `addr`). */
export const ipcacheKey = struct('ipcache_key', { prefixlen: u32, addr: ipv4 });
/** Key of `cilia_ipcache`. */
export type IpcacheKey = CodecValue<typeof ipcacheKey>;

/** `struct remote_endpoint_info`: the identities of an address or CIDR. */
export const remoteEndpointInfo = struct('remote_endpoint_info', {
  sec_identity: u32, cidr_identity: u32, tunnel_endpoint: ipv4, flags: u8, pad: pad(3),
});
/** Value of `cilia_ipcache`. */
export type RemoteEndpointInfo = CodecValue<typeof remoteEndpointInfo>;

// ---- policy ----------------------------------------------------------------------------------

/** `policy_key.prefixlen` of an exact (identity, endpoint, direction, protocol, port) entry. */
export const POLICY_PREFIX_EXACT = 80;
/** `policy_key.prefixlen` of an entry matching any protocol and port. */
export const POLICY_PREFIX_ANY_L4 = 56;
/** `policy_key.prefixlen` of an entry matching a protocol and any port. */
export const POLICY_PREFIX_ANY_PORT = 64;

/** `struct policy_key` (LPM over sec_label, ep_id, egress, protocol, dport; see `policyPrefixForPorts`). */
export const policyKey = struct('policy_key', {
  prefixlen: u32, sec_label: u32, ep_id: u16, egress: u8, protocol: u8, dport: be16, pad: pad(2),
});
/** Key of `cilia_policy`. */
export type PolicyKey = CodecValue<typeof policyKey>;

/** `struct policy_entry`. `packets`/`bytes` count the new connections the entry decided. */
export const policyEntry = struct('policy_entry', {
  deny: u8, flags: u8, pad: pad(2), rule_id: u32, packets: u64, bytes: u64,
});
/** Value of `cilia_policy`. */
export type PolicyEntry = CodecValue<typeof policyEntry>;

/**
 * The prefix length for a port range covered by one LPM entry: `64 + n` where the range is the 2^(16-n) ports
 * sharing the first n bits of `port`. Throws RangeError unless `portBits` is 0..16.
 */
export function policyPrefixForPorts(portBits: number): number {
  if (!Number.isInteger(portBits) || portBits < 0 || portBits > 16) throw new RangeError(`port prefix ${portBits} is not in 0..16`);
  return POLICY_PREFIX_ANY_PORT + portBits;
}

// ---- conntrack -------------------------------------------------------------------------------

/** `ipv4_ct_tuple.flags`: the entry belongs to the sender. */
export const CT_EGRESS = 0;
/** `ipv4_ct_tuple.flags`: the entry belongs to the receiver. */
export const CT_INGRESS = 1;
/** `ipv4_ct_tuple.flags`: a per-packet LB entry on the original (pre-DNAT) tuple. */
export const CT_SERVICE = 2;
/** `ct_entry.flags`: FIN seen in the original direction (or RST). */
export const CT_F_TX_CLOSING = 1;
/** `ct_entry.flags`: FIN seen in the reply direction (or RST). */
export const CT_F_RX_CLOSING = 2;
/** `ct_entry.flags`: the TCP handshake completed (a packet without SYN after a reply): established lifetime. */
export const CT_F_SEEN_NON_SYN = 4;

/** `struct ipv4_ct_tuple`: the tuple of a connection's first packet plus its owner flag. */
export const ipv4CtTuple = struct('ipv4_ct_tuple', {
  saddr: ipv4, daddr: ipv4, sport: be16, dport: be16, nexthdr: u8, flags: u8, pad: pad(2),
});
/** Key of `cilia_ct4`. */
export type Ipv4CtTuple = CodecValue<typeof ipv4CtTuple>;

/** `struct ct_entry`. Times are seconds of CLOCK_MONOTONIC. */
export const ctEntry = struct('ct_entry', {
  tx_packets: u64, tx_bytes: u64, rx_packets: u64, rx_bytes: u64, lifetime: u32, created: u32, rev_nat_index: u16,
  flags: u16, tx_flags_seen: u8, rx_flags_seen: u8, pad: pad(2), src_sec_id: u32, policy_rev: u32,
  last_report: u32, backend_id: u32, nat_addr: ipv4, nat_port: be16, pad2: pad(2),
});
/** Value of `cilia_ct4`. */
export type CtEntry = CodecValue<typeof ctEntry>;

// ---- metrics ---------------------------------------------------------------------------------

/** `metrics_key.dir` values (also the `dir` of events, except service). */
export const MetricDir = { Ingress: 1, Egress: 2, Service: 3 } as const;

/** `struct metrics_key`: reason 0 = forwarded, else the drop reason. */
export const metricsKey = struct('metrics_key', { reason: u8, dir: u8, pad: pad(2) });
/** Key of `cilia_metrics`. */
export type MetricsKey = CodecValue<typeof metricsKey>;

/** `struct metrics_value` (per CPU). */
export const metricsValue = struct('metrics_value', { count: u64, bytes: u64 });
/** Value of `cilia_metrics` (one per CPU). */
export type MetricsValue = CodecValue<typeof metricsValue>;

// ---- load balancing --------------------------------------------------------------------------

/** `lb4_service.flags`: session affinity by client IP (timeout in the master's backend_id). */
export const SVC_F_AFFINITY = 1;
/** `lb4_service.flags`: choose new backends from the service's Maglev table in `cilia_lb4_maglev`. */
export const SVC_F_MAGLEV = 2;
/** `lb4_service.flags`: clients must match `cilia_lb4_source_range` (else drop 177). */
export const SVC_F_SOURCE_RANGE = 4;
/** `lb4_service.flags`: local backends only (the agent fills the slots accordingly; the datapath ignores it). */
export const SVC_F_LOCAL = 8;
/** `lb4_backend.flags`: backend states. */
export const BackendState = { Active: 0, Terminating: 1, Quarantined: 2, Maintenance: 3 } as const;

/** `struct lb4_key`: slot 0 is the service, 1..count its backend slots. */
export const lb4Key = struct('lb4_key', {
  address: ipv4, dport: be16, backend_slot: u16, proto: u8, scope: u8, pad: pad(2),
});
/** Key of `cilia_lb4_services`. */
export type Lb4Key = CodecValue<typeof lb4Key>;

/** `struct lb4_service`: master (slot 0: backend_id = affinity timeout in s, count) or slot (backend_id). */
export const lb4Service = struct('lb4_service', {
  backend_id: u32, count: u16, rev_nat_index: u16, flags: u8, flags2: u8, pad: pad(2),
});
/** Value of `cilia_lb4_services`. */
export type Lb4Service = CodecValue<typeof lb4Service>;

/** `struct lb4_backend`. */
export const lb4Backend = struct('lb4_backend', { address: ipv4, port: be16, proto: u8, flags: u8 });
/** Value of `cilia_lb4_backends` (key: backend id, u32). */
export type Lb4Backend = CodecValue<typeof lb4Backend>;

/** `struct lb4_reverse_nat`: the frontend replies are rewritten to. */
export const lb4ReverseNat = struct('lb4_reverse_nat', { address: ipv4, port: be16, pad: pad(2) });
/** Value of `cilia_lb4_reverse_nat` (key: rev-NAT index, u16). */
export type Lb4ReverseNat = CodecValue<typeof lb4ReverseNat>;

/** `struct lb4_affinity_key`. For per-packet LB `client_id = affinityClientId(clientIp)`. */
export const lb4AffinityKey = struct('lb4_affinity_key', {
  client_id: u64, rev_nat_id: u16, netns_cookie: u8, pad: pad(5),
});
/** Key of `cilia_lb4_affinity`. */
export type Lb4AffinityKey = CodecValue<typeof lb4AffinityKey>;

/** `struct lb_affinity_val` (`last_used` in seconds of CLOCK_MONOTONIC). */
export const lbAffinityVal = struct('lb_affinity_val', { last_used: u64, backend_id: u32, pad: pad(4) });
/** Value of `cilia_lb4_affinity`. */
export type LbAffinityVal = CodecValue<typeof lbAffinityVal>;

/** The `client_id` of an affinity key for a client IPv4: the `__be32` widened to u64 (bytes 0-3). */
export function affinityClientId(ip: string): bigint {
  return BigInt(ipv4Raw(ip));
}

/** `struct lb4_src_range_key` (LPM: `prefixlen` = 32 + CIDR bits, covering rev_nat_id, pad and addr). */
export const lb4SrcRangeKey = struct('lb4_src_range_key', { prefixlen: u32, rev_nat_id: u16, pad: pad(2), addr: ipv4 });
/** Key of `cilia_lb4_source_range`. */
export type Lb4SrcRangeKey = CodecValue<typeof lb4SrcRangeKey>;

/** `struct ipv4_revnat_tuple` (socket LB). */
export const ipv4RevnatTuple = struct('ipv4_revnat_tuple', { cookie: u64, address: ipv4, port: be16, pad: pad(2) });
/** Key of `cilia_lb4_reverse_sk`. */
export type Ipv4RevnatTuple = CodecValue<typeof ipv4RevnatTuple>;

/** `struct ipv4_revnat_entry` (socket LB). */
export const ipv4RevnatEntry = struct('ipv4_revnat_entry', { address: ipv4, port: be16, rev_nat_index: u16 });
/** Value of `cilia_lb4_reverse_sk`. */
export type Ipv4RevnatEntry = CodecValue<typeof ipv4RevnatEntry>;

/**
 * BPF_F_INNER_MAP: every Maglev inner array must carry it, because the outer map's template does (it lets
 * inner arrays of any size in; the kernel refuses an inner map whose flags differ from the template's).
 */
export const BPF_F_INNER_MAP = 0x1000;

// ---- the map table ---------------------------------------------------------------------------

/** A datapath map as the spec defines it. */
export interface MapDescriptor<K, V> {
  /** Map and pin name. */
  readonly name: string;
  /** BPF_MAP_TYPE_* (MapType). */
  readonly type: number;
  readonly key: Codec<K>;
  readonly value: Codec<V>;
  /** max_entries the object declares (ring buffer: bytes). */
  readonly defaultMaxEntries: number;
  /** The agent flag that sizes it, if any. */
  readonly sizeFlag?: string;
}

function descriptor<K, V>(d: MapDescriptor<K, V>): MapDescriptor<K, V> {
  return d;
}

/** Every map of bpf_lxc.o except the ring buffer (see `EVENTS_MAP`), by short name. */
export const DATAPATH_MAPS = {
  lxc: descriptor({ name: 'cilia_lxc', type: MapType.Hash, key: endpointKey, value: endpointInfo, defaultMaxEntries: 65535, sizeFlag: 'bpf-lxc-map-max' }),
  ipcache: descriptor({ name: 'cilia_ipcache', type: MapType.LpmTrie, key: ipcacheKey, value: remoteEndpointInfo, defaultMaxEntries: 512000, sizeFlag: 'bpf-ipcache-map-max' }),
  policy: descriptor({ name: 'cilia_policy', type: MapType.LpmTrie, key: policyKey, value: policyEntry, defaultMaxEntries: 262144, sizeFlag: 'bpf-policy-map-max' }),
  ct4: descriptor({ name: 'cilia_ct4', type: MapType.LruHash, key: ipv4CtTuple, value: ctEntry, defaultMaxEntries: 262144, sizeFlag: 'bpf-ct-global-max' }),
  metrics: descriptor({ name: 'cilia_metrics', type: MapType.PercpuHash, key: metricsKey, value: metricsValue, defaultMaxEntries: 1024 }),
  lb4Services: descriptor({ name: 'cilia_lb4_services', type: MapType.Hash, key: lb4Key, value: lb4Service, defaultMaxEntries: 65536, sizeFlag: 'bpf-lb-map-max' }),
  lb4Backends: descriptor({ name: 'cilia_lb4_backends', type: MapType.Hash, key: u32Codec, value: lb4Backend, defaultMaxEntries: 65536 }),
  lb4ReverseNat: descriptor({ name: 'cilia_lb4_reverse_nat', type: MapType.Hash, key: u16Codec, value: lb4ReverseNat, defaultMaxEntries: 65536 }),
  lb4Affinity: descriptor({ name: 'cilia_lb4_affinity', type: MapType.LruHash, key: lb4AffinityKey, value: lbAffinityVal, defaultMaxEntries: 65536 }),
  lb4SourceRange: descriptor({ name: 'cilia_lb4_source_range', type: MapType.LpmTrie, key: lb4SrcRangeKey, value: u8Codec, defaultMaxEntries: 65536 }),
  /** Values are inner map fds on write and inner map ids on read (the kernel's map-in-map rule). */
  lb4Maglev: descriptor({ name: 'cilia_lb4_maglev', type: MapType.HashOfMaps, key: u16Codec, value: u32Codec, defaultMaxEntries: 1024, sizeFlag: 'bpf-lb-maglev-map-max' }),
  lb4ReverseSk: descriptor({ name: 'cilia_lb4_reverse_sk', type: MapType.LruHash, key: ipv4RevnatTuple, value: ipv4RevnatEntry, defaultMaxEntries: 262144 }),
} as const;

/** The ring buffer of monitor events (records: `ciliaEvent` in events.ts); its size is in bytes. */
export const EVENTS_MAP = { name: 'cilia_events', type: MapType.RingBuf, defaultMaxEntries: 4 * 1024 * 1024, sizeFlag: 'monitor-ring-size' } as const;

/** Short names of the typed datapath maps. */
export type DatapathMapName = keyof typeof DATAPATH_MAPS;

/** The typed map handles of one agent: one BpfMap per entry of DATAPATH_MAPS. */
export type DatapathMaps = {
  -readonly [N in DatapathMapName]: (typeof DATAPATH_MAPS)[N] extends MapDescriptor<infer K, infer V> ? BpfMap<K, V> : never;
};

/** Every struct codec of the map ABI, for the alignment check against the object's BTF. */
export const MAP_CODECS: readonly Codec<unknown>[] = [
  endpointKey, endpointInfo, ipcacheKey, remoteEndpointInfo, policyKey, policyEntry, ipv4CtTuple, ctEntry, metricsKey,
  metricsValue, lb4Key, lb4Service, lb4Backend, lb4ReverseNat, lb4AffinityKey, lbAffinityVal, lb4SrcRangeKey,
  ipv4RevnatTuple, ipv4RevnatEntry,
] as Codec<unknown>[];

/** Where map `name` is pinned under an agent's bpf root. */
export function mapPinPath(bpfRoot: string, name: string): string {
  return path.join(bpfRoot, name);
}

/**
 * Opens every pinned datapath map under `bpfRoot` (the agent's --bpf-root) with its codecs. The caller owns
 * the handles: close them with `closeDatapathMaps`. Throws BpfError (ENOENT when a map is not pinned, i.e. the
 * datapath was never loaded there) or Error when a pinned map's key/value size differs from its codec; maps
 * opened before the failure are closed.
 */
export function openDatapathMaps(bpfRoot: string): DatapathMaps {
  const opened: Partial<Record<DatapathMapName, BpfMap<unknown, unknown>>> = {};
  try {
    for (const [short, d] of Object.entries(DATAPATH_MAPS) as [DatapathMapName, MapDescriptor<unknown, unknown>][]) {
      opened[short] = BpfMap.openPinned(mapPinPath(bpfRoot, d.name), d.key, d.value);
    }
  } catch (e) {
    for (const m of Object.values(opened)) m.close();
    throw e;
  }
  return opened as DatapathMaps;
}

/** Closes every handle of `maps`. Idempotent. */
export function closeDatapathMaps(maps: DatapathMaps): void {
  for (const m of Object.values(maps) as BpfMap<unknown, unknown>[]) m.close();
}

/**
 * Creates a Maglev inner table: an ARRAY of `table.length` u32 backend ids with BPF_F_INNER_MAP, filled with
 * `table`. Insert it with `maps.lb4Maglev.put(revNatIndex, inner.fd)`, then close it (the outer map keeps
 * it). `table.length` should equal the datapath's CFG_MAGLEV_TABLE_SIZE. Throws BpfError on failure.
 */
export function createMaglevTable(table: readonly number[]): BpfMap<number, number> {
  const inner = BpfMap.create({
    type: MapType.Array, name: 'cilia_maglev_in', key: u32Codec, value: u32Codec, maxEntries: table.length,
    flags: BPF_F_INNER_MAP,
  });
  try {
    table.forEach((id, i) => { if (id !== 0) inner.put(i, id); });
  } catch (e) {
    inner.close();
    throw e;
  }
  return inner;
}
