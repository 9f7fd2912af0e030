// pkg/cni: CNI 1.0.0 plugin plumbing without I/O (types, input validation, errors).
export { CniCode, CniError } from './errors.js';
export { parseCniArgs, parseCommand, parseNetConf, parseRequest } from './parse.js';
export * from './types.js';
