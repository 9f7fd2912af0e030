// The object graph of one hive: scopes (one per module) backed by tsyringe child containers, provider
// records, lazy construction, and build-time validation (missing dependencies and cycles are reported
// with the chain of names before anything is constructed).
//
// Visibility follows tsyringe's container chain: `provide` registers in the hive's root container, so
// everyone sees it; `providePrivate` registers in the module's child container, so only the module and
// its sub-modules see it. A provider's own dependencies always resolve from the scope it was declared
// in, so a public provider can use its module's private objects and module-scoped logger.

import type { DependencyContainer } from 'tsyringe';
import { type Class, type Dep, type Token, depName, isToken } from './token.js';

/** A dependency together with the scope it resolves from. */
export interface DepRef {
  readonly dep: Dep;
  readonly scope: Scope;
}

/** How something got into the graph, for errors and introspection. */
export type Origin = 'provide' | 'private' | 'config' | 'builtin' | 'decorate' | 'group' | 'override';

/** One registered constructor. Built at most once per hive. */
export interface ProviderRec {
  readonly key: symbol | Class<unknown>;
  readonly name: string;
  readonly deps: readonly DepRef[];
  readonly create: (...args: unknown[]) => unknown;
  readonly origin: Origin;
  readonly module: string;
  state: 'new' | 'building' | 'built';
  instance?: unknown;
}

/** Thrown at build time for missing dependencies and cycles; lists every problem found. */
export class GraphError extends Error {
  constructor(readonly problems: string[]) {
    super(`hive cannot be built:\n  - ${problems.join('\n  - ')}`);
    this.name = 'GraphError';
  }
}

function keyOf(d: Dep): symbol | Class<unknown> {
  return isToken(d) ? d.id : d;
}

/** A module's view of the graph: its container and the providers registered in it. */
export class Scope {
  readonly recs = new Map<symbol | Class<unknown>, ProviderRec>();
  readonly groupRecs = new Map<symbol, ProviderRec[]>();

  constructor(
    readonly graph: Graph,
    readonly moduleId: string,
    readonly container: DependencyContainer,
    readonly parent?: Scope,
  ) {}

  /** A child scope with its own container (a module, or the inside of a decorate). */
  child(moduleId: string): Scope {
    return new Scope(this.graph, moduleId, this.container.createChildContainer(), this);
  }

  /** This scope and its ancestors, innermost first (the order tsyringe's container chain resolves in). */
  private chain(): Scope[] {
    const out: Scope[] = [];
    for (let s: Scope | undefined = this.parent; s; s = s.parent) out.push(s);
    return [this, ...out];
  }

  /** The provider visible from this scope for `d`, walking up to the root. */
  lookup(d: Dep): ProviderRec | undefined {
    const key = keyOf(d);
    for (const s of this.chain()) {
      const r = s.recs.get(key);
      if (r) return r;
    }
    return undefined;
  }

  /** Group contributions visible from this scope (groups are collected from every scope up to the root). */
  lookupGroup(t: Token<unknown>): ProviderRec[] {
    return this.chain().flatMap((s) => s.groupRecs.get(t.id) ?? []);
  }

  /** Registers a provider in this scope's container. Throws if this scope already provides the key. */
  register(rec: ProviderRec): void {
    const override = this.graph.overrides.get(rec.key);
    if (override && rec.origin !== 'override') {
      rec = { ...rec, deps: [], create: () => override.value, origin: 'override' };
    }
    const prev = this.recs.get(rec.key);
    if (prev) {
      throw new Error(`${rec.name} is provided twice: by module ${prev.module || '(root)'} (${prev.origin}) and module ${rec.module || '(root)'} (${rec.origin})`);
    }
    this.recs.set(rec.key, rec);
    this.graph.all.push(rec);
    const graph = this.graph;
    this.container.register(rec.key as symbol, { useFactory: () => graph.instantiate(rec) });
  }

  /** Adds a contribution to a value group. */
  registerGroup(t: Token<unknown>, rec: ProviderRec): void {
    const list = this.groupRecs.get(t.id) ?? [];
    list.push(rec);
    this.groupRecs.set(t.id, list);
    this.graph.all.push(rec);
    const graph = this.graph;
    this.container.register(t.id, { useFactory: () => graph.instantiate(rec) });
  }
}

/** The whole graph of one hive. */
export class Graph {
  readonly all: ProviderRec[] = [];
  readonly overrides = new Map<symbol | Class<unknown>, { value: unknown }>();
  readonly root: Scope;

  constructor(container: DependencyContainer) {
    this.root = new Scope(this, '', container);
  }

  /** Replaces whatever provides `d` with a fixed value (tests). Must be called before cells register. */
  override(d: Dep, value: unknown): void {
    this.overrides.set(keyOf(d), { value });
  }

  /** Resolves a dependency from a scope through tsyringe, constructing lazily. */
  resolve(ref: DepRef): unknown {
    const d = ref.dep;
    if (isToken(d) && d.kind === 'group') {
      // resolveAll throws when nothing is registered; an empty group is a valid answer.
      return ref.scope.lookupGroup(d).length ? ref.scope.container.resolveAll(d.id) : [];
    }
    const key = keyOf(d);
    if (!ref.scope.container.isRegistered(key, true)) {
      if (isToken(d) && d.isOptional) return undefined;
      throw new GraphError([`missing dependency ${depName(d)} (resolved from module ${ref.scope.moduleId || '(root)'})`]);
    }
    return ref.scope.container.resolve(key);
  }

  /** Constructs a provider (once), after its dependencies. */
  instantiate(rec: ProviderRec): unknown {
    if (rec.state === 'built') return rec.instance;
    if (rec.state === 'building') throw new GraphError([`dependency cycle through ${rec.name}`]);
    rec.state = 'building';
    try {
      const args = rec.deps.map((r) => this.resolve(r));
      rec.instance = rec.create(...args);
      rec.state = 'built';
      return rec.instance;
    } catch (err) {
      rec.state = 'new';
      throw err;
    }
  }

  /**
   * Checks that everything reachable from `roots` can be built: every dependency has a provider and
   * there is no cycle. Returns the problems, each with the chain that leads to it.
   */
  validate(roots: { what: string; deps: readonly DepRef[] }[]): string[] {
    const problems: string[] = [];
    const done = new Set<ProviderRec>();
    const onPath: ProviderRec[] = [];
    const visitRef = (ref: DepRef, chain: string[]): void => {
      const d = ref.dep;
      if (isToken(d) && d.kind === 'group') {
        for (const r of ref.scope.lookupGroup(d)) visit(r, chain);
        return;
      }
      const rec = ref.scope.lookup(d);
      if (!rec) {
        if (isToken(d) && d.isOptional) return;
        problems.push(`missing dependency ${depName(d)}: ${[...chain, depName(d)].join(' → ')}`);
        return;
      }
      visit(rec, chain);
    };
    const visit = (rec: ProviderRec, chain: string[]): void => {
      if (done.has(rec)) return;
      const at = onPath.indexOf(rec);
      if (at >= 0) {
        problems.push(`dependency cycle: ${[...onPath.slice(at).map((r) => r.name), rec.name].join(' → ')}`);
        return;
      }
      onPath.push(rec);
      const label = `${rec.name} (${rec.module || 'root'})`;
      for (const ref of rec.deps) visitRef(ref, [...chain, label]);
      onPath.pop();
      done.add(rec);
    };
    for (const root of roots) for (const ref of root.deps) visitRef(ref, [root.what]);
    return [...new Set(problems)];
  }
}
