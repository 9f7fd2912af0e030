// Owns where libbpf's log messages go: a settable JS logger (warn level by default) and captures that
// collect libbpf's explanation of a failed call so it can go into the error instead of the log.
import koffi from 'koffi';
import type { CMem, CPtr } from './libbpf.js';

/** Severity of a libbpf message (libbpf's LIBBPF_WARN / LIBBPF_INFO / LIBBPF_DEBUG). */
export type LibbpfLogLevel = 'warn' | 'info' | 'debug';
/** Receives one libbpf message without its "libbpf: " prefix and trailing newline. */
export type LibbpfLogger = (level: LibbpfLogLevel, message: string) => void;

const LEVELS: readonly LibbpfLogLevel[] = ['warn', 'info', 'debug'];
/** The logger in place until `setLibbpfLogger` is called: writes "libbpf <level>: <message>" lines to stderr. */
export const defaultLibbpfLogger: LibbpfLogger = (level, message) => {
  process.stderr.write(`libbpf ${level}: ${message}\n`);
};
let logger: LibbpfLogger | null = defaultLibbpfLogger;
let logMaxLevel = 0; // index into LEVELS: messages at or below it are delivered
interface Captured { level: number; message: string }
/** Active captures (innermost last); each receives warn and info messages while it is open. */
const captures: Captured[][] = [];

/**
 * Sets where libbpf's messages go (main thread only). `null` silences libbpf.
 * Default: warnings to stderr as "libbpf warn: …". Messages above `maxLevel` are dropped before
 * formatting (debug is chatty: hundreds of lines per object load).
 */
export function setLibbpfLogger(fn: LibbpfLogger | null, maxLevel: LibbpfLogLevel = 'warn'): void {
  logger = fn;
  logMaxLevel = LEVELS.indexOf(maxLevel);
}

/**
 * Runs `fn` (synchronously) and collects the warn/info messages libbpf prints meanwhile, to attach
 * libbpf's explanation (e.g. the verifier log) to an error. If `failed(result)` says the call failed, the
 * messages are only returned (the caller puts them in its error); otherwise they are also passed on to the
 * logger, so a successful call logs as if nothing had been captured. Exceptions from `fn` propagate.
 */
export function captureLibbpfLog<T>(fn: () => T, failed: (result: T) => boolean = () => false):
  { result: T; messages: string[] } {
  const captured: Captured[] = [];
  captures.push(captured);
  let result: T;
  try {
    result = fn();
  } finally {
    captures.pop();
  }
  if (!failed(result) && logger) for (const c of captured) if (c.level <= logMaxLevel) logger(LEVELS[c.level], c.message);
  return { result, messages: captured.map((c) => c.message) };
}

/**
 * Installs the printer that feeds `setLibbpfLogger`'s logger, through `setPrint` (libbpf_set_print) and
 * formatting with `vsnprintf`. Called once by libbpf() on the main thread; the callback stays registered.
 */
export function installLibbpfPrinter(
  setPrint: (fn: CPtr) => void,
  vsnprintf: (buf: CMem, size: number, fmt: CPtr, ap: CMem) => number,
): void {
  const proto = koffi.proto('int cilia_libbpf_print_fn(int level, void *fmt, void *ap)');
  const callback = koffi.register((level: number, fmt: CPtr, ap: CPtr): number => {
    const capture = level <= 1 ? captures[captures.length - 1] : undefined;
    if (!capture && (logger === null || level > logMaxLevel)) return 0;
    const message = formatVa(vsnprintf, fmt, ap).replace(/^libbpf: /, '').replace(/\n$/, '');
    if (capture) capture.push({ level, message });
    else logger?.(LEVELS[level] ?? 'debug', message);
    return 0;
  }, koffi.pointer(proto));
  setPrint(callback);
}

/** Reused for every message and grown to the longest one seen (up to 64 KiB), so formatting is
 * usually one vsnprintf call. */
let scratch = Buffer.alloc(256);

/** vsnprintf(fmt, ap) into a JS string. `ap` (a va_list) can be consumed once, so format from a copy first. */
function formatVa(vsnprintf: (buf: CMem, size: number, fmt: CPtr, ap: CMem) => number, fmt: CPtr, ap: CPtr): string {
  // On x86-64 a va_list is a pointer to a 24-byte __va_list_tag; copying those bytes is va_copy.
  // Buffer.from(view) would alias, and the first pass would then consume the real va_list.
  const apCopy = Buffer.from(new Uint8Array(koffi.view(ap, 24)));
  const n = vsnprintf(scratch, scratch.length, fmt, apCopy);
  if (n <= 0) return '';
  if (n < scratch.length) return scratch.toString('utf8', 0, n);
  const out = Buffer.alloc(n + 1);
  vsnprintf(out, out.length, fmt, ap);
  if (out.length <= 65536) scratch = out;
  return out.toString('utf8', 0, n);
}
