// Public entry of pkg/policy: parse policy text, keep rules in a repository, track selector
// selections, resolve per-endpoint policy map entries, and trace verdicts.
export * from './errors.js';
export * from './rules/index.js';
export * from './parse/index.js';
export * from './selectorcache/index.js';
export * from './repository/index.js';
export * from './resolve/index.js';
export * from './trace/index.js';
