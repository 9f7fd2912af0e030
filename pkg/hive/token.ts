// Tokens: typed identifiers for the objects a hive provides.
//
// A token carries the type of the object it names and doubles as a constructor parameter decorator,
// like VS Code's `createDecorator`: interfaces have no runtime value, so `emitDecoratorMetadata`
// alone cannot inject them; `constructor(@ILogger log: Logger)` can.

import 'reflect-metadata'; // tsyringe needs the Reflect metadata polyfill loaded before it
import { inject, injectAll } from 'tsyringe';

/** Metadata key under which a class records the tokens of its constructor parameters. */
const PARAM_TOKENS = Symbol.for('cilia.hive.paramTokens');

/** Any class. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Class<T> = new (...args: any[]) => T;

/** A typed identifier. Call it as a parameter decorator to inject the object it names. */
export interface Token<T> {
  (target: object, key: string | symbol | undefined, index: number): void;
  /** The tsyringe injection token actually registered. */
  readonly id: symbol;
  /** Human-readable name, used in errors and introspection. */
  readonly tokenName: string;
  /** 'single': one provider; 'group': any number of contributions resolved as an array. */
  readonly kind: 'single' | 'group';
  /** When true, a missing provider resolves to undefined instead of failing the build. */
  readonly isOptional: boolean;
  /** The token this one was derived from (for optional()), else itself. */
  readonly base: Token<unknown>;
  /** Phantom member carrying T; never read at run time. */
  readonly __type?: T;
}

/** A token for a value group: contributions from `provideInto`, resolved as a read-only array. */
export type GroupToken<T> = Token<readonly T[]>;

/** What may appear in a `deps` list: a token or an injectable class. */
export type Dep = Token<unknown> | Class<unknown>;

/** Maps a `deps` tuple to the tuple of resolved values. */
export type Resolved<D extends readonly Dep[]> = {
  -readonly [K in keyof D]: D[K] extends Token<infer T> ? T : D[K] extends Class<infer C> ? C : never;
};

function makeToken<T>(name: string, kind: 'single' | 'group', id: symbol, isOptional: boolean, base?: Token<unknown>): Token<T> {
  const decorator = function (target: object, key: string | symbol | undefined, index: number): void {
    const ctor = (key === undefined ? target : (target as { constructor: object }).constructor);
    const list = (Reflect.getOwnMetadata(PARAM_TOKENS, ctor) as Token<unknown>[] | undefined) ?? [];
    list[index] = tok;
    Reflect.defineMetadata(PARAM_TOKENS, list, ctor);
    // Also tell tsyringe, so that container.resolve(Class) injects the same object.
    if (kind === 'group') injectAll(id, { isOptional: true })(target, key, index);
    else if (!isOptional) inject(id)(target, key, index);
    else inject(id, { isOptional: true })(target, key, index);
  };
  const tok = Object.assign(decorator, { id, tokenName: name, kind, isOptional }) as unknown as Token<T> & { base: Token<unknown> };
  Object.defineProperty(tok, 'base', { value: base ?? tok });
  Object.defineProperty(tok, 'name', { value: name });
  return tok;
}

/** Creates a token for a single object. The name appears in errors ("missing IPolicyRepository"). */
export function token<T>(name: string): Token<T> {
  return makeToken<T>(name, 'single', Symbol(name), false);
}

/** Creates a token for a value group (see `provideInto`). */
export function groupToken<T>(name: string): GroupToken<T> {
  return makeToken<readonly T[]>(name, 'group', Symbol(name), false);
}

/** The same token, but resolving to undefined when nothing provides it. */
export function optional<T>(t: Token<T>): Token<T | undefined> {
  if (t.kind === 'group') throw new Error(`optional(${t.tokenName}): a group is never missing, it is empty`);
  return makeToken<T | undefined>(`optional(${t.tokenName})`, 'single', t.id, true, t.base);
}

/** True when `d` is a token rather than a class. */
export function isToken(d: unknown): d is Token<unknown> {
  return typeof d === 'function' && typeof (d as Token<unknown>).id === 'symbol' && 'tokenName' in d;
}

/** Display name of a dependency, for errors and introspection. */
export function depName(d: Dep): string {
  return isToken(d) ? d.tokenName : d.name;
}

/**
 * The dependencies of an injectable class's constructor: the token a parameter was decorated with, or
 * else its design-time type (a class) as emitted by `emitDecoratorMetadata`.
 *
 * Throws when a parameter has neither (an interface type without a token decorator emits `Object`).
 */
export function constructorDeps(cls: Class<unknown>): Dep[] {
  const paramTypes = (Reflect.getMetadata('design:paramtypes', cls) as (Class<unknown> | undefined)[] | undefined) ?? [];
  const tokens = (Reflect.getOwnMetadata(PARAM_TOKENS, cls) as (Token<unknown> | undefined)[] | undefined) ?? [];
  const n = Math.max(paramTypes.length, tokens.length, cls.length);
  const deps: Dep[] = [];
  for (let i = 0; i < n; i++) {
    const t = tokens[i];
    if (t) { deps.push(t); continue; }
    const p = paramTypes[i];
    if (!p || p === Object || p === Function || p === String || p === Number || p === Boolean || p === Array) {
      throw new Error(
        `${cls.name}: constructor parameter #${i} has no injectable type; decorate it with a token (e.g. @ILogger) ` +
          `or make the class @injectable() with a class-typed parameter`,
      );
    }
    deps.push(p);
  }
  return deps;
}
