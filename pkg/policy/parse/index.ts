// Public entry of pkg/policy/parse.
export { parsePolicies, type ParseOptions, type ParsedInput, type OtherObject } from './parse.js';
