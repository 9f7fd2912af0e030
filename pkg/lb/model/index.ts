// Public entry of the LB model: types, validation, CLI parsers, IPv4 helpers, eligibility.
export * from './types.js';
export * from './errors.js';
export * from './ipv4.js';
export * from './checks.js';
export * from './validate.js';
export * from './parse.js';
export * from './backends.js';
export * from './sort.js';
