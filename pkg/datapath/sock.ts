// Owns loading the socket load balancer (bpf/bpf_sock.o): its eight cgroup sock_addr programs, which share
// every map with the endpoint datapath. The maps are never created here: they are reused from the pins
// bpf_lxc.o left under the same bpf root, so both objects see one service table, one affinity table and one
// reverse-NAT table. Also the per-socket hash the programs use, for tools and tests that predict a choice.
// Attaching the programs to a cgroup is sock-attach.ts.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BpfObject, closeFd, getPinned, mapInfo, type BpfProgram } from '../bpf/index.js';
import { jhash3words } from '../lb/maglev/index.js';
import { datapathConstants, type DatapathConfig } from './loader.js';
import { ipv4Raw } from './maps.js';

/** The cgroup hooks of socket LB, in attach order: IPv4 sockets, then dual-stack IPv6 sockets. */
export const SOCK_HOOKS = [
  'connect4', 'sendmsg4', 'recvmsg4', 'getpeername4', 'connect6', 'sendmsg6', 'recvmsg6', 'getpeername6',
] as const;
/** A socket LB hook (also the pkg/bpf CgroupHook name of its attach type). */
export type SockHook = (typeof SOCK_HOOKS)[number];

/** The program of bpf_sock.o for each hook. */
export const SOCK_PROGRAM_NAMES: Readonly<Record<SockHook, string>> = {
  connect4: 'cil_sock4_connect', sendmsg4: 'cil_sock4_sendmsg', recvmsg4: 'cil_sock4_recvmsg',
  getpeername4: 'cil_sock4_getpeername', connect6: 'cil_sock6_connect', sendmsg6: 'cil_sock6_sendmsg',
  recvmsg6: 'cil_sock6_recvmsg', getpeername6: 'cil_sock6_getpeername',
};

/** The loaded program of every hook. */
export type SockPrograms = Readonly<Record<SockHook, BpfProgram>>;

/** The object the build produces, next to the compiled TypeScript (dist/pkg/datapath → bpf/). */
export const DEFAULT_SOCK_OBJECT = fileURLToPath(new URL('../../../bpf/bpf_sock.o', import.meta.url));

/** Options of `loadSockDatapath`. */
export interface SockLoadOptions {
  /** The agent's --bpf-root, where bpf_lxc.o pinned its maps (loadLxcDatapath with the same pinRoot). */
  readonly pinRoot: string;
  /**
   * The settings bpf_lxc.o was loaded with (missing ones take DEFAULT_DATAPATH_CONFIG). Socket LB reads only
   * `maglevTableSize`, but it must be the same as the endpoint datapath's: both index the same Maglev tables.
   */
  readonly config?: Partial<DatapathConfig>;
  /** Default DEFAULT_SOCK_OBJECT. */
  readonly objectPath?: string;
}

/** The loaded socket LB: one program per hook, to attach with `attachSockLb`. */
export interface LoadedSockDatapath {
  readonly object: BpfObject;
  readonly programs: SockPrograms;
  /** Releases the object's handles; attached programs stay attached (and alive). Idempotent. */
  close(): void;
}

/**
 * Maps bpf_sock.o needs are not pinned under the bpf root: the endpoint datapath was not loaded there.
 * `missing` lists the map names.
 */
export class SockMapsNotPinnedError extends Error {
  override readonly name = 'SockMapsNotPinnedError';
  constructor(readonly pinRoot: string, readonly missing: readonly string[]) {
    super(`socket LB needs the maps of the endpoint datapath, but ${missing.join(', ')} ` +
      `${missing.length === 1 ? 'is' : 'are'} not pinned under ${pinRoot}; load bpf_lxc.o there first (loadLxcDatapath)`);
  }
}

/**
 * Loads bpf_sock.o against the maps bpf_lxc.o pinned under `options.pinRoot`. Every map of the object must
 * already be pinned there; each is reused with the pinned size (the agent may have resized it), and any other
 * difference (type, key or value size, flags: another build of the datapath) fails the load instead of
 * replacing the pin. Throws SockMapsNotPinnedError when maps are missing, PinnedMapMismatchError (pkg/bpf)
 * when a pinned map differs, BpfError when the object is missing, BpfLoadError with the verifier log when the
 * kernel refuses a program, RangeError for a setting that does not fit its variable.
 */
export function loadSockDatapath(options: SockLoadOptions): LoadedSockDatapath {
  const objectPath = options.objectPath ?? DEFAULT_SOCK_OBJECT;
  const maxEntries = pinnedSizes(objectPath, options.pinRoot);
  const object = BpfObject.load(objectPath, {
    pinRoot: options.pinRoot, constants: datapathConstants(options.config), maxEntries, replaceIncompatiblePins: false,
  });
  try {
    const programs = {} as Record<SockHook, BpfProgram>;
    for (const hook of SOCK_HOOKS) programs[hook] = object.program(SOCK_PROGRAM_NAMES[hook]);
    return { object, programs, close: () => object.close() };
  } catch (e) {
    object.close();
    throw e;
  }
}

/** max_entries of every pinned map of the object, read from the pins; throws SockMapsNotPinnedError for missing pins. */
function pinnedSizes(objectPath: string, pinRoot: string): Record<string, number> {
  // Opening (not loading) the object tells its maps and where libbpf would pin them.
  const probe = BpfObject.open(objectPath, { pinRoot });
  const pins: [string, string][] = [];
  try {
    for (const name of probe.mapNames()) {
      const pinPath = probe.mapPinPath(name);
      if (pinPath) pins.push([name, pinPath]);
    }
  } finally {
    probe.close();
  }
  const missing = pins.filter(([, p]) => !fs.existsSync(p)).map(([name]) => name);
  if (missing.length) throw new SockMapsNotPinnedError(pinRoot, missing);
  const sizes: Record<string, number> = {};
  for (const [name, pinPath] of pins) {
    const fd = getPinned(pinPath);
    try {
      sizes[name] = mapInfo(fd).maxEntries;
    } finally {
      closeFd(fd);
    }
  }
  return sizes;
}

/**
 * The hash socket LB computes for a socket asking for a frontend (bpf/lib/sock.h sock_lb_hash):
 * `jhash_3words(cookie low 32 bits, cookie high 32 bits, vip, port << 16 | protocol)`, every word a host-order
 * number. Maglev picks entry `hash % M`; UDP sockets without a Maglev table pick slot `1 + hash % count`.
 * `cookie` is the socket cookie (SO_COOKIE), `vip` a dotted quad, `port` host order. Throws TypeError for a
 * malformed address.
 */
export function sockLbHash(cookie: bigint, vip: string, port: number, protocol: number): number {
  const lo = Number(cookie & 0xffffffffn);
  const hi = Number((cookie >> 32n) & 0xffffffffn);
  const addr = Buffer.alloc(4);
  addr.writeUInt32LE(ipv4Raw(vip));
  return jhash3words(lo, hi, addr.readUInt32BE(0), ((port & 0xffff) << 16 | (protocol & 0xff)) >>> 0);
}
