// Owns attaching BPF programs to tc (clsact qdisc, direct-action cls_bpf filters): attach with atomic
// replace, query, detach. Attachments outlive the process, like `tc filter add … bpf da`.
import { BpfError } from './errors.js';
import { libbpf, OPTS_SIZE, type TcHook, type TcOpts } from './libbpf.js';
import { captureLibbpfLog } from './log.js';
import { withNetns } from '../netns/index.js';

/** Which side of the device: packets the device receives (ingress) or sends (egress). */
export type TcDirection = 'ingress' | 'egress';

/** Where a tc filter sits. */
export interface TcTarget {
  readonly ifindex: number;
  readonly direction: TcDirection;
  /** Filter priority (1..65535). Default 1. */
  readonly priority?: number;
  /** Filter handle. Default 1. */
  readonly handle?: number;
  /** Network namespace of the device (name under /run/netns or a path); default: the current one. */
  readonly netns?: string;
}

const BPF_TC_INGRESS = 1;
const BPF_TC_EGRESS = 2;
const BPF_TC_F_REPLACE = 1;
const EEXIST = 17;
const ENOENT = 2;
const EINVAL = 22;

function hook(t: TcTarget): TcHook {
  return { sz: OPTS_SIZE.tcHook, ifindex: t.ifindex, attach_point: t.direction === 'ingress' ? BPF_TC_INGRESS : BPF_TC_EGRESS, parent: 0 };
}

function opts(t: TcTarget, progFd = 0, flags = 0): TcOpts {
  return { sz: OPTS_SIZE.tcOpts, prog_fd: progFd, flags, prog_id: 0, handle: t.handle ?? 1, priority: t.priority ?? 1 };
}

function where(t: TcTarget): string {
  return `ifindex ${t.ifindex}${t.netns ? ` in ${t.netns}` : ''} ${t.direction} prio ${t.priority ?? 1} handle ${t.handle ?? 1}`;
}

/**
 * Runs a libbpf tc call. libbpf logs the kernel's netlink message for every failure, including the expected ones
 * (no qdisc yet, nothing to detach); those are dropped, and for real failures the message goes into the error.
 */
function call(op: string, fn: () => number, expected: readonly number[] = []): number {
  const { result: rc, messages } = captureLibbpfLog(fn, (r) => r < 0);
  if (rc < 0 && !expected.includes(-rc)) throw new BpfError(op, -rc, messages.join('; ') || undefined);
  return rc;
}

function inNs<T>(t: TcTarget, fn: () => T): T {
  return t.netns ? withNetns(t.netns, fn) : fn();
}

/**
 * Attaches `progFd` as a direct-action filter, creating the clsact qdisc if missing. If a filter already sits at
 * this priority/handle it is replaced atomically (NLM_F_REPLACE): packets see the old program or the new one,
 * never none. Returns the attached program's id. Throws BpfError "bpf_tc_attach(<where>)" (e.g. ENODEV, EINVAL
 * for a program that is not SCHED_CLS).
 */
export function tcAttach(t: TcTarget & { readonly progFd: number }): number {
  const lib = libbpf();
  return inNs(t, () => {
    const h = hook(t);
    call(`bpf_tc_hook_create(${where(t)})`, () => lib.bpf_tc_hook_create(h), [EEXIST]);
    // REPLACE also creates when nothing is there (libbpf then omits NLM_F_EXCL), so one call covers both.
    const o = opts(t, t.progFd, BPF_TC_F_REPLACE);
    call(`bpf_tc_attach(${where(t)})`, () => lib.bpf_tc_attach(h, o));
    return o.prog_id;
  });
}

/** The id of the program attached at the target, or undefined if none (or no clsact qdisc). Throws BpfError otherwise. */
export function tcQuery(t: TcTarget): number | undefined {
  const lib = libbpf();
  return inNs(t, () => {
    const o = opts(t);
    const rc = call(`bpf_tc_query(${where(t)})`, () => lib.bpf_tc_query(hook(t), o), [ENOENT, EINVAL]);
    return rc < 0 ? undefined : o.prog_id;
  });
}

/** Removes the filter at the target. Returns false if there was none. Throws BpfError "bpf_tc_detach(<where>)" otherwise. */
export function tcDetach(t: TcTarget): boolean {
  const lib = libbpf();
  return inNs(t, () => {
    return call(`bpf_tc_detach(${where(t)})`, () => lib.bpf_tc_detach(hook(t), opts(t)), [ENOENT, EINVAL]) >= 0;
  });
}

/**
 * Deletes the device's clsact qdisc and with it EVERY tc filter on both directions, including ones other tools
 * added. Returns false if there was none. Throws BpfError "bpf_tc_hook_destroy(ifindex N)" otherwise.
 */
export function tcRemoveClsact(ifindex: number, netns?: string): boolean {
  const lib = libbpf();
  const t: TcTarget = { ifindex, direction: 'ingress', ...(netns ? { netns } : {}) };
  return inNs(t, () => {
    const h = { ...hook(t), attach_point: BPF_TC_INGRESS | BPF_TC_EGRESS };
    return call(`bpf_tc_hook_destroy(ifindex ${ifindex})`, () => lib.bpf_tc_hook_destroy(h), [ENOENT, EINVAL]) >= 0;
  });
}
