// The `services` and `backends` tables (`cilia statedb services`, `cilia statedb backends`).

import { backendIdentity } from '../../pkg/lb/model/index.js';
import { type DB, type RWTable, index, keys, stringIndex } from '../../pkg/statedb/index.js';
import { type LbBackend, type LbFrontend, type LbService, combinedBackendState } from './types.js';

/** Primary key of a service: `namespace/name`. */
export function serviceKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Key of a frontend (and of the rev-NAT index allocated to it): `address:port/PROTOCOL`. */
export function frontendKey(f: Pick<LbFrontend, 'address' | 'port' | 'protocol'>): string {
  return backendIdentity(f);
}

/**
 * Creates the `services` table. Indexes: `key` (primary, `namespace/name`) and `frontend` (unique, one
 * key per frontend: a frontend belongs to at most one service).
 */
export function newServicesTable(db: DB): RWTable<LbService> {
  return db.newTable<LbService>({
    name: 'services',
    primary: stringIndex('key', (s) => s.key),
    secondary: [index({ name: 'frontend', unique: true, key: (s: LbService) => s.frontends.map(frontendKey), encode: keys.str })],
    header: ['NAME', 'SOURCE', 'FRONTENDS', 'BACKENDS', 'ALGORITHM', 'STATUS'],
    row: (s) => [
      s.key,
      s.source,
      s.frontends.map((f) => `${frontendKey(f)} (${f.revNat})`).join(', '),
      s.backends.length ? s.backends.map((b) => `${b.id}=${b.address}:${b.port}/${b.protocol}${b.state === 'active' ? '' : ` (${b.state})`}`).join(', ') : '-',
      s.algorithm,
      s.status.kind + (s.status.error ? `: ${s.status.error}` : ''),
    ],
  });
}

/** Creates the `backends` table, keyed by `address:port/PROTOCOL`. */
export function newBackendsTable(db: DB): RWTable<LbBackend> {
  return db.newTable<LbBackend>({
    name: 'backends',
    primary: stringIndex('key', (b) => b.key),
    header: ['ID', 'BACKEND', 'STATE', 'SERVICES'],
    row: (b) => [String(b.id), b.key, combinedBackendState(b.states), String(b.states.active + b.states.terminating + b.states.quarantined + b.states.maintenance)],
  });
}
