/* Drop reasons, numbered as in Cilium (bpf/lib/drop_reasons.h) so that tools and people who know
 * Cilium read them the same way. Helpers return them negated (-DROP_*); events and metrics carry the
 * positive code. The TS table is pkg/datapath/reasons.ts. */
#ifndef CILIA_DROP_H
#define CILIA_DROP_H

#define REASON_FORWARDED         0
#define DROP_INVALID_SIP         132 /* Invalid source ip */
#define DROP_POLICY              133 /* Policy denied */
#define DROP_INVALID             134 /* Invalid packet */
#define DROP_CT_INVALID_HDR      135 /* CT: Truncated or invalid header */
#define DROP_CT_UNKNOWN_PROTO    137 /* CT: Unknown L4 protocol */
#define DROP_UNKNOWN_L3          139 /* Unsupported L3 protocol */
#define DROP_WRITE_ERROR         141 /* Error writing to packet */
#define DROP_UNKNOWN_L4          142 /* Unknown L4 protocol */
#define DROP_UNKNOWN_ICMP4_TYPE  144 /* Unknown ICMPv4 type */
#define DROP_CSUM_L3             153 /* Error while correcting L3 checksum */
#define DROP_CSUM_L4             154 /* Error while correcting L4 checksum */
#define DROP_CT_CREATE_FAILED    155 /* CT: Map insertion failed */
#define DROP_FRAG_NOSUPPORT      157 /* IP fragmentation not supported */
#define DROP_NO_SERVICE          158 /* Service backend not found */
#define DROP_NOT_IN_SRC_RANGE    177 /* Denied by LB src range check */
#define DROP_POLICY_DENY         181 /* Policy denied by denylist */
#define DROP_TTL_EXCEEDED        196 /* TTL exceeded */
#define DROP_EP_NOT_READY        203 /* Endpoint policy program not available */

#endif /* CILIA_DROP_H */
