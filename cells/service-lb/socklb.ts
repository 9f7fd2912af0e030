// Socket load balancing: loads bpf_sock.o on the endpoint datapath's pinned maps and attaches its
// programs to the cgroup v2 directory --cgroup-root, so every process below it reaches services at
// connect()/sendmsg() time (docs/datapath.md, "Socket load balancing"). The LB maps it reads are the
// ones the service reconciler writes; nothing else here changes with services.
//
// Attachments outlive the agent (as Cilium's): a restart replaces the programs in place, never leaving a
// moment without them. Turning the flag off does not detach what an earlier run attached: programs are
// recognised by name, so a detach could remove another agent's on a shared cgroup; detach by hand
// (removing the cgroup, or pkg/datapath detachSockLb) when that is what you want.

import fs from 'node:fs';
import path from 'node:path';
import { createCgroup, isCgroup2, mountCgroup2 } from '../../pkg/bpf/index.js';
import { DEFAULT_SOCK_OBJECT, type DatapathConfig, attachSockLb, isSockLbAttached, loadSockDatapath } from '../../pkg/datapath/index.js';
import type { Logger } from '../../pkg/hive/index.js';

/** Where and what to attach. */
export interface SocketLbOptions {
  /** The agent's --bpf-root (bpf_lxc.o's pins). */
  readonly bpfRoot: string;
  /** --cgroup-root. */
  readonly cgroupRoot: string;
  /** --bpf-object-dir of the loader ('' = the installation's bpf/). */
  readonly objectDir: string;
  /** The endpoint datapath's settings (socket LB must use the same Maglev table size). */
  readonly settings: () => DatapathConfig;
}

/**
 * Makes `dir` a cgroup v2 directory: an existing one is used as is; a missing one is created when its
 * parent is in a cgroup v2 hierarchy, else cgroup2 is mounted there (as Cilium mounts /run/cilium/cgroupv2).
 * Returns what it did. Throws when `dir` exists but is no cgroup v2 directory, or mounting fails.
 */
export function ensureCgroup2(dir: string): 'existing' | 'created' | 'mounted' {
  if (isCgroup2(dir)) return 'existing';
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) throw new Error(`--cgroup-root ${dir} exists and is not a cgroup v2 directory`);
  if (isCgroup2(path.dirname(dir))) {
    createCgroup(dir);
    return 'created';
  }
  mountCgroup2(dir);
  return 'mounted';
}

/**
 * Loads bpf_sock.o and attaches it to `opts.cgroupRoot` (replacing a previous run's programs in place).
 * Throws (SockMapsNotPinnedError, BpfLoadError, BpfError naming the hook) when it cannot; the agent then
 * fails to start rather than run without the load balancing it was asked for.
 */
export function attachSocketLb(opts: SocketLbOptions, log: Logger): void {
  const how = ensureCgroup2(opts.cgroupRoot);
  const objectPath = opts.objectDir ? path.join(opts.objectDir, 'bpf_sock.o') : DEFAULT_SOCK_OBJECT;
  const sock = loadSockDatapath({ pinRoot: opts.bpfRoot, config: opts.settings(), objectPath });
  try {
    attachSockLb(opts.cgroupRoot, sock.programs);
    if (!isSockLbAttached(opts.cgroupRoot, sock.programs)) throw new Error(`socket LB programs are not the ones attached to ${opts.cgroupRoot} after attaching`);
    log.info('socket LB attached', { cgroup: opts.cgroupRoot, cgroupWas: how, connect4: sock.programs.connect4.id });
  } finally {
    sock.close(); // the attachments keep the programs alive
  }
}
