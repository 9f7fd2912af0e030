// Public entry of pkg/policy/resolve.
export { resolve, ALLOW_LOCALHOST } from './resolve.js';
export { portBlocks, blockContains, blockHas, type PortBlock } from './ports.js';
export { lookupVerdict, type LookupQuery, type LookupVerdict } from './lookup.js';
export type * from './types.js';
