// `cilia-agent cleanup [--dry-run] [agent flags]`: removes what an agent leaves on the node by design
// when it stops (so that a restart disturbs nothing; Cilium's `cilium-dbg cleanup` does the same):
// endpoint veths and the network namespaces the agent created, the host device, socket LB programs on
// --cgroup-root (and the cgroup v2 mount the agent made there), the pinned programs and maps under
// --bpf-root, the state directory and the API socket. Pods that a container runtime created keep their
// namespaces but lose their connectivity. It takes the agent's flags (and config file and environment),
// so it cleans exactly what an agent started with them owns, and refuses while that agent runs.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { isCgroup2, isCgroup2MountRoot, unmountCgroup2 } from '../pkg/bpf/index.js';
import { detachSockLb } from '../pkg/datapath/index.js';
import { ConfigError, Hive, type Cell } from '../pkg/hive/index.js';
import { Netlink } from '../pkg/netlink/index.js';
import { deleteNetns, NETNS_RUN_DIR } from '../pkg/netns/index.js';
import { readJson } from '../pkg/statefile/index.js';

/** The fields of an endpoint-manager record (`<state-dir>/endpoints/<id>.json`) that cleanup uses. */
interface EndpointRecord {
  readonly hostIfName?: string;
  readonly netnsPath?: string;
  readonly ownsNetns?: boolean;
}

/** The subcommand's line in `cilia-agent --help`. */
export const CLEANUP_SUMMARY = '  cleanup remove what a stopped agent left on this node (cilia-agent cleanup --help)\n';

export const CLEANUP_USAGE = `Usage: cilia-agent cleanup [--dry-run] [agent flags]

Removes what a stopped agent started with the same flags left on this node: endpoint veths and the
network namespaces it created (cilia endpoint create), the host device, socket LB programs on
--cgroup-root, pinned programs and maps under --bpf-root, --state-dir and the API socket.
Refuses while the agent answers on its API socket.

  --dry-run   print what would be removed, remove nothing
`;

/** The agent settings cleanup needs, by flag key. */
interface Settings {
  readonly apiSocket: string;
  readonly stateDir: string;
  readonly bpfRoot: string;
  readonly hostDevice: string;
  readonly hostDevicePeer: string;
  readonly endpointIfnamePrefix: string;
  readonly cgroupRoot: string;
}

function settings(values: Record<string, unknown>): Settings {
  const str = (key: keyof Settings): string => {
    const v = values[key];
    if (typeof v !== 'string' || !v) throw new Error(`cleanup: the agent has no setting ${key}`);
    return v;
  };
  return {
    apiSocket: str('apiSocket'),
    stateDir: str('stateDir'),
    bpfRoot: str('bpfRoot'),
    hostDevice: str('hostDevice'),
    hostDevicePeer: str('hostDevicePeer'),
    endpointIfnamePrefix: str('endpointIfnamePrefix'),
    cgroupRoot: str('cgroupRoot'),
  };
}

/** Whether something accepts connections on the unix socket `file`. */
function answers(file: string): Promise<boolean> {
  if (!fs.existsSync(file)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const s = net.connect(file);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Endpoint records of the state directory that can be read (others are skipped: they are removed with it). */
function endpointRecords(stateDir: string): EndpointRecord[] {
  const dir = path.join(stateDir, 'endpoints');
  if (!fs.existsSync(dir)) return [];
  const out: EndpointRecord[] = [];
  for (const f of fs.readdirSync(dir)) {
    try {
      const rec = readJson<EndpointRecord>(path.join(dir, f));
      if (rec) out.push(rec);
    } catch {
      /* corrupt: nothing to learn from it */
    }
  }
  return out;
}

/** Paths cleanup must never delete recursively, whatever the flags say. */
function refuseToDelete(dir: string, what: string): void {
  const abs = path.resolve(dir);
  if (abs.split('/').filter(Boolean).length < 2) throw new ConfigError(`cleanup: refusing to delete ${what} ${abs}: choose a directory at least two levels deep`);
}

/**
 * Removes what the agent described by `values` (its parsed flags) left behind; `say` receives one line
 * per action. With `dryRun`, only says what it would do.
 */
export async function cleanupNode(values: Record<string, unknown>, opts: { dryRun: boolean; say: (line: string) => void }): Promise<void> {
  const s = settings(values);
  const { dryRun, say } = opts;
  refuseToDelete(s.stateDir, '--state-dir');
  refuseToDelete(s.bpfRoot, '--bpf-root');
  if (await answers(s.apiSocket)) throw new Error(`cleanup: an agent is running (${s.apiSocket} answers); stop it first`);
  const act = (line: string, fn: () => void): void => {
    say(`${dryRun ? 'would remove' : 'removing'} ${line}`);
    if (!dryRun) fn();
  };

  const nl = Netlink.open();
  try {
    const links = new Map(nl.listLinks().map((l) => [l.name, l]));
    const gone = new Set<string>();
    const delLink = (name: string, why: string, peer?: string): void => {
      if (!links.has(name) || gone.has(name)) return;
      act(`link ${name} (${why})`, () => nl.deleteLink(name));
      gone.add(name);
      if (peer) gone.add(peer); // a veth pair goes as one
    };
    delLink(s.hostDevice, 'host device', s.hostDevicePeer);
    for (const rec of endpointRecords(s.stateDir)) {
      if (rec.hostIfName) delLink(rec.hostIfName, 'endpoint veth');
      const ns = rec.netnsPath;
      if (rec.ownsNetns && ns && path.dirname(ns) === NETNS_RUN_DIR && fs.existsSync(ns)) {
        act(`network namespace ${path.basename(ns)} (made by cilia endpoint create)`, () => deleteNetns(path.basename(ns)));
      }
    }
    for (const [name, link] of links) if (name.startsWith(s.endpointIfnamePrefix) && link.kind === 'veth') delLink(name, `veth with prefix ${s.endpointIfnamePrefix}`);
  } finally {
    nl.close();
  }

  if (fs.existsSync(s.cgroupRoot) && isCgroup2(s.cgroupRoot)) {
    if (dryRun) say(`would detach socket LB programs from ${s.cgroupRoot}`);
    else say(`detached ${detachSockLb(s.cgroupRoot)} socket LB program(s) from ${s.cgroupRoot}`);
    // The agent mounts the hierarchy at --cgroup-root when nothing is there (default /run/cilia/cgroupv2);
    // the system's own mounts under /sys/fs/cgroup are never touched.
    if (isCgroup2MountRoot(s.cgroupRoot) && !path.resolve(s.cgroupRoot).startsWith('/sys/')) {
      act(`cgroup v2 mount ${s.cgroupRoot}`, () => {
        unmountCgroup2(s.cgroupRoot);
        fs.rmdirSync(s.cgroupRoot);
      });
    }
  }
  if (fs.existsSync(s.bpfRoot)) act(`pinned programs and maps ${s.bpfRoot}`, () => fs.rmSync(s.bpfRoot, { recursive: true, force: true }));
  if (fs.existsSync(s.stateDir)) act(`state directory ${s.stateDir}`, () => fs.rmSync(s.stateDir, { recursive: true, force: true }));
  if (fs.existsSync(s.apiSocket)) act(`API socket ${s.apiSocket}`, () => fs.rmSync(s.apiSocket, { force: true }));
}

/** The `cleanup` subcommand: parses the agent's configuration from `argv` and cleans up. Returns the exit code. */
export async function runCleanup(argv: readonly string[], cells: (flags: readonly string[]) => Promise<Cell[]>): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(CLEANUP_USAGE);
    return 0;
  }
  const dryRun = argv.includes('--dry-run');
  const flags = argv.filter((a) => a !== '--dry-run');
  try {
    const hive = new Hive(await cells(flags), { argv: flags, env: process.env });
    await cleanupNode(hive.configValues(), { dryRun, say: (line) => process.stdout.write(line + '\n') });
    return 0;
  } catch (err) {
    process.stderr.write(`cilia-agent: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof ConfigError ? 2 : 1;
  }
}
