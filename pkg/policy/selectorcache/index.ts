// Public entry of pkg/policy/selectorcache.
export { SelectorCache, type IdentityEntry } from './selector-cache.js';
