// ipcache: IP prefix → security identity for the datapath (cilia_ipcache, an LPM trie). Sources:
// endpoints (pod IP → endpoint identity, followed from the endpoints table), the host (router IP and
// node addresses → host), and policy (CIDR prefixes → world, with their CIDR identity). Each entry also
// carries the identity of the longest policy CIDR containing it, so CIDR rules match pod addresses too.
// Owns the `ipcache` table (`cilia statedb ipcache`, `cilia bpf ipcache list`).

import { type Health, IHealth, IJobGroup, ILifecycle, ILogger, type JobGroup, type Lifecycle, type Logger, module, observer, provide } from '../../pkg/hive/index.js';
import { ReservedIdentity } from '../../pkg/labels/index.js';
import { Netlink } from '../../pkg/netlink/index.js';
import { type DB, IDB, type RWTable, type Revision, type ReadTxn, stringIndex } from '../../pkg/statedb/index.js';
import { type OpContext, type Operations, type Reconciler, Status, registerReconciler } from '../../pkg/statedb/reconciler/index.js';
import { IEndpointManager } from '../endpoint-manager/types.js';
import { IIpam } from '../ipam/types.js';
import { IDatapathMaps, type MapsAccess } from '../maps/types.js';
import { CidrIndex, hostPrefix } from './compute.js';
import { IIpcache, type Ipcache, type IpcacheEntry } from './types.js';

interface Sources {
  endpoint?: number;
  host?: number;
  cidr?: number;
}

function splitPrefix(prefix: string): { addr: string; prefixlen: number } {
  const [addr, len] = prefix.split('/');
  return { addr: addr, prefixlen: Number(len) };
}

class IpcacheOps implements Operations<IpcacheEntry> {
  constructor(private readonly maps: MapsAccess) {}
  async update(_c: OpContext, _t: ReadTxn, _r: Revision, e: IpcacheEntry): Promise<void> {
    this.maps.maps.ipcache.put(splitPrefix(e.prefix), { sec_identity: e.identity, cidr_identity: e.cidrIdentity, tunnel_endpoint: '0.0.0.0', flags: 0 });
  }
  async delete(_c: OpContext, _t: ReadTxn, _r: Revision, e: IpcacheEntry): Promise<void> {
    this.maps.maps.ipcache.delete(splitPrefix(e.prefix));
  }
  async prune(_c: OpContext, _t: ReadTxn, desired: Iterable<[IpcacheEntry, Revision]>): Promise<void> {
    const want = new Set([...desired].map(([e]) => e.prefix));
    const m = this.maps.maps.ipcache;
    for (const k of [...m.keys()]) if (!want.has(`${k.addr}/${k.prefixlen}`)) m.delete(k);
  }
}

class IpcacheImpl implements Ipcache {
  private readonly sources = new Map<string, Sources>();
  private cidr = new CidrIndex(new Map());
  private cidrPrefixes: ReadonlyMap<string, number> = new Map();
  reconciler?: Reconciler;

  constructor(
    private readonly db: DB,
    private readonly rw: RWTable<IpcacheEntry>,
  ) {}

  get table() {
    return this.rw.toTable();
  }

  /** Sets or clears one source of a prefix and rewrites its entry. */
  setSource(prefix: string, source: keyof Sources, identity: number | undefined): number {
    // Most endpoint changes (policy revision, status) leave the address and identity as they were.
    if (this.sources.get(prefix)?.[source] === identity) return this.rw.revision(this.db.readTxn());
    const s = { ...(this.sources.get(prefix) ?? {}) };
    if (identity === undefined) delete s[source];
    else s[source] = identity;
    if (s.endpoint === undefined && s.host === undefined && s.cidr === undefined) this.sources.delete(prefix);
    else this.sources.set(prefix, s);
    return this.write([prefix]);
  }

  setCidrIdentities(prefixes: ReadonlyMap<string, number>): number {
    const touched = new Set<string>();
    for (const p of this.cidrPrefixes.keys()) if (!prefixes.has(p)) touched.add(p);
    for (const [p, id] of prefixes) if (this.cidrPrefixes.get(p) !== id) touched.add(p);
    if (touched.size === 0) return this.rw.revision(this.db.readTxn());
    for (const p of touched) {
      const s = { ...(this.sources.get(p) ?? {}) };
      const id = prefixes.get(p);
      if (id === undefined) delete s.cidr;
      else s.cidr = id;
      if (s.endpoint === undefined && s.host === undefined && s.cidr === undefined) this.sources.delete(p);
      else this.sources.set(p, s);
    }
    this.cidrPrefixes = new Map(prefixes);
    this.cidr = new CidrIndex(this.cidrPrefixes);
    // Every entry's CIDR identity may have changed.
    return this.write([...new Set([...this.sources.keys(), ...touched])]);
  }

  private write(prefixes: Iterable<string>): number {
    return this.db.update([this.rw], (txn) => {
      for (const prefix of prefixes) {
        const s = this.sources.get(prefix);
        const cur = this.rw.get(txn, { index: 'prefix', key: prefix });
        if (!s) {
          if (cur) this.rw.delete(txn, cur);
          continue;
        }
        const source = s.endpoint !== undefined ? 'endpoint' : s.host !== undefined ? 'host' : 'cidr';
        const identity = s.endpoint ?? s.host ?? ReservedIdentity.World;
        const cidrIdentity = this.cidr.longestContaining(prefix);
        if (cur && cur.identity === identity && cur.cidrIdentity === cidrIdentity && cur.source === source) continue;
        this.rw.insert(txn, { prefix, identity, cidrIdentity, source, status: Status.pending() });
      }
      return this.rw.revision(txn);
    });
  }

  async waitSynced(rev: number, signal?: AbortSignal): Promise<void> {
    await this.reconciler?.waitUntilReconciled(rev, signal);
  }

  lookup(ip: string): { identity: number; cidrIdentity: number } {
    const s = this.sources.get(hostPrefix(ip));
    return { identity: s?.endpoint ?? s?.host ?? ReservedIdentity.World, cidrIdentity: this.cidr.forAddress(ip) };
  }
}

export const IpcacheCell = module(
  'ipcache',
  'IP to identity mapping for the datapath',
  provide({
    provides: IIpcache,
    deps: [IDB, IDatapathMaps, IEndpointManager, IIpam, ILifecycle, IJobGroup, ILogger, IHealth],
    factory: (db, maps, endpoints, ipam, lc: Lifecycle, jobs: JobGroup, log: Logger, health: Health) => {
      const rw = db.newTable<IpcacheEntry>({
        name: 'ipcache',
        primary: stringIndex('prefix', (e) => e.prefix),
        header: ['PREFIX', 'IDENTITY', 'CIDR-IDENTITY', 'SOURCE', 'STATUS'],
        row: (e) => [e.prefix, String(e.identity), e.cidrIdentity ? String(e.cidrIdentity) : '-', e.source, e.status.kind],
      });
      const init = db.update([rw], (txn) => ({
        endpoints: rw.registerInitializer(txn, 'endpoints'),
        host: rw.registerInitializer(txn, 'host'),
        cidr: rw.registerInitializer(txn, 'policy-cidrs'),
      }));
      const ipc = new IpcacheImpl(db, rw);
      const setCidr = ipc.setCidrIdentities.bind(ipc);
      let cidrSynced = false;
      ipc.setCidrIdentities = (p) => {
        const rev = setCidr(p);
        if (!cidrSynced) {
          cidrSynced = true;
          db.update([rw], (txn) => init.cidr(txn));
        }
        return rev;
      };
      lc.append({
        name: 'ipcache-host',
        onStart: () => {
          // The host's own addresses (and the router IP of the pod network) have the host identity.
          const nl = Netlink.open();
          try {
            for (const a of nl.listAddresses({ family: 'inet' })) ipc.setSource(hostPrefix(a.address), 'host', ReservedIdentity.Host);
          } finally {
            nl.close();
          }
          ipc.setSource(hostPrefix(ipam.routerIP), 'host', ReservedIdentity.Host);
          db.update([rw], (txn) => init.host(txn));
        },
      });
      ipc.reconciler = registerReconciler({ db, jobs, log, health }, { table: rw, name: 'ipcache', getStatus: (e) => e.status, setStatus: (e, status) => ({ ...e, status }), ops: new IpcacheOps(maps) });
      // The `endpoints` initializer is done once the endpoints table is initialized (restore finished)
      // and this cell has seen every change up to that point.
      let seenRev = 0;
      let endpointsSynced = false;
      const maybeMarkEndpoints = (): void => {
        const txn = db.readTxn();
        if (endpointsSynced || !endpoints.table.initialized(txn) || seenRev < endpoints.table.revision(txn)) return;
        endpointsSynced = true;
        db.update([rw], (t) => init.endpoints(t));
      };
      jobs.add(
        observer('follow-endpoints', endpoints.table.changes$(), async (c) => {
          ipc.setSource(hostPrefix(c.object.ipv4), 'endpoint', c.deleted ? undefined : c.object.identity);
          seenRev = Math.max(seenRev, c.revision);
          maybeMarkEndpoints();
        }),
        observer('endpoints-initialized', endpoints.table.initialized$(), async () => maybeMarkEndpoints()),
      );
      return ipc;
    },
  }),
);
