// Public types of the loader cell: the loaded endpoint datapath and its per-node settings.

import type { Observable } from 'rxjs';
import { token } from '../../pkg/hive/index.js';
import type { DatapathConfig, LoadedLxcDatapath } from '../../pkg/datapath/index.js';

/** Loads the BPF objects once (reusing pinned maps) and reloads them when a datapath setting changes. */
export interface Loader {
  /** The loaded endpoint datapath (available after start). */
  current(): LoadedLxcDatapath;
  /** The settings it was loaded with. */
  settings(): DatapathConfig;
  /**
   * Loads the object again with changed settings; the orchestrator then replaces the programs on every
   * endpoint atomically. Throws (and keeps the running datapath) when the new load fails.
   */
  reload(changes: Partial<DatapathConfig>): LoadedLxcDatapath;
  /** Emits each newly loaded datapath after a reload. */
  readonly reloaded$: Observable<LoadedLxcDatapath>;
}
export const ILoader = token<Loader>('Loader');

/** Flags of the loader module. */
export interface LoaderConfig {
  readonly bpfObjectDir: string;
  readonly bpfCtTimeoutRegularTcp: number;
  readonly bpfCtTimeoutRegularTcpSyn: number;
  readonly bpfCtTimeoutRegularTcpFin: number;
  readonly bpfCtTimeoutRegularAny: number;
  readonly monitorAggregation: 'none' | 'medium';
  readonly bpfLbMaglevTableSize: number;
  readonly enablePacketLb: boolean;
}
export const ILoaderConfig = token<Readonly<LoaderConfig>>('LoaderConfig');
