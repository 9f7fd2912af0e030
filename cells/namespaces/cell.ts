// namespaces: the `namespaces` table (name → labels), fed by Namespace objects applied with
// `cilia apply`. Endpoint identities include their namespace's labels, so changing them re-resolves
// policy like any label change (the endpoint manager follows this table).

import { module, provide } from '../../pkg/hive/index.js';
import { type DB, IDB, stringIndex } from '../../pkg/statedb/index.js';
import { INamespaces, type Namespace, type Namespaces } from './types.js';

function newNamespaces(db: DB): Namespaces {
  const table = db.newTable<Namespace>({
    name: 'namespaces',
    primary: stringIndex('name', (n) => n.name),
    header: ['NAME', 'LABELS'],
    row: (n) => [n.name, Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(',')],
  });
  return {
    table: table.toTable(),
    labelsOf: (name) => table.get(db.readTxn(), { index: 'name', key: name })?.labels ?? {},
    upsert: (nss) =>
      db.update([table], (txn) => {
        for (const n of nss) {
          const cur = table.get(txn, { index: 'name', key: n.name });
          if (!cur || JSON.stringify(cur.labels) !== JSON.stringify(n.labels)) table.insert(txn, { name: n.name, labels: { ...n.labels } });
        }
        return table.revision(txn);
      }),
    delete: (names) =>
      db.update([table], (txn) => {
        for (const name of names) table.delete(txn, { name, labels: {} });
        return table.revision(txn);
      }),
  };
}

export const NamespacesCell = module('namespaces', 'Namespaces and their labels', provide({ provides: INamespaces, deps: [IDB], factory: newNamespaces }));
