// Owns the monitor events of the datapath: the `cilia_event` ring buffer record (bpf/lib/events.h), its
// decoding into typed drop / trace / policy-verdict events, and their rendering as `cilium monitor`
// one-liners or JSON objects.
import { be16, ipv4, pad, struct, u16, u32, u64, u8, type CodecValue } from '../bpf/index.js';
import { dropReasonName, dropReasonText } from './reasons.js';

/** `struct cilia_event`: one fixed 56-byte ring buffer record. */
export const ciliaEvent = struct('cilia_event', {
  type: u8, subtype: u8, source: u16, ifindex: u32, src_label: u32, dst_label: u32, dst_id: u16, line: u16, file: u8,
  dir: u8, ct_state: u8, verdict: u8, proto: u8, tcp_flags: u8, sport: be16, dport: be16, pad: pad(2), saddr: ipv4,
  daddr: ipv4, orig_len: u32, hash: u32, ktime_ns: u64,
});
/** The raw record as decoded by `ciliaEvent`. */
export type CiliaEventRecord = CodecValue<typeof ciliaEvent>;

/** `cilia_event.type` values (Cilium's message types). */
export const EventType = { Drop: 1, Trace: 4, PolicyVerdict: 5 } as const;
/** Trace observation points (`subtype` of a trace). */
export const ObsPoint = { ToEndpoint: 0, ToHost: 2, ToStack: 3, FromEndpoint: 5 } as const;
/** Conntrack states (`ct_state`). */
export const CtState = { New: 0, Established: 1, Reply: 2, Related: 3, Reopened: 4 } as const;
/** Policy-verdict match types (`subtype` of a policy verdict). */
export const PolicyMatch = { None: 0, L3Only: 1, L3L4: 2, L4Only: 3, All: 4 } as const;
/** Policy-verdict outcomes (`verdict`). */
export const Verdict = { Allowed: 1, Denied: 2, DeniedByRule: 3 } as const;

const IPPROTO_ICMP = 1;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

const CT_STATE_NAMES = ['new', 'established', 'reply', 'related', 'reopened'];
const MATCH_NAMES = ['none', 'L3-Only', 'L3-L4', 'L4-Only', 'all'];
const FILE_NAMES: Record<number, string> = { 1: 'bpf_host.c', 2: 'bpf_lxc.c', 3: 'bpf_overlay.c', 4: 'bpf_xdp.c', 5: 'bpf_sock.c' };
const OBS_POINT_NAMES: Record<number, string> = { 0: 'to-endpoint', 2: 'to-host', 3: 'to-stack', 5: 'from-endpoint' };

/** Fields every event carries. Addresses are dotted strings, ports host-order numbers. */
export interface EventCommon {
  /** CLOCK_MONOTONIC nanoseconds when the event was sent. */
  readonly ktimeNs: bigint;
  /** Endpoint id that observed the packet. */
  readonly source: number;
  readonly ifindex: number;
  readonly srcLabel: number;
  readonly dstLabel: number;
  /** Destination endpoint id when local, else 0. */
  readonly dstId: number;
  readonly dir: 'ingress' | 'egress' | 'unknown';
  /** The skb hash, shown as "flow 0x…". */
  readonly hash: number;
  readonly origLen: number;
  readonly proto: number;
  readonly saddr: string;
  readonly daddr: string;
  /** TCP/UDP ports; ICMP: sport = echo id, dport = 0. */
  readonly sport: number;
  readonly dport: number;
  /** TCP flags (FIN 1, SYN 2, RST 4, PSH 8, ACK 16), 0 otherwise. */
  readonly tcpFlags: number;
  /** ICMP message type and code, when proto is ICMP. */
  readonly icmp?: { readonly type: number; readonly code: number };
}

/** A dropped packet. */
export interface DropEvent extends EventCommon {
  readonly type: 'drop';
  readonly reason: number;
  readonly file: number;
  readonly line: number;
}

/** A forwarded packet at an observation point. */
export interface TraceEvent extends EventCommon {
  readonly type: 'trace';
  readonly obsPoint: number;
  readonly ctState: number;
}

/** The policy decision of a new connection. */
export interface PolicyVerdictEvent extends EventCommon {
  readonly type: 'policy-verdict';
  readonly match: number;
  readonly verdict: number;
}

/** An event of an unknown type, kept raw. */
export interface UnknownEvent extends EventCommon {
  readonly type: 'unknown';
  readonly rawType: number;
  readonly subtype: number;
}

/** Any decoded datapath event. */
export type DatapathEvent = DropEvent | TraceEvent | PolicyVerdictEvent | UnknownEvent;

/** Decodes one ring buffer record. Throws RangeError for a record shorter than 56 bytes. */
export function decodeEvent(record: Buffer): DatapathEvent {
  const r = ciliaEvent.decode(record);
  const icmp = r.proto === IPPROTO_ICMP;
  const common: EventCommon = {
    ktimeNs: r.ktime_ns, source: r.source, ifindex: r.ifindex, srcLabel: r.src_label, dstLabel: r.dst_label,
    dstId: r.dst_id, dir: r.dir === 1 ? 'ingress' : r.dir === 2 ? 'egress' : 'unknown', hash: r.hash, origLen: r.orig_len,
    proto: r.proto, saddr: r.saddr, daddr: r.daddr, sport: r.sport, dport: icmp ? 0 : r.dport,
    tcpFlags: icmp ? 0 : r.tcp_flags, ...(icmp ? { icmp: { type: r.tcp_flags, code: r.dport } } : {}),
  };
  switch (r.type) {
    case EventType.Drop: return { ...common, type: 'drop', reason: r.subtype, file: r.file, line: r.line };
    case EventType.Trace: return { ...common, type: 'trace', obsPoint: r.subtype, ctState: r.ct_state };
    case EventType.PolicyVerdict: return { ...common, type: 'policy-verdict', match: r.subtype, verdict: r.verdict };
    default: return { ...common, type: 'unknown', rawType: r.type, subtype: r.subtype };
  }
}

/** Options of `formatEvent`. */
export interface FormatOptions {
  /** Interface name for an ifindex (traces print names, as `cilium monitor` does); default: the number. */
  readonly ifname?: (ifindex: number) => string | undefined;
}

/**
 * One line in `cilium monitor` style, e.g.
 * `xx drop (Policy denied) flow 0x1f to endpoint 12, ifindex 7, file bpf_lxc.c:123, identity 300->301: 10.244.0.5:41022 -> 10.244.0.6:80 tcp SYN`.
 */
export function formatEvent(ev: DatapathEvent, options: FormatOptions = {}): string {
  const flow = `flow 0x${ev.hash.toString(16)}`;
  const identity = `identity ${ev.srcLabel}->${ev.dstLabel}`;
  switch (ev.type) {
    case 'drop':
      return `xx drop (${dropReasonText(ev.reason)}) ${flow} to endpoint ${ev.dstId}, ifindex ${ev.ifindex}, ` +
        `file ${fileName(ev.file)}:${ev.line}, ${identity}: ${connectionSummary(ev)}`;
    case 'trace': {
      const ifname = options.ifname?.(ev.ifindex) ?? String(ev.ifindex);
      return `${traceSummary(ev)} ${flow} ${identity} state ${ctStateName(ev.ctState)} ifindex ${ifname}: ${connectionSummary(ev)}`;
    }
    case 'policy-verdict': {
      const remote = ev.dir === 'ingress' ? ev.srcLabel : ev.dstLabel;
      const action = ev.verdict === Verdict.Allowed ? 'allow' : 'deny';
      return `Policy verdict log: ${flow} local EP ID ${ev.source}, remote ID ${remote}, proto ${ev.proto}, ${ev.dir}, ` +
        `action ${action}, match ${policyMatchName(ev.match)}, ${connectionSummary(ev)}`;
    }
    default:
      return `?? unknown event type ${ev.rawType} (subtype ${ev.subtype}) ${flow} ${identity}: ${connectionSummary(ev)}`;
  }
}

/** The event as a JSON-ready object with names resolved (bigints as decimal strings). */
export function eventToJSON(ev: DatapathEvent): Record<string, unknown> {
  const base: Record<string, unknown> = {
    type: ev.type, ktimeNs: ev.ktimeNs.toString(), source: ev.source, ifindex: ev.ifindex, hash: ev.hash,
    srcLabel: ev.srcLabel, dstLabel: ev.dstLabel, dstId: ev.dstId, dir: ev.dir, origLen: ev.origLen, proto: ev.proto,
    protoName: protoName(ev.proto), saddr: ev.saddr, daddr: ev.daddr, sport: ev.sport, dport: ev.dport,
    summary: connectionSummary(ev),
  };
  if (ev.proto === IPPROTO_TCP) base.tcpFlags = tcpFlagNames(ev.tcpFlags);
  if (ev.icmp) base.icmp = { type: ev.icmp.type, code: ev.icmp.code, name: icmpName(ev.icmp.type, ev.icmp.code) };
  switch (ev.type) {
    case 'drop':
      return { ...base, reason: ev.reason, reasonName: dropReasonName(ev.reason), reasonText: dropReasonText(ev.reason), file: fileName(ev.file), line: ev.line };
    case 'trace':
      return { ...base, obsPoint: ev.obsPoint, obsPointName: OBS_POINT_NAMES[ev.obsPoint] ?? `obs-${ev.obsPoint}`, ctState: ctStateName(ev.ctState) };
    case 'policy-verdict':
      return { ...base, match: policyMatchName(ev.match), verdict: ev.verdict === Verdict.Allowed ? 'allow' : 'deny', deniedByRule: ev.verdict === Verdict.DeniedByRule };
    default:
      return { ...base, rawType: ev.rawType, subtype: ev.subtype };
  }
}

/** `cilium monitor`'s connection summary: "a:p -> b:q tcp SYN, ACK", "a:p -> b:q udp", "a -> b EchoRequest". */
export function connectionSummary(ev: EventCommon): string {
  if (ev.icmp) return `${ev.saddr} -> ${ev.daddr} ${icmpName(ev.icmp.type, ev.icmp.code)}`;
  if (ev.proto === IPPROTO_TCP) {
    const flags = tcpFlagNames(ev.tcpFlags).join(', ');
    return `${ev.saddr}:${ev.sport} -> ${ev.daddr}:${ev.dport} tcp${flags ? ` ${flags}` : ''}`;
  }
  if (ev.proto === IPPROTO_UDP) return `${ev.saddr}:${ev.sport} -> ${ev.daddr}:${ev.dport} udp`;
  return `${ev.saddr} -> ${ev.daddr}`;
}

/** TCP flag names in `cilium monitor` order: SYN, ACK, RST, FIN. */
export function tcpFlagNames(flags: number): string[] {
  const out: string[] = [];
  if (flags & 0x02) out.push('SYN');
  if (flags & 0x10) out.push('ACK');
  if (flags & 0x04) out.push('RST');
  if (flags & 0x01) out.push('FIN');
  return out;
}

/** "new", "established", "reply", "related", "reopened". */
export function ctStateName(state: number): string {
  return CT_STATE_NAMES[state] ?? `unknown(${state})`;
}

/** Cilium's match-type names: "none", "L3-Only", "L3-L4", "L4-Only", "all". */
export function policyMatchName(match: number): string {
  return MATCH_NAMES[match] ?? `unknown(${match})`;
}

function fileName(file: number): string {
  return FILE_NAMES[file] ?? (file >= 101 ? `lib header ${file}` : `file ${file}`);
}

function protoName(proto: number): string {
  return proto === IPPROTO_TCP ? 'tcp' : proto === IPPROTO_UDP ? 'udp' : proto === IPPROTO_ICMP ? 'icmp' : `proto ${proto}`;
}

function traceSummary(ev: TraceEvent): string {
  switch (ev.obsPoint) {
    case ObsPoint.ToEndpoint: return `-> endpoint ${ev.dstId}`;
    case ObsPoint.ToHost: return '-> host';
    case ObsPoint.ToStack: return '-> stack';
    case ObsPoint.FromEndpoint: return `<- endpoint ${ev.source}`;
    default: return `-> obs-point ${ev.obsPoint}`;
  }
}

const UNREACH_CODES = ['Net', 'Host', 'Protocol', 'Port', 'FragmentationNeeded', 'SourceRoutingFailed', 'NetUnknown',
  'HostUnknown', 'SourceIsolated', 'NetAdminProhibited', 'HostAdminProhibited', 'NetTOS', 'HostTOS', 'CommAdminProhibited'];
const TIME_EXCEEDED_CODES = ['TTLExceeded', 'FragmentReassemblyTimeExceeded'];

/** gopacket-style ICMPv4 names, as `cilium monitor` prints them ("EchoRequest", "DestinationUnreachable(Port)"). */
export function icmpName(type: number, code: number): string {
  switch (type) {
    case 0: return 'EchoReply';
    case 3: return `DestinationUnreachable(${UNREACH_CODES[code] ?? `Code: ${code}`})`;
    case 4: return 'SourceQuench';
    case 5: return 'Redirect';
    case 8: return 'EchoRequest';
    case 11: return `TimeExceeded(${TIME_EXCEEDED_CODES[code] ?? `Code: ${code}`})`;
    case 12: return 'ParameterProblem';
    default: return `${type}(${code})`;
  }
}
