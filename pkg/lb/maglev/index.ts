// Public entry of Maglev: table sizes, permutations, table population, jhash and the flow hash.
export * from './table-size.js';
export * from './permutation.js';
export * from './populate.js';
export * from './table.js';
export * from './jhash.js';
export * from './flow-hash.js';
