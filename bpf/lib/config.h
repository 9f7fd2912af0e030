/* Per-node datapath settings. They are `const volatile` globals in .rodata: the loader writes them
 * before load (by these exact names) and the verifier then treats them as constants, so a disabled
 * feature costs nothing. The defaults here are what an object loaded without constants gets. */
#ifndef CILIA_CONFIG_H
#define CILIA_CONFIG_H

#include "common.h"

/* Lifetime (s) of an established TCP connection. */
const volatile __u32 CFG_CT_TIMEOUT_TCP = 21600;
/* Lifetime (s) of a TCP connection until its handshake completed (see conntrack.h). */
const volatile __u32 CFG_CT_TIMEOUT_SYN = 60;
/* Lifetime (s) of a TCP connection after FIN in both directions or an RST. */
const volatile __u32 CFG_CT_TIMEOUT_FIN = 10;
/* Lifetime (s) of UDP and ICMP entries. */
const volatile __u32 CFG_CT_TIMEOUT_ANY = 60;
/* 1: cil_from_container load-balances services per packet (when socket LB is off). */
const volatile __u8 CFG_ENABLE_PACKET_LB = 1;
/* 0: a trace event per packet; 1: only for new connections and newly seen TCP flags. */
const volatile __u8 CFG_MONITOR_AGGREGATION = 1;
/* Size M of every Maglev inner table (a prime). */
const volatile __u32 CFG_MAGLEV_TABLE_SIZE = 16381;

#endif /* CILIA_CONFIG_H */
