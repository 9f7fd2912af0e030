// Public entry of pkg/labels: Cilium labels, label sets, selectors, reserved identities,
// entities and CIDR labels.
export * from './label.js';
export * from './label-set.js';
export * from './selector.js';
export * from './reserved.js';
export * from './cidr.js';
export * from './k8s.js';
