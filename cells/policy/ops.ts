// Writes desired policy rows into the cilia_policy LPM map; prune removes entries no row wants.

import type { ReadTxn, Revision } from '../../pkg/statedb/index.js';
import type { OpContext, Operations } from '../../pkg/statedb/reconciler/index.js';
import type { MapsAccess } from '../maps/types.js';
import { type PolicyRow, mapKey } from './table.js';

function keyString(k: ReturnType<typeof mapKey>): string {
  return `${k.prefixlen}/${k.sec_label}/${k.ep_id}/${k.egress}/${k.protocol}/${k.dport}`;
}

export class PolicyMapOps implements Operations<PolicyRow> {
  constructor(private readonly maps: MapsAccess) {}

  async update(_c: OpContext, _t: ReadTxn, _r: Revision, row: PolicyRow): Promise<void> {
    this.maps.maps.policy.put(mapKey(row), { deny: row.deny ? 1 : 0, flags: 0, rule_id: 0, packets: 0n, bytes: 0n });
  }

  async delete(_c: OpContext, _t: ReadTxn, _r: Revision, row: PolicyRow): Promise<void> {
    this.maps.maps.policy.delete(mapKey(row));
  }

  async prune(_c: OpContext, _t: ReadTxn, desired: Iterable<[PolicyRow, Revision]>): Promise<void> {
    const want = new Set([...desired].map(([r]) => keyString(mapKey(r))));
    const m = this.maps.maps.policy;
    for (const k of [...m.keys()]) if (!want.has(keyString(k))) m.delete(k);
  }
}
