// The kube-proxy baseline of the load-balancing benchmark: a throwaway "node" network namespace whose
// iptables hold kube-proxy's ruleset, with a client pod and backend pods in their own namespaces
// wired to it by veths and /32 routes (as a routed CNI does). A pod's connection to a VIP enters the
// node, where nat PREROUTING → KUBE-SERVICES → KUBE-SVC-… → KUBE-SEP-… DNATs it to a backend.
// Everything lives in namespaces this file creates (names must start with `bl-`); the root
// namespace's iptables are never touched: every iptables command runs under `nsenter --net=`.

import { execFileSync } from 'node:child_process';
import { removeNetns } from '../test/lib/agent.js';
import { startServer } from './lb-connect.js';
import { EMPTY_TABLES, type RestoreTiming, timedRestore } from './lib/iptables.js';

/** A namespace name of this benchmark. @throws Error for any other name (we only ever delete our own). */
function ownName(name: string): string {
  if (!/^bl-[a-z0-9-]{1,12}$/.test(name)) throw new Error(`not a benchmark namespace name: ${name}`);
  return name;
}

function ip(args: readonly string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Runs `command` inside the namespace `netns` (setns only: no mount namespace, unlike `ip netns exec`). */
function inNetns(netns: string, command: readonly string[]): string[] {
  return ['nsenter', `--net=/run/netns/${ownName(netns)}`, ...command];
}

/** Runs `command` in `netns` to completion; its stdout. @throws Error if it fails. */
function runIn(netns: string, command: readonly string[]): string {
  const [file, ...args] = inNetns(netns, command);
  return execFileSync(file, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Deletes the namespace `name` (our prefix only), killing what runs in it; no error if it is gone. */
export function deleteNetns(name: string): void {
  ownName(name);
  removeNetns(`/run/netns/${name}`);
}

/** Addresses of a pod wired to the node. */
export interface NodePod {
  /** Namespace name (`bl-…`). */
  readonly netns: string;
  readonly address: string;
}

/** The node namespace with its pods. */
export interface KubeProxyNode {
  readonly node: string;
  readonly client: NodePod;
  readonly backends: readonly NodePod[];
  /** Times iptables-restore in the node namespace. */
  restore(rules: string, opts: { noflush: boolean }): Promise<RestoreTiming>;
  /** Empties the node's nat and filter tables (not timed). */
  reset(): Promise<void>;
  /** The number of rules in the node's nat table (`iptables-save` line count of `-A` lines). */
  natRuleCount(): number;
  /** Removes every namespace it made, killing the servers in them. */
  destroy(): void;
}

/**
 * Creates the node namespace `bl-node` and pods `bl-kpc` (client) and `bl-kpb<i>` (backends) with
 * addresses `<subnet>.10`, `<subnet>.11`…, each pod's eth0 the peer of a `bl<i>` veth in the node,
 * gateway `<subnet>.1` (on every node-side veth, like Cilia's host side), and starts the one-byte
 * server on `port` in each backend (answering '1', '2', …). IPv4 forwarding is on in the node only.
 * `subnet` is a /24 given as three octets, e.g. `10.244.105`.
 * @throws Error if a namespace of that name exists (a previous run was not cleaned up: `lb-scale --clean`).
 */
export async function startKubeProxyNode(subnet: string, backendCount: number, port: number): Promise<KubeProxyNode> {
  const node = 'bl-node';
  const client: NodePod = { netns: 'bl-kpc', address: `${subnet}.10` };
  const backends: NodePod[] = Array.from({ length: backendCount }, (_, i) => ({ netns: `bl-kpb${i + 1}`, address: `${subnet}.${11 + i}` }));
  const gateway = `${subnet}.1`;
  const made: string[] = [];
  const destroy = (): void => {
    for (const ns of made.reverse()) deleteNetns(ns);
  };
  try {
    for (const ns of [node, client.netns, ...backends.map((b) => b.netns)]) {
      ip(['netns', 'add', ownName(ns)]);
      made.push(ns);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    runIn(node, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    [client, ...backends].forEach((pod, i) => {
      const veth = `bl${i}`;
      ip(['-n', node, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.netns]);
      ip(['-n', node, 'addr', 'add', `${gateway}/32`, 'dev', veth]);
      ip(['-n', node, 'link', 'set', veth, 'up']);
      ip(['-n', node, 'route', 'add', `${pod.address}/32`, 'dev', veth]);
      ip(['-n', pod.netns, 'addr', 'add', `${pod.address}/32`, 'dev', 'eth0']);
      ip(['-n', pod.netns, 'link', 'set', 'eth0', 'up']);
      ip(['-n', pod.netns, 'route', 'add', `${gateway}/32`, 'dev', 'eth0', 'scope', 'link']);
      ip(['-n', pod.netns, 'route', 'add', 'default', 'via', gateway, 'dev', 'eth0']);
    });
    for (const [i, b] of backends.entries()) await startServer({ netns: b.netns }, port, String(i + 1));
  } catch (err) {
    destroy();
    throw err;
  }
  return {
    node,
    client,
    backends,
    restore: (rules, opts) => timedRestore(node, rules, opts),
    async reset() {
      await timedRestore(node, EMPTY_TABLES, { noflush: false });
    },
    natRuleCount() {
      return runIn(node, ['iptables-save', '-t', 'nat']).split('\n').filter((l) => l.startsWith('-A ')).length;
    },
    destroy,
  };
}

/**
 * An empty namespace `bl-legacy` for timing iptables-legacy-restore next to the nf_tables one (never
 * both backends in one namespace: their hooks would both run). Returns its name.
 * @throws Error if iptables-legacy-restore is missing or the kernel has no legacy nat table.
 */
export function createLegacyNetns(): string {
  const name = 'bl-legacy';
  ip(['netns', 'add', name]);
  try {
    runIn(name, ['iptables-legacy', '-t', 'nat', '-L', '-n']);
  } catch (err) {
    deleteNetns(name);
    throw err;
  }
  return name;
}
