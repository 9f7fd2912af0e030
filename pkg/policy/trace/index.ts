// Public entry of pkg/policy/trace.
export * from './trace.js';
