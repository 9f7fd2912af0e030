// api-server: the agent's REST API on a unix socket (default /var/run/cilia/cilia.sock, mode 0600).
//
// Provides: IApiServer. Serves every route contributed to IApiRoutes, plus its own:
//   GET /v1/healthz          liveness (200 "ok" when the hive runs)
//   GET /v1/hive             modules, providers, invokes, hooks and flags (as `cilia-agent hive`)
//   GET /v1/statedb          the tables with object counts and revisions
//   GET /v1/statedb/{table}  one table dumped as JSON (as `cilia statedb TABLE`)
//   GET /v1/routes           every route with its one-line doc (served by the server itself)

import { type Cell, type Health, IHealth, IHiveInfo, ILifecycle, ILogger, type HiveIntrospection, type Lifecycle, type Logger, config, invoke, module, provide, provideInto } from '../../pkg/hive/index.js';
import { type DB, IDB } from '../../pkg/statedb/index.js';
import { notFound, type StateDBTableDump, type StateDBTableInfo } from '../../pkg/api/index.js';
import { ApiServer } from './server.js';
import { type ApiRoute, IApiRoutes, IApiServer, IApiServerConfig, route } from './types.js';

function builtinRoutes(info: HiveIntrospection, db: DB): ApiRoute[] {
  return [
    route('GET', '/v1/healthz', 'Liveness of the agent', () => ({ status: 'ok' })),
    route('GET', '/v1/hive', 'Modules, providers, invokes, hooks and flags of the agent', () => ({ cells: info.cells(), hooks: info.hooks(), flags: info.flags() })),
    route('GET', '/v1/statedb', 'StateDB tables with object counts and revisions', (): StateDBTableInfo[] => {
      const txn = db.readTxn();
      return db.allTables().map((t) => ({ name: t.name, objects: t.numObjects(txn), revision: t.revision(txn), initialized: t.initialized(txn), pendingInitializers: t.pendingInitializers(txn) }));
    }),
    route('GET', '/v1/statedb/{table}', 'One StateDB table as JSON', (req): StateDBTableDump => {
      const t = db.table(req.params.table);
      if (!t) throw notFound(`no table ${req.params.table}; tables: ${db.allTables().map((x) => x.name).join(', ')}`);
      const txn = db.readTxn();
      return { table: t.name, revision: t.revision(txn), initialized: t.initialized(txn), header: t.header, rows: t.rows(txn), objects: t.dump(txn) };
    }),
  ];
}

/** The api-server module with a given default socket (the agent's, or the operator's). */
export function apiServerCell(defaultSocket: string): Cell {
  return module(
  'api-server',
  'REST API on a unix socket',
  config(IApiServerConfig, {
    apiSocket: { doc: 'Path of the API unix socket (created with mode 0600)', format: 'abs-path', default: defaultSocket },
  }),
  provide({
    provides: IApiServer,
    deps: [IApiServerConfig, IApiRoutes, ILogger, ILifecycle, IHealth],
    factory: (cfg, routeGroups, log: Logger, lc: Lifecycle, health: Health) => {
      const server = new ApiServer(cfg.apiSocket, routeGroups.flat(), log);
      lc.append({
        name: 'api-server',
        onStart: async () => {
          await server.start();
          health.ok(`listening on ${cfg.apiSocket}`);
        },
        onStop: async () => {
          await server.stop();
          health.stopped('stopped');
        },
      });
      return server;
    },
  }),
  provideInto(IApiRoutes, { deps: [IHiveInfo, IDB], factory: builtinRoutes }),
  invoke('start-api-server', [IApiServer], () => {}),
  );
}

/** The agent's API server (default socket /var/run/cilia/cilia.sock). */
export const ApiServerCell = apiServerCell('/var/run/cilia/cilia.sock');
