// pkg/hive: a hive-style dependency-injection framework on tsyringe, modelled on cilium/hive.
// See docs/hive.md for a tutorial. Public API:

import 'reflect-metadata'; // before anything imports tsyringe
export { type Class, type Dep, type GroupToken, type Resolved, type Token, groupToken, optional, token } from './token.js';
export { type Cell, type CellInfo, config, decorate, group, invoke, module, provide, provideInto, providePrivate } from './cell.js';
export { ConfigError, type ConfigSchema, type FlagInfo, type FlagSpec, envName, flagName } from './config.js';
export { GraphError } from './graph.js';
export { type Health, type HealthNode, HealthRegistry, type HealthStatus, type Level } from './health.js';
export {
  Hive,
  type HiveConfig,
  type HiveIntrospection,
  type HiveOptions,
  IHealth,
  IHealthRegistry,
  IHiveConfig,
  IHiveInfo,
  IJobGroup,
  ILifecycle,
  ILogger,
  IModuleId,
  IShutdowner,
  type Shutdowner,
} from './hive.js';
export { type Backoff, type Job, type JobGroup, Trigger, backoffDelay, observer, oneShot, sleep, timer } from './job.js';
export { type Hook, type HookContext, type Lifecycle, StartError, StopError } from './lifecycle.js';
export { LOG_LEVELS, type LogLevel, type LogRecord, type LogSink, type Logger, MemorySink, jsonSink } from './logger.js';
export { exitWith, runHiveMain } from './main.js';
