// What one service row means in the LB maps: per frontend the master entry, the backend slots, the
// reverse-NAT entry, the source-range keys and (algorithm maglev) the Maglev table. Pure: the ops
// write these, unit tests compare them.

import type { Lb4Key, Lb4ReverseNat, Lb4Service, Lb4SrcRangeKey } from '../../pkg/datapath/index.js';
import { SVC_F_AFFINITY, SVC_F_LOCAL, SVC_F_MAGLEV, SVC_F_SOURCE_RANGE } from '../../pkg/datapath/index.js';
import { buildMaglevTable } from '../../pkg/lb/maglev/index.js';
import { PROTOCOL_NUMBER, backendIdentity, eligibleForNewConnections, parseIPv4Cidr } from '../../pkg/lb/model/index.js';
import { layoutSlots } from '../../pkg/lb/slots/index.js';
import { frontendKey } from './tables.js';
import type { LbService, LbServiceBackend } from './types.js';

/** Node facts and datapath settings the layout depends on. */
export interface LayoutOptions {
  /** This node's name, for the `Local` traffic policy. */
  readonly localNodeName: string;
  /** Size M of every Maglev table (the datapath's CFG_MAGLEV_TABLE_SIZE, a prime). */
  readonly maglevTableSize: number;
}

/** The Maglev table of a frontend, built on demand (it is M entries; skip building an unchanged one). */
export interface MaglevPlan {
  /** Identifies the table's content: equal signatures, equal tables. */
  readonly signature: string;
  /** Builds the table (M backend ids; all zero when no backend is eligible). */
  build(): Uint32Array;
}

/** The map entries of one frontend. */
export interface FrontendEntries {
  /** `address:port/PROTOCOL`. */
  readonly frontend: string;
  readonly revNat: number;
  /** The services-map key without the slot (slot 0 = master, 1..n = slots). */
  readonly key: Omit<Lb4Key, 'backend_slot'>;
  readonly master: Lb4Service;
  /** Backend id of slot k+1. */
  readonly slots: readonly number[];
  readonly reverseNat: Lb4ReverseNat;
  readonly sourceRanges: readonly Lb4SrcRangeKey[];
  /** Present for `maglev` services. */
  readonly maglev?: MaglevPlan;
}

/** The services-map key of slot `slot` of a frontend. */
export function slotKey(key: Omit<Lb4Key, 'backend_slot'>, slot: number): Lb4Key {
  return { address: key.address, dport: key.dport, backend_slot: slot, proto: key.proto, scope: key.scope };
}

/** Text form of a services-map key, `address:dport/proto#slot` (for sets and the fake maps). */
export function lb4KeyText(k: Lb4Key): string {
  return `${k.address}:${k.dport}/${k.proto}#${k.backend_slot}`;
}

/** Text form of a source-range key, `revNat|addr/len`. */
export function srcRangeKeyText(k: Lb4SrcRangeKey): string {
  return `${k.rev_nat_id}|${k.addr}/${k.prefixlen - 32}`;
}

/** The source-range LPM key of a CIDR for a rev-NAT index. */
export function sourceRangeKey(revNat: number, cidr: string): Lb4SrcRangeKey {
  const c = parseIPv4Cidr(cidr, 'sourceRanges');
  return { prefixlen: 32 + c.prefixLength, rev_nat_id: revNat, addr: c.address };
}

function maglevPlan(eligible: readonly LbServiceBackend[], m: number): MaglevPlan {
  const members = eligible.map((b) => ({ id: b.id, identity: backendIdentity(b), weight: b.weight }));
  return {
    signature: `${m}|${members.map((b) => `${b.id}=${b.identity}@${b.weight}`).join(',')}`,
    build: () => {
      const table = buildMaglevTable(members, m);
      // No eligible backend: an all-zero table; the datapath then falls through (and the master's count is 0 anyway).
      return table.length ? table : new Uint32Array(m);
    },
  };
}

/**
 * The map entries of every frontend of `svc`. Each frontend gets the backends with its port name and
 * protocol; of those, the ones eligible for new connections (active, weight > 0, local under the
 * `Local` policy) fill the slots (layoutSlots) and the Maglev table, the others stay in the backends
 * map only, so established connections keep working.
 * Throws LbValidationError only for rows that validation should have rejected.
 */
export function frontendEntries(svc: LbService, opts: LayoutOptions): FrontendEntries[] {
  const policy = { trafficPolicy: svc.trafficPolicy, localNodeName: opts.localNodeName };
  let flags = 0;
  if (svc.sessionAffinity) flags |= SVC_F_AFFINITY;
  if (svc.algorithm === 'maglev') flags |= SVC_F_MAGLEV;
  if (svc.sourceRanges.length) flags |= SVC_F_SOURCE_RANGE;
  if (svc.trafficPolicy === 'Local') flags |= SVC_F_LOCAL;
  const out = new Array<FrontendEntries>(svc.frontends.length);
  for (let i = 0; i < out.length; i++) {
    const f = svc.frontends[i];
    // As backendsForFrontend of pkg/lb: the backends with the frontend's port name and protocol
    // (all of them when the service has one port, the common case: no copy then).
    const backends = svc.frontends.length === 1 && svc.backends.every((b) => b.portName === f.portName && b.protocol === f.protocol)
      ? svc.backends
      : svc.backends.filter((b) => b.portName === f.portName && b.protocol === f.protocol);
    const slots = layoutSlots(backends, policy).slots;
    const entries: FrontendEntries = {
      frontend: frontendKey(f),
      revNat: f.revNat,
      key: { address: f.address, dport: f.port, proto: PROTOCOL_NUMBER[f.protocol], scope: 0 },
      master: { backend_id: svc.sessionAffinity?.timeoutSeconds ?? 0, count: slots.length, rev_nat_index: f.revNat, flags, flags2: 0 },
      slots,
      reverseNat: { address: f.address, port: f.port },
      sourceRanges: svc.sourceRanges.length ? svc.sourceRanges.map((c) => sourceRangeKey(f.revNat, c)) : NO_SOURCE_RANGES,
    };
    out[i] = svc.algorithm === 'maglev' ? { ...entries, maglev: maglevPlan(eligibleForNewConnections(backends, policy), opts.maglevTableSize) } : entries;
  }
  return out;
}

const NO_SOURCE_RANGES: readonly Lb4SrcRangeKey[] = Object.freeze([]);
