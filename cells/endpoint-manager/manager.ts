// The endpoint manager: creates, restores, relabels and deletes endpoints. It owns the `endpoints`
// table (desired state) and the persisted endpoint records; the kernel work is done by the reconciler
// (ops.ts). Creation returns only once the endpoint's datapath is programmed and its policy enforced.

import fs from 'node:fs';
import path from 'node:path';
import { firstValueFrom } from 'rxjs';
import { type EndpointCreateRequest, type NamedPortJSON, ApiError, badRequest, conflict, notFound } from '../../pkg/api/index.js';
import type { Logger } from '../../pkg/hive/index.js';
import { LabelSet, podIdentityLabels } from '../../pkg/labels/index.js';
import { Netlink } from '../../pkg/netlink/index.js';
import { createNetns, deleteNetns, netnsExists, netnsPath } from '../../pkg/netns/index.js';
import { type DB, type RWTable, type Revision, keys } from '../../pkg/statedb/index.js';
import { type Reconciler, Status } from '../../pkg/statedb/reconciler/index.js';
import { readJson, removeFile, writeJsonAtomic } from '../../pkg/statefile/index.js';
import type { IdentityAllocator } from '../identity/types.js';
import type { Ipam } from '../ipam/types.js';
import type { Namespaces } from '../namespaces/types.js';
import { generatedContainerId, hostIfName, netnsNameFor, randomMac } from './naming.js';
import { containerKey, podKey } from './table.js';
import { type Endpoint, type EndpointManager, type EndpointManagerConfig, type EndpointPolicyState, type EndpointRef, datapathRevisionOf } from './types.js';
import { checkLabels, validateCreate } from './validate.js';

/** What is persisted per endpoint (<state-dir>/endpoints/<id>.json): everything but kernel-observed state. */
interface EndpointRecord {
  readonly id: number;
  readonly containerId: string;
  readonly ifName: string;
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly identityLabels: string[];
  readonly ipv4: string;
  readonly mac: string;
  readonly hostMac: string;
  readonly hostIfName: string;
  readonly netnsPath: string;
  readonly ownsNetns: boolean;
  readonly mtu: number;
  readonly namedPorts: NamedPortJSON[];
  readonly createdAt: string;
}

/** Reads the policy state a restored endpoint still has in the pinned lxc map (so restart changes nothing). */
export type PinnedPolicyReader = (ep: { ipv4: string }) => EndpointPolicyState | undefined;

export class EndpointManagerImpl implements EndpointManager {
  private nextId = 1;
  /** Serializes operations on one endpoint key (container or pod), so a CNI ADD and a retry never race. */
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(
    private readonly db: DB,
    private readonly rw: RWTable<Endpoint>,
    private readonly cfg: EndpointManagerConfig,
    private readonly stateDir: string,
    private readonly ipam: Ipam,
    private readonly identities: IdentityAllocator,
    private readonly namespaces: Namespaces,
    private readonly ifindexOf: (id: number) => number | undefined,
    private readonly log: Logger,
  ) {}

  get table() {
    return this.rw.toTable();
  }

  private recordPath(id: number): string {
    return path.join(this.stateDir, 'endpoints', `${id}.json`);
  }

  private persist(ep: Endpoint): void {
    const rec: EndpointRecord = {
      id: ep.id,
      containerId: ep.containerId,
      ifName: ep.ifName,
      name: ep.name,
      namespace: ep.namespace,
      labels: { ...ep.labels },
      identityLabels: ep.identityLabels.toStrings(),
      ipv4: ep.ipv4,
      mac: ep.mac,
      hostMac: ep.hostMac,
      hostIfName: ep.hostIfName,
      netnsPath: ep.netnsPath,
      ownsNetns: ep.ownsNetns,
      mtu: ep.mtu,
      namedPorts: [...ep.namedPorts],
      createdAt: ep.createdAt,
    };
    writeJsonAtomic(this.recordPath(ep.id), rec);
  }

  get(ref: EndpointRef): Endpoint | undefined {
    const txn = this.db.readTxn();
    if ('id' in ref) return this.rw.get(txn, { index: 'id', key: keys.uint(ref.id) });
    if ('containerId' in ref) return this.rw.get(txn, { index: 'container', key: containerKey(ref.containerId, ref.ifName) });
    return this.rw.get(txn, { index: 'pod', key: podKey(ref.namespace, ref.name) });
  }

  list(): Endpoint[] {
    return [...this.rw.all(this.db.readTxn())];
  }

  hostIfindex(id: number): number | undefined {
    return this.ifindexOf(id);
  }

  private allocateId(): number {
    const used = new Set([...this.rw.all(this.db.readTxn())].map((e) => e.id));
    for (let i = 0; i < 65535; i++) {
      const id = ((this.nextId - 1 + i) % 65535) + 1;
      if (!used.has(id)) {
        this.nextId = (id % 65535) + 1;
        return id;
      }
    }
    throw new ApiError(503, 'no free endpoint id left');
  }

  private identityLabelsFor(namespace: string, labels: Readonly<Record<string, string>>): LabelSet {
    return podIdentityLabels({ namespace, labels, namespaceLabels: this.namespaces.labelsOf(namespace), clusterName: this.cfg.clusterName });
  }

  /** Runs `fn` after any other operation on the same key finished. */
  private async serialize<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.busy.get(key) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(fn);
    this.busy.set(key, run);
    try {
      return await run;
    } finally {
      if (this.busy.get(key) === run) this.busy.delete(key);
    }
  }

  async create(req: EndpointCreateRequest, signal?: AbortSignal): Promise<Endpoint> {
    const v = validateCreate(req);
    const lockKey = v.containerId ? containerKey(v.containerId, v.ifName) : podKey(v.namespace, v.name);
    return this.serialize(lockKey, async () => {
      if (v.containerId) {
        const existing = this.get({ containerId: v.containerId, ifName: v.ifName });
        if (existing) return this.waitReady(existing.id, signal); // CNI ADD repeated
      }
      const samePod = this.get({ namespace: v.namespace, name: v.name });
      if (samePod) throw conflict(`endpoint ${v.namespace}/${v.name} already exists (id ${samePod.id})`, 'name');

      let nsPath: string;
      let ownsNetns = false;
      if (v.netns) {
        nsPath = netnsPath(v.netns);
        if (!netnsExists(nsPath)) throw badRequest(`network namespace ${v.netns} does not exist`, 'netns');
      } else {
        const name = netnsNameFor(v.namespace, v.name);
        if (netnsExists(name)) throw conflict(`network namespace ${name} already exists; pass it with --netns or delete it`, 'netns');
        createNetns(name);
        nsPath = netnsPath(name);
        ownsNetns = true;
        loopbackUp(nsPath);
      }
      const containerId = v.containerId ?? generatedContainerId();
      const owner = `endpoint:${containerKey(containerId, v.ifName)}`;
      let ip: string | undefined;
      let identity: number | undefined;
      let id: number | undefined;
      try {
        ip = this.ipam.allocate(owner);
        const identityLabels = this.identityLabelsFor(v.namespace, v.labels);
        identity = this.identities.acquire(identityLabels, 'endpoint').id;
        id = this.allocateId();
        const ep: Endpoint = {
          id,
          containerId,
          ifName: v.ifName,
          name: v.name,
          namespace: v.namespace,
          labels: v.labels,
          identityLabels,
          identity,
          ipv4: ip,
          mac: randomMac(),
          hostMac: randomMac(),
          hostIfName: hostIfName(this.cfg.endpointIfnamePrefix, containerId, v.ifName),
          netnsPath: nsPath,
          ownsNetns,
          mtu: v.mtu ?? this.cfg.endpointMtu,
          namedPorts: v.namedPorts,
          createdAt: new Date().toISOString(),
          status: Status.pending(),
        };
        this.persist(ep);
        this.db.update([this.rw], (txn) => this.rw.insert(txn, ep));
        this.log.info('endpoint created', { endpoint: id, pod: `${v.namespace}/${v.name}`, ipv4: ip, identity });
        return await this.waitReady(id, signal);
      } catch (err) {
        this.log.warn('endpoint creation failed; undoing it', { pod: `${v.namespace}/${v.name}`, error: err });
        if (id !== undefined) await this.remove(id).catch((e: unknown) => this.log.error('cleanup after failed create failed', { endpoint: id, error: e }));
        else {
          if (identity !== undefined) this.identities.release(identity);
          if (ip !== undefined) this.ipam.release(ip);
          if (ownsNetns) deleteNetns(nsPath);
        }
        if (err instanceof ApiError) throw err;
        throw new ApiError(500, `creating endpoint ${v.namespace}/${v.name} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
  }

  async delete(ref: EndpointRef): Promise<boolean> {
    const ep = this.get(ref);
    if (!ep) return false;
    return this.serialize(containerKey(ep.containerId, ep.ifName), async () => {
      if (!this.get({ id: ep.id })) return false;
      await this.remove(ep.id);
      this.log.info('endpoint deleted', { endpoint: ep.id, pod: `${ep.namespace}/${ep.name}` });
      return true;
    });
  }

  /** Removes an endpoint: table (the reconciler tears down the kernel side), lease, identity, record. */
  private async remove(id: number): Promise<void> {
    const ep = this.get({ id });
    if (!ep) return;
    const rev = this.db.update([this.rw], (txn) => {
      this.rw.delete(txn, ep);
      return this.rw.revision(txn);
    });
    removeFile(this.recordPath(id));
    this.ipam.release(ep.ipv4);
    this.identities.release(ep.identity);
    await this.waitDeleted(rev);
  }

  private reconciler?: Reconciler;

  /** Binds the datapath reconciler (it is registered after the manager, over the manager's table). */
  setReconciler(r: Reconciler): void {
    this.reconciler = r;
  }

  /** Waits until the reconciler tore down a deleted endpoint. */
  private async waitDeleted(rev: Revision): Promise<void> {
    await this.reconciler?.waitUntilReconciled(rev);
  }

  async updateLabels(ref: EndpointRef, add: Readonly<Record<string, string>>, remove: readonly string[], signal?: AbortSignal): Promise<Endpoint> {
    const ep = this.get(ref);
    if (!ep) throw notFound(`no such endpoint ${describeRef(ref)}`);
    const added = checkLabels(add, 'add');
    for (const k of remove) if (!(k in ep.labels)) throw badRequest(`endpoint ${ep.id} has no label ${JSON.stringify(k)}`, 'delete');
    return this.serialize(containerKey(ep.containerId, ep.ifName), async () => {
      const labels: Record<string, string> = { ...ep.labels, ...added };
      for (const k of remove) delete labels[k];
      return this.relabel(ep.id, labels, signal);
    });
  }

  /** Recomputes an endpoint's identity from its labels and its namespace's labels; no-op when unchanged. */
  async relabel(id: number, labels: Readonly<Record<string, string>>, signal?: AbortSignal): Promise<Endpoint> {
    const ep = this.get({ id });
    if (!ep) throw notFound(`no such endpoint ${id}`);
    const identityLabels = this.identityLabelsFor(ep.namespace, labels);
    if (identityLabels.equals(ep.identityLabels) && JSON.stringify(labels) === JSON.stringify(ep.labels)) return ep;
    const identity = identityLabels.equals(ep.identityLabels) ? ep.identity : this.identities.acquire(identityLabels, 'endpoint').id;
    const next: Endpoint = { ...ep, labels: { ...labels }, identityLabels, identity, status: Status.pending() };
    this.persist(next);
    this.db.update([this.rw], (txn) => this.rw.insert(txn, next));
    if (identity !== ep.identity) this.identities.release(ep.identity);
    this.log.info('endpoint labels changed', { endpoint: id, identity, previousIdentity: ep.identity });
    return this.waitReady(id, signal);
  }

  setPolicyStates(states: ReadonlyMap<number, EndpointPolicyState>): Revision {
    return this.db.update([this.rw], (txn) => {
      for (const [id, state] of states) {
        const ep = this.rw.get(txn, { index: 'id', key: keys.uint(id) });
        if (!ep) continue;
        const p = ep.policy;
        const sameDatapath = p !== undefined && p.ingressEnforced === state.ingressEnforced && p.egressEnforced === state.egressEnforced && datapathRevisionOf(p) === datapathRevisionOf(state);
        if (sameDatapath && p.revision === state.revision) continue;
        // A new revision alone changes nothing the datapath holds: keep the status (no reconciliation),
        // so a policy change costs work only on the endpoints whose entries changed.
        this.rw.insert(txn, { ...ep, policy: state, status: sameDatapath ? ep.status : Status.pending() });
      }
      return this.rw.revision(txn);
    });
  }

  async waitReady(id: number, signal?: AbortSignal): Promise<Endpoint> {
    for (;;) {
      signal?.throwIfAborted();
      const txn = this.db.readTxn();
      const ep = this.rw.get(txn, { index: 'id', key: keys.uint(id) });
      if (!ep) throw new ApiError(410, `endpoint ${id} was deleted`);
      if (ep.status.kind === 'Error') throw new Error(ep.status.error ?? 'endpoint datapath failed');
      if (ep.status.kind === 'Done' && ep.policy) return ep;
      await firstValueFrom(this.rw.watch(txn));
    }
  }

  /**
   * Restores persisted endpoints into the table. Endpoints whose network namespace is gone are
   * removed (their address and identity released). The policy state is taken from the pinned lxc
   * map, so the first reconciliation rewrites exactly what the datapath already holds.
   */
  restore(readPinnedPolicy: PinnedPolicyReader): { restored: number; dropped: number } {
    const dir = path.join(this.stateDir, 'endpoints');
    let files: string[] = [];
    try {
      files = fs.readdirSync(dir).filter((f) => /^\d+\.json$/.test(f));
    } catch {
      /* nothing persisted */
    }
    let restored = 0;
    let dropped = 0;
    for (const f of files) {
      let rec: EndpointRecord | undefined;
      try {
        rec = readJson<EndpointRecord>(path.join(dir, f));
      } catch (err) {
        this.log.error('skipping an unreadable endpoint record', { file: f, error: err });
        continue;
      }
      if (!rec) continue;
      const owner = `endpoint:${containerKey(rec.containerId, rec.ifName)}`;
      if (!netnsExists(rec.netnsPath)) {
        this.log.warn('dropping a restored endpoint whose network namespace is gone', { endpoint: rec.id, netns: rec.netnsPath });
        this.ipam.release(rec.ipv4);
        removeFile(path.join(dir, f));
        dropped++;
        continue;
      }
      try {
        this.ipam.allocateSpecific(rec.ipv4, owner);
      } catch (err) {
        this.log.error('restored endpoint lost its address; dropping it', { endpoint: rec.id, error: err });
        dropped++;
        continue;
      }
      const identityLabels = LabelSet.parse(rec.identityLabels);
      const identity = this.identities.acquire(identityLabels, 'endpoint').id;
      const ep: Endpoint = { ...rec, identityLabels, identity, policy: readPinnedPolicy(rec), status: Status.pending() };
      this.db.update([this.rw], (txn) => this.rw.insert(txn, ep));
      this.nextId = Math.max(this.nextId, rec.id + 1);
      restored++;
    }
    return { restored, dropped };
  }
}

/**
 * Brings up the loopback device of a pod netns the agent created itself. The agent stands in for the
 * container runtime there, and a runtime's pod has its loopback up (CNI's loopback plugin): without
 * it a pod cannot reach itself, not even on its own address (local routes go through `lo`).
 */
function loopbackUp(nsPath: string): void {
  const nl = Netlink.open({ netns: nsPath });
  try {
    nl.setUp('lo');
  } finally {
    nl.close();
  }
}

function describeRef(ref: EndpointRef): string {
  if ('id' in ref) return String(ref.id);
  if ('containerId' in ref) return `container ${ref.containerId}/${ref.ifName}`;
  return `${ref.namespace}/${ref.name}`;
}
