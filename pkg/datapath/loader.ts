// Owns loading the endpoint datapath (bpf/bpf_lxc.o): per-node settings written into its `const volatile`
// globals, map sizes, every map pinned under the agent's bpf root, and the two programs and typed map
// handles handed back. A plain function; the agent's loader cell wraps it and does the attaching.
import { fileURLToPath } from 'node:url';
import { BpfObject, type BpfProgram, type ConstantValue } from '../bpf/index.js';
import { DATAPATH_MAPS, EVENTS_MAP, type DatapathMapName, type DatapathMaps, type MapDescriptor } from './maps.js';

/** Per-node datapath settings (docs/datapath.md "Global configuration"). */
export interface DatapathConfig {
  /** Lifetime (s) of an established TCP connection. Default 21600. */
  readonly ctTimeoutTcp: number;
  /** Lifetime (s) of a TCP connection until its handshake completed. Default 60. */
  readonly ctTimeoutSyn: number;
  /** Lifetime (s) after FIN in both directions or RST. Default 10. */
  readonly ctTimeoutFin: number;
  /** Lifetime (s) of UDP and ICMP entries. Default 60. */
  readonly ctTimeoutAny: number;
  /** Per-packet service load balancing in cil_from_container (on when socket LB is off). Default true. */
  readonly enablePacketLb: boolean;
  /** false: a trace event per packet; true: only new connections and TCP flag changes. Default true. */
  readonly monitorAggregation: boolean;
  /** Size M of every Maglev inner table (a prime). Default 16381. */
  readonly maglevTableSize: number;
}

/** The defaults, equal to the initial values in bpf/lib/config.h. */
export const DEFAULT_DATAPATH_CONFIG: DatapathConfig = {
  ctTimeoutTcp: 21600, ctTimeoutSyn: 60, ctTimeoutFin: 10, ctTimeoutAny: 60, enablePacketLb: true,
  monitorAggregation: true, maglevTableSize: 16381,
};

/** The C global behind each setting. */
const CONSTANT_NAMES: Record<keyof DatapathConfig, string> = {
  ctTimeoutTcp: 'CFG_CT_TIMEOUT_TCP', ctTimeoutSyn: 'CFG_CT_TIMEOUT_SYN', ctTimeoutFin: 'CFG_CT_TIMEOUT_FIN',
  ctTimeoutAny: 'CFG_CT_TIMEOUT_ANY', enablePacketLb: 'CFG_ENABLE_PACKET_LB',
  monitorAggregation: 'CFG_MONITOR_AGGREGATION', maglevTableSize: 'CFG_MAGLEV_TABLE_SIZE',
};

/** The object the build produces, next to the compiled TypeScript (dist/pkg/datapath → bpf/). */
export const DEFAULT_LXC_OBJECT = fileURLToPath(new URL('../../../bpf/bpf_lxc.o', import.meta.url));

/** Options of `loadLxcDatapath`. */
export interface LxcLoadOptions {
  /** Directory (on bpffs) the maps are pinned in and reused from: the agent's --bpf-root. */
  readonly pinRoot: string;
  /** Settings; missing ones take DEFAULT_DATAPATH_CONFIG. */
  readonly config?: Partial<DatapathConfig>;
  /** max_entries by short map name (DATAPATH_MAPS keys), or `events` for the ring buffer size in bytes. */
  readonly mapSizes?: Partial<Record<DatapathMapName | 'events', number>>;
  /** Default DEFAULT_LXC_OBJECT. */
  readonly objectPath?: string;
  /**
   * A pinned map whose definition changed (e.g. a new size): false (default) fails the load with
   * PinnedMapMismatchError; true replaces it with a new, empty map.
   */
  readonly replaceIncompatiblePins?: boolean;
}

/** The loaded datapath: programs to attach, typed maps, and the ring buffer's pin path. */
export interface LoadedLxcDatapath {
  readonly object: BpfObject;
  /** For tc ingress of each host-side veth. */
  readonly fromContainer: BpfProgram;
  /** For tc egress of each host-side veth. */
  readonly toContainer: BpfProgram;
  /** Typed handles of every map (closed with the object). */
  readonly maps: DatapathMaps;
  /** Pin path of `cilia_events`, for RingBufferReader.open. */
  readonly eventsPinPath: string;
  /** Releases the object and map handles; attachments and pins stay. Idempotent. */
  close(): void;
}

/** The `const volatile` values for `config` (merged over the defaults), by C name. */
export function datapathConstants(config: Partial<DatapathConfig> = {}): Record<string, ConstantValue> {
  const full = { ...DEFAULT_DATAPATH_CONFIG, ...config };
  const out: Record<string, ConstantValue> = {};
  for (const [key, name] of Object.entries(CONSTANT_NAMES) as [keyof DatapathConfig, string][]) out[name] = full[key];
  return out;
}

/**
 * Loads bpf_lxc.o with `options` and pins its maps under `options.pinRoot` (reusing maps already pinned there,
 * so connections, policy and endpoints survive an agent restart). Throws BpfError when the object is missing,
 * PinnedMapMismatchError for an incompatible pinned map (see `replaceIncompatiblePins`), BpfLoadError (with
 * the verifier log) when the kernel refuses a program, RangeError for a setting that does not fit its variable.
 */
export function loadLxcDatapath(options: LxcLoadOptions): LoadedLxcDatapath {
  const maxEntries: Record<string, number> = {};
  for (const [short, size] of Object.entries(options.mapSizes ?? {})) {
    if (size === undefined) continue;
    const name = short === 'events' ? EVENTS_MAP.name : DATAPATH_MAPS[short as DatapathMapName]?.name;
    if (!name) throw new Error(`loadLxcDatapath: unknown map ${short}; known: ${[...Object.keys(DATAPATH_MAPS), 'events'].join(', ')}`);
    maxEntries[name] = size;
  }
  const object = BpfObject.load(options.objectPath ?? DEFAULT_LXC_OBJECT, {
    pinRoot: options.pinRoot, constants: datapathConstants(options.config), maxEntries,
    replaceIncompatiblePins: options.replaceIncompatiblePins ?? false,
  });
  try {
    const maps: Partial<Record<DatapathMapName, unknown>> = {};
    for (const [short, d] of Object.entries(DATAPATH_MAPS) as [DatapathMapName, MapDescriptor<unknown, unknown>][]) {
      maps[short] = object.map(d.name, d.key, d.value);
    }
    const eventsPinPath = object.mapPinPath(EVENTS_MAP.name);
    if (!eventsPinPath) throw new Error(`${EVENTS_MAP.name} is not pinned; the object must declare it LIBBPF_PIN_BY_NAME`);
    return {
      object,
      fromContainer: object.program('cil_from_container'),
      toContainer: object.program('cil_to_container'),
      maps: maps as DatapathMaps,
      eventsPinPath,
      close: () => object.close(),
    };
  } catch (e) {
    object.close();
    throw e;
  }
}
