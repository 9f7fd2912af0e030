// Public types of the maps cell: typed handles of the pinned datapath maps, and their sizes.

import { token } from '../../pkg/hive/index.js';
import type { DatapathMaps } from '../../pkg/datapath/index.js';

/** Access to the datapath maps. `maps` is available once the agent has started (the maps cell opened the pins). */
export interface MapsAccess {
  readonly maps: DatapathMaps;
}
export const IDatapathMaps = token<MapsAccess>('DatapathMaps');

/** Sizes of the datapath maps (flags of the maps module). */
export interface MapsConfig {
  readonly bpfLxcMapMax: number;
  readonly bpfIpcacheMapMax: number;
  readonly bpfPolicyMapMax: number;
  readonly bpfCtGlobalMax: number;
  readonly bpfLbMapMax: number;
  readonly bpfLbMaglevMapMax: number;
  readonly monitorRingSize: number;
}
export const IMapsConfig = token<Readonly<MapsConfig>>('MapsConfig');
