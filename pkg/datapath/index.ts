// pkg/datapath: the TypeScript side of the endpoint datapath (bpf/bpf_lxc.c, docs/datapath.md): map codecs
// and the map table, drop reasons, monitor events, a test-packet builder and parser, and plain loaders of
// bpf_lxc.o and of socket LB (bpf/bpf_sock.c) with its cgroup attachments. No DI; the agent's datapath
// cells wrap these.
//
//   const dp = loadLxcDatapath({ pinRoot: '/sys/fs/bpf/cilia', config: { enablePacketLb: true } });
//   dp.maps.lxc.put(endpointKeyByIfindex(ifindex), info);      // + endpointKeyByIp(info.ipv4)
//   tcAttach({ ifindex, direction: 'ingress', progFd: dp.fromContainer.fd });
//   const reader = RingBufferReader.open(dp.eventsPinPath, (recs) => recs.forEach((r) => console.log(formatEvent(decodeEvent(r)))));
//   const sock = loadSockDatapath({ pinRoot: '/sys/fs/bpf/cilia', config });   // socket LB, on bpf_lxc.o's maps
//   attachSockLb('/sys/fs/cgroup/unified/cilia', sock.programs);
export * from './events.js';
export * from './loader.js';
export * from './maps.js';
export * from './packet.js';
export * from './reasons.js';
export * from './sock.js';
export * from './sock-attach.js';
