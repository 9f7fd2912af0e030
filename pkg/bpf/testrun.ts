// Owns BPF_PROG_TEST_RUN: running a loaded program on a packet built in TypeScript, with an optional
// `struct __sk_buff` context, and reading back its verdict, the output packet and the output context.
import { array, pad, struct, u32, u64, u8 } from './codec.js';
import { BpfError } from './errors.js';
import { libbpf, OPTS_SIZE, type TestRunOpts } from './libbpf.js';

/** `struct __sk_buff` (192 bytes, kernel 6.18): the context of tc (SCHED_CLS) programs. */
export const skBuff = struct('__sk_buff', {
  len: u32, pkt_type: u32, mark: u32, queue_mapping: u32, protocol: u32, vlan_present: u32, vlan_tci: u32,
  vlan_proto: u32, priority: u32, ingress_ifindex: u32, ifindex: u32, tc_index: u32, cb: array(u32, 5), hash: u32,
  tc_classid: u32, data: u32, data_end: u32, napi_id: u32, family: u32, remote_ip4: u32, local_ip4: u32,
  remote_ip6: array(u32, 4), local_ip6: array(u32, 4), remote_port: u32, local_port: u32, data_meta: u32,
  flow_keys: u64, tstamp: u64, wire_len: u32, gso_segs: u32, sk: u64, gso_size: u32, tstamp_type: u8,
  tstamp_pad: pad(3), hwtstamp: u64,
});

/**
 * The `__sk_buff` fields a test run may set for tc programs (the kernel rejects non-zero values elsewhere with
 * EINVAL). `ifindex` must name an existing device in the current netns (or be 1/lo); it becomes skb->dev.
 */
export interface SkbContext {
  mark?: number;
  priority?: number;
  ingress_ifindex?: number;
  ifindex?: number;
  /** skb->cb[0..4]; missing slots are 0. */
  cb?: readonly number[];
  tstamp?: bigint;
  wire_len?: number;
  gso_segs?: number;
  gso_size?: number;
}

/** What a test run reads back from the context after the program ran. */
export interface SkbContextOut {
  mark: number;
  priority: number;
  ingress_ifindex: number;
  ifindex: number;
  cb: number[];
  tc_index: number;
  tstamp: bigint;
  wire_len: number;
  gso_segs: number;
  gso_size: number;
}

/** Input of `testRun`. */
export interface TestRunOptions {
  /** The packet, starting at the Ethernet header for tc programs (at least 14 bytes). */
  readonly data: Buffer;
  /** A `__sk_buff` context; when set, the result carries the context after the run. */
  readonly ctx?: SkbContext;
  /** Run the program this many times in the kernel (for timing); default 1. Side effects happen each time. */
  readonly repeat?: number;
  /** Room for the output packet; default data.length + 256 (grown automatically if the program needs more). */
  readonly dataOutSize?: number;
}

/** Result of `testRun`. */
export interface TestRunResult {
  /** The program's return value, as a signed 32-bit integer (tc: TC_ACT_OK 0, TC_ACT_SHOT 2, TC_ACT_UNSPEC -1 …). */
  readonly retval: number;
  /** The packet as the program left it. */
  readonly data: Buffer;
  /** The context after the run, if a context was passed. */
  readonly ctx?: SkbContextOut;
  /** Average run time per repetition, in nanoseconds, as the kernel measured it. */
  readonly durationNs: number;
}

const ENOSPC = 28;

/**
 * Runs program `progFd` once (or `repeat` times) on `data` through BPF_PROG_TEST_RUN.
 * Throws BpfError "bpf_prog_test_run_opts(prog fd N)": EINVAL for a packet shorter than 14 bytes or a context
 * field the kernel does not accept, ENODEV for a ctx.ifindex that names no device, ENOTSUPP for program types
 * without test-run support.
 */
export function testRun(progFd: number, options: TestRunOptions): TestRunResult {
  const { data, ctx } = options;
  let ctxIn: Buffer | null = null;
  let ctxOut: Buffer | null = null;
  if (ctx) {
    const cb = [...(ctx.cb ?? [])];
    if (cb.length > 5) throw new RangeError(`testRun: ctx.cb has ${cb.length} slots, __sk_buff has 5`);
    while (cb.length < 5) cb.push(0);
    const full = skBuff.decode(Buffer.alloc(skBuff.size));
    ctxIn = skBuff.encode({
      ...full, mark: ctx.mark ?? 0, priority: ctx.priority ?? 0, ingress_ifindex: ctx.ingress_ifindex ?? 0,
      ifindex: ctx.ifindex ?? 0, cb, tstamp: ctx.tstamp ?? 0n, wire_len: ctx.wire_len ?? 0, gso_segs: ctx.gso_segs ?? 0,
      gso_size: ctx.gso_size ?? 0,
    });
    ctxOut = Buffer.alloc(skBuff.size);
  }
  let outSize = options.dataOutSize ?? data.length + 256;
  for (;;) {
    const out = Buffer.alloc(outSize);
    const o: TestRunOpts = {
      sz: OPTS_SIZE.testRun, data_in: data, data_out: out, data_size_in: data.length, data_size_out: out.length,
      ctx_in: ctxIn, ctx_out: ctxOut, ctx_size_in: ctxIn?.length ?? 0, ctx_size_out: ctxOut?.length ?? 0, retval: 0,
      repeat: options.repeat ?? 1, duration: 0, flags: 0, cpu: 0, batch_size: 0,
    };
    const rc = libbpf().bpf_prog_test_run_opts(progFd, o);
    if (rc === -ENOSPC && o.data_size_out > outSize) {
      // The output packet grew beyond our buffer; the kernel told us how big it is.
      outSize = o.data_size_out;
      continue;
    }
    if (rc < 0) throw new BpfError(`bpf_prog_test_run_opts(prog fd ${progFd})`, -rc);
    let ctxResult: SkbContextOut | undefined;
    if (ctxOut) {
      const c = skBuff.decode(ctxOut);
      ctxResult = {
        mark: c.mark, priority: c.priority, ingress_ifindex: c.ingress_ifindex, ifindex: c.ifindex, cb: c.cb,
        tc_index: c.tc_index, tstamp: c.tstamp, wire_len: c.wire_len, gso_segs: c.gso_segs, gso_size: c.gso_size,
      };
    }
    return {
      retval: o.retval | 0, data: out.subarray(0, o.data_size_out), durationNs: o.duration,
      ...(ctxResult ? { ctx: ctxResult } : {}),
    };
  }
}
