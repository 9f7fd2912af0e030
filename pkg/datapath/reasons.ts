// Owns the drop reason table of the datapath: code → Cilium's name and text (bpf/lib/drop.h,
// docs/datapath.md). Codes and texts are Cilium's, so `cilium monitor` readers see the same words.

/** One drop reason. */
export interface DropReasonInfo {
  readonly code: number;
  /** The C name, e.g. "DROP_POLICY". */
  readonly name: string;
  /** Cilium's text, e.g. "Policy denied". */
  readonly text: string;
}

/** Drop reason codes by short name (the C name without DROP_), as the datapath reports them. */
export const DropReason = {
  InvalidSip: 132,
  Policy: 133,
  Invalid: 134,
  CtInvalidHdr: 135,
  CtUnknownProto: 137,
  UnknownL3: 139,
  WriteError: 141,
  UnknownL4: 142,
  UnknownIcmp4Type: 144,
  CsumL3: 153,
  CsumL4: 154,
  CtCreateFailed: 155,
  FragNoSupport: 157,
  NoService: 158,
  NotInSrcRange: 177,
  PolicyDeny: 181,
  TtlExceeded: 196,
  EpNotReady: 203,
} as const;

/** Metrics reason 0: the packet was forwarded, not dropped. */
export const REASON_FORWARDED = 0;

const TABLE: readonly DropReasonInfo[] = [
  { code: 132, name: 'DROP_INVALID_SIP', text: 'Invalid source ip' },
  { code: 133, name: 'DROP_POLICY', text: 'Policy denied' },
  { code: 134, name: 'DROP_INVALID', text: 'Invalid packet' },
  { code: 135, name: 'DROP_CT_INVALID_HDR', text: 'CT: Truncated or invalid header' },
  { code: 137, name: 'DROP_CT_UNKNOWN_PROTO', text: 'CT: Unknown L4 protocol' },
  { code: 139, name: 'DROP_UNKNOWN_L3', text: 'Unsupported L3 protocol' },
  { code: 141, name: 'DROP_WRITE_ERROR', text: 'Error writing to packet' },
  { code: 142, name: 'DROP_UNKNOWN_L4', text: 'Unknown L4 protocol' },
  { code: 144, name: 'DROP_UNKNOWN_ICMP4_TYPE', text: 'Unknown ICMPv4 type' },
  { code: 153, name: 'DROP_CSUM_L3', text: 'Error while correcting L3 checksum' },
  { code: 154, name: 'DROP_CSUM_L4', text: 'Error while correcting L4 checksum' },
  { code: 155, name: 'DROP_CT_CREATE_FAILED', text: 'CT: Map insertion failed' },
  { code: 157, name: 'DROP_FRAG_NOSUPPORT', text: 'IP fragmentation not supported' },
  { code: 158, name: 'DROP_NO_SERVICE', text: 'Service backend not found' },
  { code: 177, name: 'DROP_NOT_IN_SRC_RANGE', text: 'Denied by LB src range check' },
  { code: 181, name: 'DROP_POLICY_DENY', text: 'Policy denied by denylist' },
  { code: 196, name: 'DROP_TTL_EXCEEDED', text: 'TTL exceeded' },
  { code: 203, name: 'DROP_EP_NOT_READY', text: 'Endpoint policy program not available' },
];

/** Every drop reason the datapath can report, by code. */
export const DROP_REASONS: ReadonlyMap<number, DropReasonInfo> = new Map(TABLE.map((r) => [r.code, r]));

/** The reason's text ("Policy denied"); unknown codes read "Unknown reason <code>". 0 reads "Forwarded". */
export function dropReasonText(code: number): string {
  if (code === REASON_FORWARDED) return 'Forwarded';
  return DROP_REASONS.get(code)?.text ?? `Unknown reason ${code}`;
}

/** The reason's C name ("DROP_POLICY"); unknown codes read "DROP_UNKNOWN_<code>". 0 reads "FORWARDED". */
export function dropReasonName(code: number): string {
  if (code === REASON_FORWARDED) return 'FORWARDED';
  return DROP_REASONS.get(code)?.name ?? `DROP_UNKNOWN_${code}`;
}
