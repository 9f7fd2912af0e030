// Address and route scopes, named as iproute2 names them.
import { RT_SCOPE_HOST, RT_SCOPE_LINK, RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE } from './constants.js';

/** Scope of an address or route: `global` (RT_SCOPE_UNIVERSE), `site`, `link`, `host`, `nowhere`. */
export type Scope = 'global' | 'site' | 'link' | 'host' | 'nowhere';

const SCOPES: ReadonlyMap<Scope, number> = new Map<Scope, number>([
  ['global', RT_SCOPE_UNIVERSE], ['site', 200], ['link', RT_SCOPE_LINK], ['host', RT_SCOPE_HOST], ['nowhere', RT_SCOPE_NOWHERE],
]);
const SCOPE_NAMES = new Map<number, Scope>([...SCOPES].map(([name, num]) => [num, name]));

/** The wire value of a scope. */
export function scopeNumber(scope: Scope): number {
  const n = SCOPES.get(scope);
  if (n === undefined) throw new TypeError(`unknown scope ${JSON.stringify(scope)}`);
  return n;
}

/** The name of a wire scope value; other values (user-defined scopes) stay numbers. */
export function scopeName(n: number): Scope | number {
  return SCOPE_NAMES.get(n) ?? n;
}
