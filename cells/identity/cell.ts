// identity: numeric security identities for label sets (reserved 1-7, endpoints from 256, CIDR
// identities in the local scope). Owns the `identities` table (inspect: `cilia identity list`,
// `cilia statedb identities`). Numbers are persisted in <state-dir>/identities.json, so a restarted
// agent gives restored endpoints the identities the BPF maps still hold; numbers nobody claims again
// within --identity-restore-grace are forgotten.

import path from 'node:path';
import { IJobGroup, ILifecycle, ILogger, type JobGroup, type Lifecycle, type Logger, config, module, oneShot, provide, provideInto, sleep, token } from '../../pkg/hive/index.js';
import { notFound, badRequest } from '../../pkg/api/index.js';
import { IDB } from '../../pkg/statedb/index.js';
import { readJson, writeJsonAtomic } from '../../pkg/statefile/index.js';
import { IApiRoutes, route } from '../api-server/types.js';
import { IDaemonConfig } from '../daemon-config/types.js';
import { type IdentityReservations, LocalIdentityAllocator, newIdentityTable } from './allocator.js';
import { IIdentityAllocator, type Identity, type IdentityJSON } from './types.js';

interface IdentityConfig {
  readonly identityRestoreGraceMs: number;
}
const IIdentityConfig = token<Readonly<IdentityConfig>>('IdentityConfig');

function toJSON(i: Identity): IdentityJSON {
  return { id: i.id, labels: i.labels.toStrings(), kind: i.kind, refs: Number.isFinite(i.refs) ? i.refs : -1 };
}

export const IdentityCell = module(
  'identity',
  'Security identities: label sets to numbers, reference counted',
  config(IIdentityConfig, {
    identityRestoreGraceMs: { doc: 'How long restored identity numbers wait to be claimed again before they are forgotten', format: 'nat', default: 600_000 },
  }),
  provide({
    provides: IIdentityAllocator,
    deps: [IDB, IDaemonConfig, IIdentityConfig, ILifecycle, ILogger, IJobGroup],
    factory: (db, daemon, cfg, lc: Lifecycle, log: Logger, jobs: JobGroup) => {
      const file = path.join(daemon.stateDir, 'identities.json');
      const alloc = new LocalIdentityAllocator(db, newIdentityTable(db), (r) => writeJsonAtomic(file, r));
      lc.append({
        name: 'identity-restore',
        onStart: () => {
          const r = readJson<IdentityReservations>(file);
          if (r) {
            alloc.restore(r);
            log.info('restored identity numbers', { endpoint: Object.keys(r.endpoint ?? {}).length, cidr: Object.keys(r.cidr ?? {}).length });
          }
          jobs.add(
            oneShot('forget-unclaimed-identities', async (signal) => {
              if (!(await sleep(cfg.identityRestoreGraceMs, signal))) return;
              const n = alloc.dropUnclaimed();
              if (n) log.info('forgot identity numbers nobody claimed after restart', { count: n });
            }),
          );
        },
      });
      return alloc;
    },
  }),
  provideInto(IApiRoutes, {
    deps: [IIdentityAllocator, IDB],
    factory: (alloc, db) => [
      route('GET', '/v1/identity', 'Every allocated identity', () => [...alloc.table.all(db.readTxn())].map(toJSON)),
      route('GET', '/v1/identity/{id}', 'One identity by number', (req) => {
        const id = Number(req.params.id);
        if (!Number.isInteger(id) || id < 0) throw badRequest(`identity must be a non-negative integer, got ${JSON.stringify(req.params.id)}`, 'id');
        const i = alloc.get(id);
        if (!i) throw notFound(`identity ${id} is not allocated`);
        return toJSON(i);
      }),
    ],
  }),
);
