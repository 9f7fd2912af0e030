// Public entry of the random-selection slot layout.
export * from './slots.js';
export * from './apportion.js';
