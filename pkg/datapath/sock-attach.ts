// Owns the cgroup attachments of socket LB: the eight bpf_sock.o programs attached to a cgroup v2 directory
// with BPF_PROG_ATTACH + BPF_F_ALLOW_MULTI (they outlive the agent process, like Cilium's), replaced in place
// (BPF_F_REPLACE) when a new load replaces them, detached on request, and queried. Programs other agents or
// tools attached at the same hooks are never touched. Processes in the cgroup and in every cgroup below it
// are load-balanced.
import fs from 'node:fs';
import { cgroupAttach, cgroupDetach, cgroupQuery, progInfoById, withProgFd, type BpfProgram } from '../bpf/index.js';
import { SOCK_HOOKS, SOCK_PROGRAM_NAMES, type SockHook, type SockPrograms } from './sock.js';

/** BPF_PROG_TYPE_CGROUP_SOCK_ADDR: the type of every socket LB program. */
const BPF_PROG_TYPE_CGROUP_SOCK_ADDR = 18;
/** The kernel keeps the first 15 characters of a program name (BPF_OBJ_NAME_LEN - 1). */
const KERNEL_NAME_LEN = 15;

/** What is attached at one socket LB hook of a cgroup. */
export interface SockHookAttachment {
  /** Ids of every program attached directly to the cgroup at this hook, in run order. */
  readonly attached: readonly number[];
  /** The ids among them that are Cilia socket LB programs (normally one). */
  readonly ours: readonly number[];
}

/**
 * A program is a Cilia socket LB program when it is a sock_addr program with the kernel name of that hook's
 * program ("cil_sock4_conne" for cil_sock4_connect). Names tell, not ids, so that an agent recognises what a
 * previous process (or a previous build) attached. One agent owns a cgroup: two agents attaching to the same
 * cgroup replace each other's programs.
 */
function isOurs(id: number, hook: SockHook): boolean {
  const info = progInfoById(id);
  return info !== undefined && info.type === BPF_PROG_TYPE_CGROUP_SOCK_ADDR &&
    info.name === SOCK_PROGRAM_NAMES[hook].slice(0, KERNEL_NAME_LEN);
}

function hookAttachment(cgroup: string, hook: SockHook): SockHookAttachment {
  const attached = cgroupQuery(cgroup, hook);
  return { attached, ours: attached.filter((id) => isOurs(id, hook)) };
}

/**
 * Attaches every program of `programs` to its hook of cgroup `cgroup` (a cgroup v2 directory, never the root
 * of the hierarchy unless every process of the machine should be load-balanced). Where a socket LB program is
 * already attached, the new one takes its place atomically (BPF_F_REPLACE: no connect() runs without one, and
 * the position among other programs is kept); further stale socket LB programs at that hook are detached.
 * Idempotent. Each hook switches atomically on its own: old and new programs share the maps, so a mix during
 * the switch is consistent. Throws BpfError naming the hook and cgroup (ENOENT: no such cgroup); hooks
 * switched before the failure stay switched, and calling again completes the rest.
 */
export function attachSockLb(cgroup: string, programs: SockPrograms): void {
  for (const hook of SOCK_HOOKS) attachHook(cgroup, hook, programs[hook]);
}

function attachHook(cgroup: string, hook: SockHook, prog: BpfProgram): void {
  const { ours } = hookAttachment(cgroup, hook);
  if (!ours.includes(prog.id)) {
    const old = ours[0];
    if (old === undefined) cgroupAttach({ cgroup, hook, progFd: prog.fd });
    else withProgFd(old, (oldFd) => cgroupAttach({ cgroup, hook, progFd: prog.fd, replaceProgFd: oldFd }));
  }
  for (const id of hookAttachment(cgroup, hook).ours) {
    if (id !== prog.id) cgroupDetach({ cgroup, hook, progId: id });
  }
}

/**
 * Detaches every Cilia socket LB program from the hooks of `cgroup`, leaving other programs alone. Processes in
 * the cgroup then reach service addresses unchanged again (existing connections keep their backend). Returns how
 * many programs were detached; a cgroup that does not exist has none. Throws BpfError naming the hook.
 */
export function detachSockLb(cgroup: string): number {
  if (!fs.existsSync(cgroup)) return 0;
  let detached = 0;
  for (const hook of SOCK_HOOKS) {
    for (const id of hookAttachment(cgroup, hook).ours) {
      if (cgroupDetach({ cgroup, hook, progId: id })) detached++;
    }
  }
  return detached;
}

/** What is attached at each socket LB hook of `cgroup`. Throws BpfError (ENOENT: no such cgroup). */
export function querySockLb(cgroup: string): Record<SockHook, SockHookAttachment> {
  const out = {} as Record<SockHook, SockHookAttachment>;
  for (const hook of SOCK_HOOKS) out[hook] = hookAttachment(cgroup, hook);
  return out;
}

/**
 * True when exactly `programs` serve `cgroup`: at every hook the only socket LB program is the one of
 * `programs` (e.g. for a health check after a reload). Throws like `querySockLb`.
 */
export function isSockLbAttached(cgroup: string, programs: SockPrograms): boolean {
  const state = querySockLb(cgroup);
  return SOCK_HOOKS.every((hook) => state[hook].ours.length === 1 && state[hook].ours[0] === programs[hook].id);
}
