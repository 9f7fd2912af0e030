// The `endpoints` table: desired state of every endpoint, indexed by id, container, pod name, address
// and identity.

import { type DB, type RWTable, index, keys, uintIndex } from '../../pkg/statedb/index.js';
import type { Endpoint } from './types.js';

/** Key of the (containerId, ifName) index: one endpoint per container interface. */
export const containerKey = (containerId: string, ifName: string): string => `${containerId}/${ifName}`;
/** Key of the (namespace, name) index. */
export const podKey = (namespace: string, name: string): string => `${namespace}/${name}`;

export function newEndpointTable(db: DB): RWTable<Endpoint> {
  return db.newTable<Endpoint>({
    name: 'endpoints',
    primary: uintIndex('id', (e) => e.id),
    secondary: [
      index({ name: 'container', unique: true, key: (e: Endpoint) => containerKey(e.containerId, e.ifName), encode: keys.str }),
      index({ name: 'pod', unique: true, key: (e: Endpoint) => podKey(e.namespace, e.name), encode: keys.str }),
      index({ name: 'ipv4', unique: true, key: (e: Endpoint) => e.ipv4, encode: keys.ipv4 }),
      index({ name: 'namespace', unique: false, key: (e: Endpoint) => e.namespace, encode: keys.str }),
      index({ name: 'identity', unique: false, key: (e: Endpoint) => e.identity, encode: keys.uint }),
    ],
    header: ['ID', 'NAMESPACE/NAME', 'IDENTITY', 'IPV4', 'HOST-IF', 'POLICY-REV', 'STATUS'],
    row: (e) => [String(e.id), `${e.namespace}/${e.name}`, String(e.identity), e.ipv4, e.hostIfName, e.policy ? String(e.policy.revision) : '-', e.status.kind + (e.status.error ? `: ${e.status.error}` : '')],
    toJSON: (e) => ({ ...e, identityLabels: e.identityLabels.toStrings() }),
  });
}
