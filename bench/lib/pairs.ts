// Reference pairs of namespaces for bench/throughput, built without the agent:
//   veth      two namespaces joined directly by one veth pair (no BPF): the baseline;
//   redirect  two "pods" wired to a third namespace standing in for the host, with a tc ingress
//             program on each host-side veth that does nothing but bpf_redirect_peer() into the
//             other pod: the cost of eBPF host routing itself, without any datapath logic.
// Their devices are created inside their own namespaces, so they never appear in the host netns
// (where the agent prunes veths with the benchmarks' prefix).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from '../../test/lib/agent.js';
import { inNetns } from './netns.js';
import type { NetnsPair } from './tcp-tests.js';

const REDIRECT_PEER_C = path.join(REPO, 'bench', 'lib', 'redirect_peer.c');

/**
 * Joins namespaces `client` and `server` (both existing) with a veth pair `eth0`–`eth0` holding
 * clientIp/24 and serverIp/24. Throws if a command fails.
 */
export function makeVethPair(name: string, client: string, server: string, clientIp: string, serverIp: string): NetnsPair {
  inNetns(client, ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', server]);
  inNetns(client, ['ip', 'addr', 'add', `${clientIp}/24`, 'dev', 'eth0']);
  inNetns(server, ['ip', 'addr', 'add', `${serverIp}/24`, 'dev', 'eth0']);
  for (const ns of [client, server]) {
    inNetns(ns, ['ip', 'link', 'set', 'eth0', 'up']);
    inNetns(ns, ['ip', 'link', 'set', 'lo', 'up']);
  }
  return { name, client, server, serverIp };
}

/**
 * Wires `client` and `server` to namespace `host` with veths (`ha`/`hb` on the host side, `eth0` in
 * the pods), gives the pods clientIp/32 and serverIp/32 with a route and a permanent neighbour entry
 * for each other, compiles bench/lib/redirect_peer.c for the two host-side ifindexes (clang, at run
 * time: this is a benchmark fixture, not the agent) and attaches it to tc ingress of both. Throws if
 * a step fails.
 */
export function makeRedirectPair(name: string, host: string, client: string, server: string, clientIp: string, serverIp: string): NetnsPair {
  const pods = [
    { ns: client, hostIf: 'ha', ip: clientIp, peerIp: serverIp },
    { ns: server, hostIf: 'hb', ip: serverIp, peerIp: clientIp },
  ];
  inNetns(host, ['ip', 'link', 'set', 'lo', 'up']);
  for (const p of pods) {
    inNetns(host, ['ip', 'link', 'add', p.hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', p.ns]);
    inNetns(host, ['ip', 'link', 'set', p.hostIf, 'up']);
    inNetns(p.ns, ['ip', 'link', 'set', 'lo', 'up']);
    inNetns(p.ns, ['ip', 'link', 'set', 'eth0', 'up']);
    inNetns(p.ns, ['ip', 'addr', 'add', `${p.ip}/32`, 'dev', 'eth0']);
    inNetns(p.ns, ['ip', 'route', 'add', `${p.peerIp}/32`, 'dev', 'eth0']);
  }
  const mac = (ns: string): string => inNetns(ns, ['cat', '/sys/class/net/eth0/address']).trim();
  inNetns(client, ['ip', 'neigh', 'add', serverIp, 'lladdr', mac(server), 'dev', 'eth0', 'nud', 'permanent']);
  inNetns(server, ['ip', 'neigh', 'add', clientIp, 'lladdr', mac(client), 'dev', 'eth0', 'nud', 'permanent']);
  const ifindex = (dev: string): string => inNetns(host, ['cat', `/sys/class/net/${dev}/ifindex`]).trim();
  const obj = path.join(os.tmpdir(), `bn-redirect-peer-${process.pid}.o`);
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${os.machine()}-linux-gnu`, `-DIF_A=${ifindex('ha')}`, `-DIF_B=${ifindex('hb')}`, '-c', REDIRECT_PEER_C, '-o', obj], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    for (const p of pods) {
      inNetns(host, ['tc', 'qdisc', 'add', 'dev', p.hostIf, 'clsact']);
      inNetns(host, ['tc', 'filter', 'add', 'dev', p.hostIf, 'ingress', 'bpf', 'direct-action', 'obj', obj, 'sec', 'tc']);
    }
  } finally {
    fs.rmSync(obj, { force: true });
  }
  return { name, client, server, serverIp };
}
