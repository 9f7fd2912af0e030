// Cells: the building blocks of a hive. A cell is a plain value; `module` groups cells under an id,
// `provide` registers lazy constructors, `invoke` forces construction at populate time, `config`
// declares flags, `decorate` wraps an object for a subtree, `group` bundles cells without a scope.

import { type ConfigRegistry, type ConfigSchema, flagName } from './config.js';
import type { DepRef, ProviderRec, Scope } from './graph.js';
import { type Class, type Dep, type GroupToken, type Resolved, type Token, constructorDeps, depName } from './token.js';

const MODULE_ID = /^[a-z][a-z0-9_-]{1,30}$/;
const MODULE_DESCRIPTION = /^[A-Za-z0-9_\-,/():. ']{1,80}$/;

/** Introspection of a cell, as printed by `cilia-agent hive` and served by /v1/hive. */
export type CellInfo =
  | { kind: 'module'; id: string; description: string; children: CellInfo[] }
  | { kind: 'provide'; provides: string; deps: string[]; private: boolean }
  | { kind: 'invoke'; name: string; deps: string[] }
  | { kind: 'config'; token: string; flags: { flag: string; default: unknown; doc: string }[] }
  | { kind: 'group'; children: CellInfo[] }
  | { kind: 'decorate'; target: string; deps: string[]; children: CellInfo[] };

/** An invoke as recorded at build time; run in registration order by populate(). */
export interface InvokeRec {
  readonly name: string;
  readonly module: string;
  readonly deps: readonly DepRef[];
  readonly fn: (...args: unknown[]) => unknown;
}

/** What cells need from the hive while registering. */
export interface BuildContext {
  readonly config: ConfigRegistry;
  addInvoke(inv: InvokeRec): void;
  /** Registers the module-scoped built-ins (logger, health, jobs, lifecycle, module id) in a new module scope. */
  initModuleScope(scope: Scope): void;
}

/** A building block of a hive. */
export interface Cell {
  readonly kind: CellInfo['kind'];
  /** @internal Registers the cell's providers/invokes/flags into `scope`. */
  apply(ctx: BuildContext, scope: Scope): void;
  /** Introspection. */
  info(): CellInfo;
}

/** A factory provider: `provides` is built by `factory` from `deps`. */
export interface FactoryProvider<T, D extends readonly Dep[]> {
  readonly provides: Token<T>;
  readonly deps: D;
  readonly factory: (...deps: Resolved<D>) => T;
}

/** A class provider under an interface token: `useClass` must be @injectable(). */
export interface ClassProvider<T> {
  readonly provides: Token<T>;
  readonly useClass: Class<T>;
}

/** A constant. */
export interface ValueProvider<T> {
  readonly provides: Token<T>;
  readonly useValue: T;
}

type AnyProvider = FactoryProvider<unknown, readonly Dep[]> | ClassProvider<unknown> | ValueProvider<unknown> | Class<unknown>;

function refs(deps: readonly Dep[], scope: Scope): DepRef[] {
  return deps.map((dep) => ({ dep, scope }));
}

function describeProvider(p: AnyProvider): { provides: string; deps: readonly Dep[] } {
  if (typeof p === 'function') return { provides: p.name, deps: constructorDeps(p) };
  if ('useClass' in p) return { provides: p.provides.tokenName, deps: constructorDeps(p.useClass) };
  if ('useValue' in p) return { provides: p.provides.tokenName, deps: [] };
  return { provides: p.provides.tokenName, deps: p.deps };
}

function toRec(p: AnyProvider, scope: Scope, isPrivate: boolean): ProviderRec {
  const origin = isPrivate ? 'private' : 'provide';
  const module = scope.moduleId;
  if (typeof p === 'function') {
    const deps = constructorDeps(p);
    return { key: p, name: p.name, deps: refs(deps, scope), create: (...a) => new p(...a), origin, module, state: 'new' };
  }
  if ('useClass' in p) {
    const cls = p.useClass;
    const deps = constructorDeps(cls);
    return { key: p.provides.id, name: p.provides.tokenName, deps: refs(deps, scope), create: (...a) => new cls(...a), origin, module, state: 'new' };
  }
  if ('useValue' in p) {
    const v = p.useValue;
    return { key: p.provides.id, name: p.provides.tokenName, deps: [], create: () => v, origin, module, state: 'new' };
  }
  if (p.provides.kind === 'group') throw new Error(`provide(${p.provides.tokenName}): a group token takes contributions via provideInto`);
  const f = p.factory as (...a: unknown[]) => unknown;
  return { key: p.provides.id, name: p.provides.tokenName, deps: refs(p.deps, scope), create: f, origin, module, state: 'new' };
}

function providerCell(providers: AnyProvider[], isPrivate: boolean): Cell[] {
  return providers.map((p) => {
    const d = describeProvider(p);
    return {
      kind: 'provide' as const,
      apply(_ctx: BuildContext, scope: Scope) {
        const rec = toRec(p, scope, isPrivate);
        // Public providers live in the hive's root container; their deps still resolve from `scope`.
        (isPrivate ? scope : scope.graph.root).register(rec);
      },
      info: (): CellInfo => ({ kind: 'provide', provides: d.provides, deps: d.deps.map(depName), private: isPrivate }),
    };
  });
}

/**
 * Registers constructors visible to the whole hive. Constructors are lazy: built only when an invoke
 * (directly or transitively) needs them. They must only validate and allocate — I/O, timers and
 * subscriptions belong in start hooks or jobs.
 *
 * Forms: `provide(InjectableClass)`, `provide({ provides: IFoo, deps: [IBar], factory: (bar) => ... })`,
 * `provide({ provides: IFoo, useClass: Foo })`, `provide({ provides: IFoo, useValue: v })`.
 */
export function provide<T, const D extends readonly Dep[]>(...providers: (FactoryProvider<T, D> | ClassProvider<T> | ValueProvider<T> | Class<unknown>)[]): Cell {
  return group(...providerCell(providers, false));
}

/** Like `provide`, but visible only inside the enclosing module and its sub-modules. */
export function providePrivate<T, const D extends readonly Dep[]>(...providers: (FactoryProvider<T, D> | ClassProvider<T> | ValueProvider<T> | Class<unknown>)[]): Cell {
  return group(...providerCell(providers, true));
}

/** Contributes one value to a value group; `resolve(G)` yields every contribution, in registration order. */
export function provideInto<T, const D extends readonly Dep[]>(g: GroupToken<T>, p: { deps: D; factory: (...deps: Resolved<D>) => T }): Cell {
  return {
    kind: 'provide',
    apply(_ctx, scope) {
      const rec: ProviderRec = {
        key: g.id,
        name: `${g.tokenName}[${scope.moduleId || 'root'}]`,
        deps: refs(p.deps, scope),
        create: p.factory as (...a: unknown[]) => unknown,
        origin: 'group',
        module: scope.moduleId,
        state: 'new',
      };
      scope.graph.root.registerGroup(g, rec);
    },
    info: () => ({ kind: 'provide', provides: `${g.tokenName} (group)`, deps: p.deps.map(depName), private: false }),
  };
}

/**
 * Runs `fn` once at populate time with its dependencies, forcing their construction (and thereby the
 * registration of their lifecycle hooks). `fn` must be synchronous: start work in hooks or jobs.
 */
export function invoke<const D extends readonly Dep[]>(name: string, deps: D, fn: (...deps: Resolved<D>) => void): Cell {
  return {
    kind: 'invoke',
    apply(ctx, scope) {
      ctx.addInvoke({ name, module: scope.moduleId, deps: refs(deps, scope), fn: fn as (...a: unknown[]) => unknown });
    },
    info: () => ({ kind: 'invoke', name, deps: deps.map(depName) }),
  };
}

/**
 * Declares a config fragment: one flag per schema key (camelCase key → `--kebab-case` flag →
 * `CILIA_UPPER_SNAKE` env var) and provides the parsed, frozen object under `tok`.
 * A key declared by two modules is an error when the hive is built.
 */
export function config<T extends object>(tok: Token<Readonly<T>>, schema: ConfigSchema<T>): Cell {
  return {
    kind: 'config',
    apply(ctx, scope) {
      ctx.config.add({ module: scope.moduleId, token: tok, schema: schema });
      scope.graph.root.register({
        key: tok.id,
        name: tok.tokenName,
        deps: [],
        create: () => ctx.config.get(tok),
        origin: 'config',
        module: scope.moduleId,
        state: 'new',
      });
    },
    info: () => ({
      kind: 'config',
      token: tok.tokenName,
      flags: Object.entries(schema as ConfigSchema<Record<string, unknown>>).map(([k, s]) => ({ flag: `--${flagName(k)}`, default: s.default, doc: s.doc })),
    }),
  };
}

/** Bundles cells without opening a scope. */
export function group(...cells: Cell[]): Cell {
  return {
    kind: 'group',
    apply(ctx, scope) {
      for (const c of cells) c.apply(ctx, scope);
    },
    info: () => ({ kind: 'group', children: cells.map((c) => c.info()) }),
  };
}

/**
 * A named scope. `id` (lower-case, 2–31 chars of [a-z0-9_-]) becomes part of the full module id
 * (`agent.datapath.loader`) used by logs, health and flags; `description` (≤ 80 chars) says what the
 * module owns and should not repeat the id. Each module gets its own Logger, Health, JobGroup,
 * Lifecycle and ModuleId.
 */
export function module(id: string, description: string, ...cells: Cell[]): Cell {
  if (!MODULE_ID.test(id)) throw new Error(`invalid module id ${JSON.stringify(id)}: must match ${MODULE_ID}`);
  if (!MODULE_DESCRIPTION.test(description)) throw new Error(`invalid description for module ${id}: 1-80 chars of letters, digits, spaces and _-,/():.'`);
  return {
    kind: 'module',
    apply(ctx, scope) {
      const child = scope.child(scope.moduleId ? `${scope.moduleId}.${id}` : id);
      ctx.initModuleScope(child);
      for (const c of cells) c.apply(ctx, child);
    },
    info: () => ({ kind: 'module', id, description, children: cells.map((c) => c.info()) }),
  };
}

/**
 * Wraps the object named by `target` for the cells inside: they see `fn(original, ...deps)`,
 * everyone else the original. Used to give a subtree a different logger, or a fake in tests.
 */
export function decorate<T, const D extends readonly Dep[]>(target: Token<T>, deps: D, fn: (orig: T, ...deps: Resolved<D>) => T, ...cells: Cell[]): Cell {
  return {
    kind: 'decorate',
    apply(ctx, scope) {
      const inner = scope.child(scope.moduleId);
      inner.register({
        key: target.id,
        name: `${target.tokenName} (decorated)`,
        deps: [{ dep: target, scope }, ...refs(deps, inner)],
        create: fn as (...a: unknown[]) => unknown,
        origin: 'decorate',
        module: scope.moduleId,
        state: 'new',
      });
      for (const c of cells) c.apply(ctx, inner);
    },
    info: () => ({ kind: 'decorate', target: target.tokenName, deps: deps.map(depName), children: cells.map((c) => c.info()) }),
  };
}
