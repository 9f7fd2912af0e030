// pkg/datapath: the TypeScript side of the endpoint datapath (bpf/bpf_lxc.c, docs/datapath.md): map codecs
// and the map table, drop reasons, monitor events, a test-packet builder and parser, and a
// plain loader. No DI; the agent's datapath cells wrap these.
//
//   const dp = loadLxcDatapath({ pinRoot: '/sys/fs/bpf/cilia', config: { enablePacketLb: true } });
//   dp.maps.lxc.put(endpointKeyByIfindex(ifindex), info);      // + endpointKeyByIp(info.ipv4)
//   tcAttach({ ifindex, direction: 'ingress', progFd: dp.fromContainer.fd });
//   const reader = RingBufferReader.open(dp.eventsPinPath, (recs) => recs.forEach((r) => console.log(formatEvent(decodeEvent(r)))));
export * from './events.js';
export * from './loader.js';
export * from './maps.js';
export * from './packet.js';
export * from './reasons.js';
