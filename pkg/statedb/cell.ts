// The statedb cell: provides the hive's database. Tables are created by the cells that own them.

import { module, provide, token } from '../hive/index.js';
import { DB } from './db.js';

/** The hive's in-memory database. */
export const IDB = token<DB>('DB');

/** statedb: provides IDB. Inspect tables with `cilia statedb <table>` or GET /v1/statedb/{table}. */
export const StateDBCell = module('statedb', 'In-memory transactional database', provide({ provides: IDB, deps: [], factory: () => new DB() }));
