// pkg/bpf: libbpf 1.1 driven from TypeScript through koffi. Loads compiled BPF objects, reads and writes
// maps through typed codecs, attaches programs to tc and cgroups, reads ring buffers, runs programs on test
// packets and checks that TS codecs match the C structs. Plain classes and functions, no DI.
//
//   const obj = BpfObject.load('bpf/bpf_lxc.o', { pinRoot: '/sys/fs/bpf/cilia', constants: { NODE_ID: 7 } });
//   const lxc = obj.map('cilia_lxc', u32Codec, endpointInfo);      // or BpfMap.openPinned(path, k, v)
//   lxc.put(ifindex, { ifindex, lxc_id: 12, mac: '02:00:00:00:00:01', ... });
//   tcAttach({ ifindex, direction: 'ingress', progFd: obj.program('cil_from_container').fd });
//   obj.close();                                                    // attachments and pins stay
export { assertAligned, checkAlignment, AlignmentError, type AlignmentMismatch } from './align.js';
export { MapBatch, deleteBatch, updateBatch } from './batch.js';
export { Btf, BtfKind, type BtfMember, type BtfType, type BtfVarSecinfo } from './btf.js';
export {
  cgroupAttach, cgroupDetach, cgroupQuery, CgroupAttachType, createCgroup, findCgroup2Mount, isCgroup2, isCgroup2MountRoot, mountCgroup2,
  moveToCgroup, removeCgroup, unmountCgroup2, type CgroupAttachOptions, type CgroupHook,
} from './cgroup.js';
export {
  array, asCodec, be16, be32, bytes, i16, i32, i64, i8, ipv4, ipv4Codec, ipv6, isStructCodec, mac, pad, roundUp, struct, u16, u16Codec,
  u32, u32Codec, u64, u64Codec, u8, u8Codec, type Codec, type CodecValue, type Field, type FieldType, type PadType,
  type StructOptions, type StructValue,
} from './codec.js';
export { bpfMapInfo, bpfProgInfo, mapInfo, progIdOf, progInfo, progInfoById, withProgFd, type MapInfo, type ProgInfo } from './info.js';
export { BpfError, errnoDescription, errnoName } from './errors.js';
export {
  captureLibbpfLog, defaultLibbpfLogger, setLibbpfLogger, type LibbpfLogger, type LibbpfLogLevel,
} from './log.js';
export {
  BpfMap, BPF_F_NO_PREALLOC, mapDifferences, MapType, mapTypeName, PinnedMapMismatchError, type MapSpec, type MapTypeId,
  type UpdateFlag,
} from './map.js';
export { BpfLoadError, BpfObject, type BpfProgram, type ConstantValue, type ObjectOptions } from './object.js';
export {
  BPF_FS_MAGIC, closeFd, dupFd, ensureBpffs, getPinned, isOnBpffs, isPinned, numPossibleCpus, pinFd, removePinDir, unpin,
} from './pin.js';
export { RingBufferReader, type RingBufferOptions, type RingBufferStats } from './ringbuf.js';
export { tcAttach, tcDetach, tcQuery, tcRemoveClsact, type TcDirection, type TcTarget } from './tc.js';
export {
  skBuff, testRun, type SkbContext, type SkbContextOut, type TestRunOptions, type TestRunResult,
} from './testrun.js';
