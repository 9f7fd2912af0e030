// Public entry of pkg/policy/repository.
export { Repository, type RepositoryOptions } from './repository.js';
