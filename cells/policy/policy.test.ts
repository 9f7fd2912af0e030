// The policy cell in a small hive, with fakes for the endpoint manager, identities, ipcache and the
// BPF map: rule and identity changes become per-endpoint map entries, recomputed incrementally.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { invoke, module, provide } from '../../pkg/hive/index.js';
import { testHive } from '../../pkg/hive/hivetest/hivetest.js';
import { LabelSet, podIdentityLabels, reservedIdentities } from '../../pkg/labels/index.js';
import { parsePolicies } from '../../pkg/policy/index.js';
import { type DB, IDB, type RWTable, StateDBCell, keys, uintIndex } from '../../pkg/statedb/index.js';
import { Status } from '../../pkg/statedb/reconciler/index.js';
import type { Endpoint, EndpointManager, EndpointPolicyState, EndpointRef } from '../endpoint-manager/types.js';
import { IEndpointManager } from '../endpoint-manager/types.js';
import type { Identity, IdentityAllocator } from '../identity/types.js';
import { IIdentityAllocator } from '../identity/types.js';
import type { Ipcache } from '../ipcache/types.js';
import { IIpcache } from '../ipcache/types.js';
import { IDatapathMaps, type MapsAccess } from '../maps/types.js';
import { PolicyCell } from './cell.js';
import { IPolicyEngine, type PolicyEngine } from './types.js';

/** The cilia_policy map as a JS map: key string → deny flag. Counts writes. */
class FakePolicyMap {
  readonly entries_ = new Map<string, { key: Record<string, number>; deny: number }>();
  puts = 0;
  private k(key: Record<string, number>): string {
    return `${key.ep_id}/${key.sec_label}/${key.egress}/${key.protocol}/${key.dport}/${key.prefixlen}`;
  }
  put(key: Record<string, number>, v: { deny: number }): void {
    this.puts++;
    this.entries_.set(this.k(key), { key, deny: v.deny });
  }
  delete(key: Record<string, number>): boolean {
    return this.entries_.delete(this.k(key));
  }
  *keys() {
    for (const e of this.entries_.values()) yield e.key;
  }
  *entries() {
    for (const e of this.entries_.values()) yield [e.key, { deny: e.deny, packets: 0n, bytes: 0n }] as const;
  }
  /** "ep/identity/dir/proto/port" of allow/deny entries, for assertions. */
  describe(): string[] {
    return [...this.entries_.values()].map((e) => `${e.key.ep_id}/${e.key.sec_label}/${e.key.egress ? 'E' : 'I'}/${e.key.protocol}/${e.key.dport}${e.deny ? ' deny' : ''}`).sort();
  }
}

function endpointTable(db: DB): RWTable<Endpoint> {
  return db.newTable<Endpoint>({ name: 'endpoints', primary: uintIndex('id', (e) => e.id) });
}

class FakeEndpoints implements EndpointManager {
  constructor(
    private readonly db: DB,
    private readonly rw: RWTable<Endpoint>,
  ) {}
  get table() {
    return this.rw.toTable();
  }
  add(id: number, labels: Record<string, string>, identity: number): void {
    const ep = { id, containerId: `c${id}`, ifName: 'eth0', name: `p${id}`, namespace: 'default', labels, identityLabels: podIdentityLabels({ namespace: 'default', labels }), identity, ipv4: `10.0.0.${id}`, mac: '', hostMac: '', hostIfName: `lxc${id}`, netnsPath: '', ownsNetns: false, mtu: 1500, namedPorts: [], createdAt: '', status: Status.done() } satisfies Endpoint;
    this.db.update([this.rw], (t) => this.rw.insert(t, ep));
  }
  list() {
    return [...this.rw.all(this.db.readTxn())];
  }
  get(ref: EndpointRef) {
    return 'id' in ref ? this.rw.get(this.db.readTxn(), { index: 'id', key: keys.uint(ref.id) }) : undefined;
  }
  setPolicyStates(states: ReadonlyMap<number, EndpointPolicyState>): number {
    return this.db.update([this.rw], (t) => {
      for (const [id, state] of states) {
        const ep = this.rw.get(t, { index: 'id', key: keys.uint(id) })!;
        this.rw.insert(t, { ...ep, policy: state, status: Status.done() });
      }
      return this.rw.revision(t);
    });
  }
  async waitReady(id: number) {
    return this.get({ id })!;
  }
  hostIfindex() {
    return undefined;
  }
  async create(): Promise<Endpoint> {
    throw new Error('not in this test');
  }
  async delete(): Promise<boolean> {
    throw new Error('not in this test');
  }
  async updateLabels(): Promise<Endpoint> {
    throw new Error('not in this test');
  }
}

class FakeIdentities implements IdentityAllocator {
  private next = 1000;
  constructor(
    private readonly db: DB,
    private readonly rw: RWTable<Identity>,
  ) {
    db.update([rw], (t) => {
      for (const r of reservedIdentities()) rw.insert(t, { id: r.id, labels: r.labels, kind: 'reserved', refs: Infinity });
    });
  }
  get table() {
    return this.rw.toTable();
  }
  put(id: number, labels: LabelSet): void {
    this.db.update([this.rw], (t) => this.rw.insert(t, { id, labels, kind: 'endpoint', refs: 1 }));
  }
  acquire(labels: LabelSet, kind: 'endpoint' | 'cidr'): Identity {
    const i = { id: (kind === 'cidr' ? 1 << 24 : 0) | this.next++, labels, kind, refs: 1 };
    this.db.update([this.rw], (t) => this.rw.insert(t, i));
    return i;
  }
  release(): boolean {
    return true;
  }
  get(id: number) {
    return this.rw.get(this.db.readTxn(), { index: 'id', key: keys.uint(id) });
  }
  lookup(): Identity | undefined {
    return undefined;
  }
}

const fakeIpcache: Ipcache = {
  table: undefined as never,
  setCidrIdentities: () => 0,
  waitSynced: async () => {},
  lookup: () => ({ identity: 2, cidrIdentity: 0 }),
};

async function setup() {
  const map = new FakePolicyMap();
  let eps!: FakeEndpoints;
  let ids!: FakeIdentities;
  let engine!: PolicyEngine;
  const fakes = module(
    'fakes',
    'Fake endpoint manager, identities, ipcache and maps',
    provide({ provides: IEndpointManager, deps: [IDB], factory: (db) => (eps = new FakeEndpoints(db, endpointTable(db))) }),
    provide({ provides: IIdentityAllocator, deps: [IDB], factory: (db) => (ids = new FakeIdentities(db, db.newTable<Identity>({ name: 'identities', primary: uintIndex('id', (i) => i.id) }))) }),
    provide({ provides: IIpcache, deps: [], factory: () => fakeIpcache }),
    provide({ provides: IDatapathMaps, deps: [], factory: (): MapsAccess => ({ maps: { policy: map } as never }) }),
  );
  const h = testHive([StateDBCell, fakes, PolicyCell, invoke('grab', [IPolicyEngine], (e) => (engine = e))]);
  await h.start();
  return { h, map, eps: () => eps, ids: () => ids, engine: () => engine };
}

const classic = parsePolicies(
  JSON.stringify([{ labels: [{ key: 'name', value: 'l3-rule' }], endpointSelector: { matchLabels: { id: 'app1' } }, ingress: [{ fromEndpoints: [{ matchLabels: { id: 'app2' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }] }] }] }]),
).policies;

describe('policy cell', () => {
  test('rules become map entries of the selected endpoints only; endpoints record the revision', async (t) => {
    const s = await setup();
    t.after(() => s.h.hive.stop());
    const eps = s.eps();
    for (const [id, app] of [[1, 'app1'], [2, 'app2'], [3, 'app3']] as const) {
      const labels = { id: app };
      s.ids().put(256 + id, podIdentityLabels({ namespace: 'default', labels }));
      eps.add(id, labels, 256 + id);
    }
    const rev = s.engine().upsert(classic);
    await s.engine().waitEnforced(rev);
    // app1 (endpoint 1) allows app2 (identity 258) on 80/TCP, and the host (identity 1) on anything.
    assert.deepEqual(s.map.describe(), ['1/1/I/0/0', '1/258/I/6/80']);
    const { datapathRevision: dp1, ...p1 } = eps.get({ id: 1 })!.policy!;
    assert.deepEqual(p1, { ingressEnforced: true, egressEnforced: false, revision: rev });
    const { datapathRevision: dp2, ...p2 } = eps.get({ id: 2 })!.policy!;
    assert.deepEqual(p2, { ingressEnforced: false, egressEnforced: false, revision: rev });

    // A rule for app3 only: app1's entries are not written again.
    const putsBefore = s.map.puts;
    const other = parsePolicies(JSON.stringify([{ endpointSelector: { matchLabels: { id: 'app3' } }, egress: [{ toEntities: ['world'] }] }])).policies;
    await s.engine().waitEnforced(s.engine().upsert(other));
    assert.deepEqual(s.map.describe(), ['1/1/I/0/0', '1/258/I/6/80', '3/2/E/0/0']);
    assert.equal(s.map.puts - putsBefore, 1, 'only the new entry was written');
    // Every endpoint enforces the new revision; only app3's datapath changed (lxc policy_rev).
    const after = (id: number) => eps.get({ id })!.policy!;
    assert.deepEqual([after(1).revision, after(2).revision, after(3).revision], [s.engine().revision(), s.engine().revision(), s.engine().revision()]);
    assert.equal(after(1).datapathRevision, dp1);
    assert.equal(after(2).datapathRevision, dp2);
    assert.ok(after(3).datapathRevision! > Math.max(dp1!, dp2!), 'app3 got a new datapath revision');


    // A new identity that the rule's selector matches: app1's entries gain it, incrementally. There is
    // no new repository revision, but app1's datapath revision moves (its connections are checked again).
    s.ids().put(300, podIdentityLabels({ namespace: 'default', labels: { id: 'app2', extra: 'yes' } }));
    for (let i = 0; i < 200 && !s.map.describe().includes('1/300/I/6/80'); i++) await s.engine().waitIdle();
    assert.ok(s.map.describe().includes('1/300/I/6/80'), s.map.describe().join(' '));
    await s.engine().waitIdle();
    assert.ok(after(1).datapathRevision! > dp1!, 'app1 got a new datapath revision for the new identity');

    // Deleting the classic rule removes app1's entries and its enforcement.
    await s.engine().waitEnforced(s.engine().delete([{ kind: 'CiliumRules', namespace: '', name: classic[0].name }]));
    assert.deepEqual(s.map.describe(), ['3/2/E/0/0']);
    assert.equal(eps.get({ id: 1 })!.policy?.ingressEnforced, false);
  });

  test('trace explains the verdict and names the deciding rule', async (t) => {
    const s = await setup();
    t.after(() => s.h.hive.stop());
    s.engine().upsert(classic);
    const lab = (app: string) => podIdentityLabels({ namespace: 'default', labels: { id: app } });
    assert.equal(s.engine().trace(lab('app2'), lab('app1'), 80, 6).verdict, 'allowed');
    const denied = s.engine().trace(lab('app3'), lab('app1'), 80, 6);
    assert.equal(denied.verdict, 'denied');
    assert.match(denied.text, /l3-rule/);
  });
});
