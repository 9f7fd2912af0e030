// pkg/api: wire types of the agent's REST API, its errors, and the unix-socket client.
export * from './types.js';
export * from './errors.js';
export * from './client.js';
