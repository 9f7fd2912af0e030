// Owns cgroup v2 plumbing for socket hooks: attaching sock_addr programs (connect, sendmsg, recvmsg,
// getpeername …) with BPF_F_ALLOW_MULTI so they persist after the process exits, querying and detaching
// them, and mounting / creating / removing cgroup v2 directories.
import fs from 'node:fs';
import path from 'node:path';
import koffi from 'koffi';
import { progIdOf } from './info.js';
import { BpfError } from './errors.js';
import { libbpf, libc, OPTS_SIZE } from './libbpf.js';
import { closeFd } from './pin.js';

/** BPF_CGROUP_* attach types of the socket hooks (enum bpf_attach_type, linux/bpf.h). */
export const CgroupAttachType = {
  sock_create: 2, sock_ops: 3, bind4: 8, bind6: 9, connect4: 10, connect6: 11, post_bind4: 12, post_bind6: 13,
  sendmsg4: 14, sendmsg6: 15, recvmsg4: 19, recvmsg6: 20, getpeername4: 29, getpeername6: 30, getsockname4: 31,
  getsockname6: 32, sock_release: 34,
} as const;
/** A hook by name ("connect4") or a raw BPF_CGROUP_* number. */
export type CgroupHook = keyof typeof CgroupAttachType | number;

const BPF_F_ALLOW_MULTI = 2;
const BPF_F_REPLACE = 4;
const CGROUP2_SUPER_MAGIC = 0x63677270;
const ENOENT = 2;
const ENOSPC = 28;

function hookNumber(hook: CgroupHook): number {
  if (typeof hook === 'number') return hook;
  const n = CgroupAttachType[hook];
  if (n === undefined) throw new TypeError(`unknown cgroup hook ${String(hook)}; known: ${Object.keys(CgroupAttachType).join(', ')}`);
  return n;
}

function hookLabel(hook: CgroupHook): string {
  return typeof hook === 'number' ? `attach type ${hook}` : hook;
}

function withCgroupFd<T>(cgroup: string, fn: (fd: number) => T): T {
  let fd: number;
  try {
    fd = fs.openSync(cgroup, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch (e) {
    throw new BpfError(`open(${cgroup})`, Math.abs((e as NodeJS.ErrnoException).errno ?? ENOENT));
  }
  try {
    return fn(fd);
  } finally {
    closeFd(fd);
  }
}

/** What `cgroupAttach` needs. */
export interface CgroupAttachOptions {
  /** Path of a cgroup v2 directory, e.g. /sys/fs/cgroup/unified/cilia-test-cb-1. */
  readonly cgroup: string;
  readonly hook: CgroupHook;
  readonly progFd: number;
  /** A program attached at this hook to swap for `progFd` in place, atomically (BPF_F_REPLACE). Ignored if it is not attached. */
  readonly replaceProgFd?: number;
}

/**
 * Attaches `progFd` to the cgroup's hook with BPF_F_ALLOW_MULTI: it stays attached after this process exits,
 * next to programs others attached. Idempotent: a program already attached there is left as is. With
 * `replaceProgFd` the old program is swapped for the new one in place, so no connect() sees neither.
 * Throws BpfError "bpf_prog_attach(<hook>, <cgroup>)" (EINVAL: wrong program type for the hook).
 */
export function cgroupAttach(o: CgroupAttachOptions): void {
  const type = hookNumber(o.hook);
  withCgroupFd(o.cgroup, (cgFd) => {
    const attached = queryFd(cgFd, type, o.cgroup, o.hook);
    if (attached.includes(progIdOf(o.progFd))) return;
    const replace = o.replaceProgFd !== undefined && attached.includes(progIdOf(o.replaceProgFd));
    const opts = {
      sz: OPTS_SIZE.progAttach,
      flags: BPF_F_ALLOW_MULTI | (replace ? BPF_F_REPLACE : 0),
      replace_prog_fd: replace ? o.replaceProgFd : 0,
    };
    const rc = libbpf().bpf_prog_attach_opts(o.progFd, cgFd, type, opts);
    if (rc < 0) throw new BpfError(`bpf_prog_attach(${hookLabel(o.hook)}, ${o.cgroup})`, -rc);
  });
}

/**
 * Detaches a program from the cgroup's hook, given its fd or its id. Returns false if it was not attached.
 * Throws BpfError "bpf_prog_detach2(<hook>, <cgroup>)" otherwise.
 */
export function cgroupDetach(o: { readonly cgroup: string; readonly hook: CgroupHook } &
  ({ readonly progFd: number } | { readonly progId: number })): boolean {
  const type = hookNumber(o.hook);
  const lib = libbpf();
  let fd: number;
  let ownFd = false;
  if ('progFd' in o) {
    fd = o.progFd;
  } else {
    fd = lib.bpf_prog_get_fd_by_id(o.progId);
    if (fd === -ENOENT) return false;
    if (fd < 0) throw new BpfError(`bpf_prog_get_fd_by_id(${o.progId})`, -fd);
    ownFd = true;
  }
  try {
    return withCgroupFd(o.cgroup, (cgFd) => {
      const rc = lib.bpf_prog_detach2(fd, cgFd, type);
      if (rc === -ENOENT) return false;
      if (rc < 0) throw new BpfError(`bpf_prog_detach2(${hookLabel(o.hook)}, ${o.cgroup})`, -rc);
      return true;
    });
  } finally {
    if (ownFd) closeFd(fd);
  }
}

/** Ids of the programs attached directly to this cgroup's hook (not inherited ones), in run order. Throws BpfError. */
export function cgroupQuery(cgroup: string, hook: CgroupHook): number[] {
  const type = hookNumber(hook);
  return withCgroupFd(cgroup, (cgFd) => queryFd(cgFd, type, cgroup, hook));
}

function queryFd(cgFd: number, type: number, cgroup: string, hook: CgroupHook): number[] {
  let room = 64;
  for (;;) {
    const ids = Buffer.alloc(room * 4);
    const cnt = [room];
    const rc = libbpf().bpf_prog_query(cgFd, type, 0, [0], ids, cnt);
    if (rc === -ENOSPC) {
      room *= 4;
      continue;
    }
    if (rc < 0) throw new BpfError(`bpf_prog_query(${hookLabel(hook)}, ${cgroup})`, -rc);
    const out: number[] = [];
    for (let i = 0; i < cnt[0]; i++) out.push(ids.readUInt32LE(i * 4));
    return out;
  }
}

/** True when `dir` is a cgroup v2 directory (the root of a mount or a child). */
export function isCgroup2(dir: string): boolean {
  try {
    return fs.statfsSync(dir).type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/** True when `dir` is where a cgroup v2 hierarchy is mounted (a cgroup v2 directory whose parent is not one). */
export function isCgroup2MountRoot(dir: string): boolean {
  const abs = path.resolve(dir);
  return isCgroup2(abs) && !isCgroup2(path.dirname(abs));
}

/** The first cgroup v2 mount point in /proc/self/mountinfo, or undefined (e.g. /sys/fs/cgroup/unified). */
export function findCgroup2Mount(): string | undefined {
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (right?.split(' ')[0] === 'cgroup2') return left.split(' ')[4];
  }
  return undefined;
}

/**
 * Makes sure a cgroup v2 hierarchy is mounted at `mountpoint` (creating the directory). There is one v2
 * hierarchy per machine: mounting it again elsewhere shows the same tree. Returns true if it mounted it,
 * false if one was there. Throws BpfError "mount(cgroup2, <path>)".
 */
export function mountCgroup2(mountpoint: string): boolean {
  if (isCgroup2(mountpoint)) return false;
  fs.mkdirSync(mountpoint, { recursive: true });
  if (libc().mount('none', mountpoint, 'cgroup2', 0, null) !== 0) {
    throw new BpfError(`mount(cgroup2, ${mountpoint})`, koffi.errno());
  }
  return true;
}

/**
 * Unmounts a cgroup v2 mount made with `mountCgroup2` (the hierarchy and its cgroups live on). Throws Error if
 * `mountpoint` is not a cgroup v2 mount root, BpfError "umount2(<path>)" if the kernel refuses.
 */
export function unmountCgroup2(mountpoint: string): void {
  const abs = path.resolve(mountpoint);
  if (!isCgroup2MountRoot(abs)) throw new Error(`unmountCgroup2(${abs}): not a cgroup v2 mount root`);
  if (libc().umount2(abs, 0) !== 0) throw new BpfError(`umount2(${abs})`, koffi.errno());
}

/**
 * Creates the cgroup directory `dir` (and missing parents) inside a cgroup v2 hierarchy. Existing is fine.
 * Throws Error if the nearest existing ancestor is not cgroup v2 (so a wrong path never becomes a plain directory).
 */
export function createCgroup(dir: string): void {
  let existing = path.resolve(dir);
  while (!fs.existsSync(existing)) existing = path.dirname(existing);
  if (!isCgroup2(existing)) throw new Error(`createCgroup(${dir}): ${existing} is not in a cgroup v2 hierarchy`);
  fs.mkdirSync(dir, { recursive: true });
}

/** Moves process `pid` into cgroup `dir` (writes cgroup.procs). */
export function moveToCgroup(dir: string, pid: number): void {
  fs.writeFileSync(path.join(dir, 'cgroup.procs'), `${pid}\n`);
}

/**
 * Removes cgroup `dir` and its child cgroups, deepest first (missing is fine). Programs attached to them are
 * detached by the kernel. Throws the fs error EBUSY while a process is still in one of them, and Error if
 * `dir` is not a cgroup v2 child directory (a mount root is refused).
 */
export function removeCgroup(dir: string): void {
  if (!fs.existsSync(dir)) return;
  const abs = path.resolve(dir);
  if (!isCgroup2(abs) || !isCgroup2(path.dirname(abs))) throw new Error(`removeCgroup(${abs}): not a cgroup v2 child directory`);
  for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
    if (e.isDirectory()) removeCgroup(path.join(abs, e.name));
  }
  // rmdir, not rm -r: a cgroup's control files cannot be unlinked; the kernel removes them with the directory.
  fs.rmdirSync(abs);
}
