// Public entry of the Kubernetes translation: Service and EndpointSlice → LB model.
export * from './types.js';
export * from './service.js';
export * from './endpoint-slices.js';
export * from './derive.js';
export * from './manifests.js';
