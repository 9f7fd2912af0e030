// The `policy-entries` table: desired entries of the cilia_policy map, one row per (endpoint, peer
// identity, direction, protocol, port block), reconciled into the BPF map by ops.ts.

import { POLICY_PREFIX_ANY_L4, type PolicyKey as MapKey, policyPrefixForPorts } from '../../pkg/datapath/index.js';
import type { PolicyEntry } from '../../pkg/policy/index.js';
import { type DB, type RWTable, index, keys, stringIndex } from '../../pkg/statedb/index.js';
import type { Status } from '../../pkg/statedb/reconciler/index.js';

/** One desired policy map entry. */
export interface PolicyRow {
  readonly key: string;
  readonly endpointId: number;
  readonly identity: number;
  readonly egress: boolean;
  readonly protocol: number;
  readonly port: number;
  readonly portPrefixLen: number;
  readonly deny: boolean;
  /** Policy objects (kind/namespace/name) the entry came from, for `cilia bpf policy get`. */
  readonly derivedFrom: readonly string[];
  readonly status: Status;
}

/** The row key of an entry of endpoint `epId`. */
export function rowKey(epId: number, e: Pick<PolicyEntry, 'identity' | 'direction' | 'protocol' | 'port' | 'portPrefixLen'>): string {
  return `${epId}/${e.identity}/${e.direction === 'egress' ? 'E' : 'I'}/${e.protocol}/${e.port}/${e.portPrefixLen}`;
}

/** The BPF map key of a row: prefix 56 = any protocol and port; 64+n = a port block of n bits. */
export function mapKey(r: Pick<PolicyRow, 'endpointId' | 'identity' | 'egress' | 'protocol' | 'port' | 'portPrefixLen'>): MapKey {
  const anyL4 = r.protocol === 0;
  return {
    prefixlen: anyL4 ? POLICY_PREFIX_ANY_L4 : policyPrefixForPorts(r.portPrefixLen),
    sec_label: r.identity,
    ep_id: r.endpointId,
    egress: r.egress ? 1 : 0,
    protocol: anyL4 ? 0 : r.protocol,
    dport: anyL4 ? 0 : r.port,
  };
}

export function newPolicyTable(db: DB): RWTable<PolicyRow> {
  return db.newTable<PolicyRow>({
    name: 'policy-entries',
    primary: stringIndex('key', (r) => r.key),
    secondary: [index({ name: 'endpoint', unique: false, key: (r: PolicyRow) => r.endpointId, encode: keys.uint })],
    header: ['ENDPOINT', 'DIRECTION', 'IDENTITY', 'PORT/PROTO', 'VERDICT', 'FROM', 'STATUS'],
    row: (r) => [String(r.endpointId), r.egress ? 'egress' : 'ingress', String(r.identity), portText(r), r.deny ? 'deny' : 'allow', r.derivedFrom.join(','), r.status.kind],
  });
}

const PROTO: Record<number, string> = { 0: 'ANY', 1: 'ICMP', 6: 'TCP', 17: 'UDP', 132: 'SCTP' };

/** "80/TCP", "1024-2047/UDP", "ANY". */
export function portText(r: Pick<PolicyRow, 'protocol' | 'port' | 'portPrefixLen'>): string {
  if (r.protocol === 0) return 'ANY';
  const proto = PROTO[r.protocol] ?? String(r.protocol);
  if (r.portPrefixLen === 0) return `ANY/${proto}`;
  if (r.portPrefixLen === 16) return `${r.port}/${proto}`;
  const last = r.port + 2 ** (16 - r.portPrefixLen) - 1;
  return `${r.port}-${last}/${proto}`;
}
