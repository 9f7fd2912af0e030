// Health: every module (and every job) reports OK / Degraded / Stopped with a message; the registry
// aggregates the reports into a tree for `cilia status` and the /v1/status API.

import { BehaviorSubject, type Observable } from 'rxjs';

/** Health levels. A module is "Unknown" until it first reports. */
export type Level = 'Unknown' | 'OK' | 'Degraded' | 'Stopped';

/** One reporter's latest status. `id` is the full path, e.g. `agent.datapath.loader.job-load`. */
export interface HealthStatus {
  readonly id: string;
  readonly level: Level;
  readonly message: string;
  readonly error?: string;
  /** Epoch milliseconds of the last report. */
  readonly updatedAt: number;
}

/** A health reporter scoped to a module (or a sub-scope of one). */
export interface Health {
  /** The reporter is working; `status` says how (e.g. "3 endpoint(s)"). */
  ok(status: string): void;
  /** The reporter works partially or is retrying; `reason` says what, `err` why. */
  degraded(reason: string, err?: unknown): void;
  /** The reporter has stopped on purpose (e.g. a one-shot job finished, a feature is disabled). */
  stopped(reason: string): void;
  /** A child reporter shown as `<this id>.<name>`. */
  scope(name: string): Health;
  /** Removes this reporter (and its children) from the registry. */
  close(): void;
}

/** Aggregated health node: a module or reporter with its children. */
export interface HealthNode {
  readonly name: string;
  readonly id: string;
  readonly level: Level;
  readonly message: string;
  readonly error?: string;
  readonly updatedAt?: number;
  readonly children: HealthNode[];
}

/** Collects every reporter's status. One per hive. */
export class HealthRegistry {
  private readonly subject = new BehaviorSubject<ReadonlyMap<string, HealthStatus>>(new Map());

  /** Current statuses, keyed by id; emits on every report. */
  readonly statuses$: Observable<ReadonlyMap<string, HealthStatus>> = this.subject.asObservable();

  /** The latest statuses. */
  get statuses(): ReadonlyMap<string, HealthStatus> {
    return this.subject.value;
  }

  /** A reporter for `id`. It shows as Unknown until its first report. */
  reporter(id: string): Health {
    this.set({ id, level: 'Unknown', message: '', updatedAt: Date.now() });
    return new ScopedHealth(this, id);
  }

  /** A reporter whose own status is not recorded until it reports; its scopes report normally. */
  detachedScope(id: string): Health {
    return new ScopedHealth(this, id);
  }

  /** @internal */
  set(s: HealthStatus): void {
    const next = new Map(this.subject.value);
    next.set(s.id, s);
    this.subject.next(next);
  }

  /** @internal Removes `id` and every id below it. */
  remove(id: string): void {
    const next = new Map(this.subject.value);
    for (const k of next.keys()) if (k === id || k.startsWith(id + '.')) next.delete(k);
    this.subject.next(next);
  }

  /** The statuses aggregated into a tree by id path; a node's level is the worst of its subtree. */
  tree(rootName = 'hive'): HealthNode {
    return buildTree(rootName, [...this.subject.value.values()]);
  }

  /** The worst level over all reporters (OK when there are none). */
  overall(): Level {
    return this.tree().level;
  }
}

// Which level wins when aggregating: a degraded child makes the parent degraded; a child that stopped on
// purpose (a finished one-shot job) does not make its parent look broken.
const RANK: Record<Level, number> = { Stopped: 0, OK: 1, Unknown: 2, Degraded: 3 };

/** The worse of two levels for aggregation. */
export function worse(a: Level, b: Level): Level {
  return RANK[b] > RANK[a] ? b : a;
}

function buildTree(rootName: string, statuses: HealthStatus[]): HealthNode {
  interface Mut { name: string; id: string; status?: HealthStatus; children: Map<string, Mut> }
  const root: Mut = { name: rootName, id: '', children: new Map() };
  for (const s of statuses) {
    let node = root;
    const parts = s.id.split('.').filter(Boolean);
    let id = '';
    for (const p of parts) {
      id = id ? `${id}.${p}` : p;
      let child = node.children.get(p);
      if (!child) node.children.set(p, (child = { name: p, id, children: new Map() }));
      node = child;
    }
    node.status = s;
  }
  const freeze = (m: Mut): HealthNode => {
    const children = [...m.children.values()].sort((a, b) => a.name.localeCompare(b.name)).map(freeze);
    // A node without its own report takes the worst of its children; Stopped children count as OK.
    let level: Level = m.status?.level ?? (children.length ? 'Stopped' : 'Unknown');
    for (const c of children) level = worse(level, c.level);
    if (!m.status && level === 'Stopped' && children.some((c) => c.level !== 'Stopped')) level = 'OK';
    const degradedChild = children.find((c) => c.level === 'Degraded');
    const message = m.status?.message ?? (degradedChild ? `${degradedChild.name}: ${degradedChild.message}` : '');
    return { name: m.name, id: m.id, level, message, error: m.status?.error, updatedAt: m.status?.updatedAt, children };
  };
  return freeze(root);
}

class ScopedHealth implements Health {
  constructor(
    private readonly registry: HealthRegistry,
    private readonly id: string,
  ) {}

  ok(status: string): void {
    this.registry.set({ id: this.id, level: 'OK', message: status, updatedAt: Date.now() });
  }
  degraded(reason: string, err?: unknown): void {
    const error = err === undefined ? undefined : err instanceof Error ? err.message : JSON.stringify(err);
    this.registry.set({ id: this.id, level: 'Degraded', message: reason, error, updatedAt: Date.now() });
  }
  stopped(reason: string): void {
    this.registry.set({ id: this.id, level: 'Stopped', message: reason, updatedAt: Date.now() });
  }
  scope(name: string): Health {
    return this.registry.reporter(`${this.id}.${name}`);
  }
  close(): void {
    this.registry.remove(this.id);
  }
}
