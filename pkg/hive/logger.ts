// Structured logging: one JSON object per line, with the module id of the cell that logged.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

const SEVERITY: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Extra key/value pairs attached to a log record. Errors are rendered as their message. */
export type LogAttrs = Record<string, unknown>;

/** One log record, as handed to a sink. */
export interface LogRecord {
  readonly time: string;
  readonly level: LogLevel;
  readonly module: string;
  readonly msg: string;
  readonly attrs: LogAttrs;
}

/** Where records go. The default writes JSON lines to stderr. */
export interface LogSink {
  write(rec: LogRecord): void;
}

/** A module-scoped structured logger. */
export interface Logger {
  debug(msg: string, attrs?: LogAttrs): void;
  info(msg: string, attrs?: LogAttrs): void;
  warn(msg: string, attrs?: LogAttrs): void;
  error(msg: string, attrs?: LogAttrs): void;
  /** A logger that adds `attrs` to every record. */
  with(attrs: LogAttrs): Logger;
  /** True when records of `level` would be written (to skip building expensive attributes). */
  enabled(level: LogLevel): boolean;
}

/** Renders attribute values for JSON: errors become their message, bigints strings. */
function renderValue(v: unknown): unknown {
  if (v instanceof Error) return v.message;
  if (typeof v === 'bigint') return v.toString();
  return v;
}

/** Writes each record as one JSON line to a stream (stderr by default). */
export function jsonSink(stream: { write(s: string): unknown } = process.stderr): LogSink {
  return {
    write(rec) {
      const out: Record<string, unknown> = { time: rec.time, level: rec.level, module: rec.module || 'hive', msg: rec.msg };
      for (const [k, v] of Object.entries(rec.attrs)) out[k] = renderValue(v);
      stream.write(JSON.stringify(out) + '\n');
    },
  };
}

/** Keeps records in memory; used by tests to assert on logs and to print them on failure. */
export class MemorySink implements LogSink {
  readonly records: LogRecord[] = [];
  write(rec: LogRecord): void {
    this.records.push(rec);
  }
  /** Messages of the records, optionally filtered by module. */
  messages(module?: string): string[] {
    return this.records.filter((r) => module === undefined || r.module === module).map((r) => r.msg);
  }
}

/** The shared root of all loggers of a hive: owns the sink and the current level. */
export class LogRoot {
  constructor(
    public sink: LogSink = jsonSink(),
    public level: LogLevel = 'info',
  ) {}

  /** A logger for `module` (a full module id such as `agent.datapath.loader`). */
  logger(module: string, attrs: LogAttrs = {}): Logger {
    return new ModuleLogger(this, module, attrs);
  }
}

class ModuleLogger implements Logger {
  constructor(
    private readonly root: LogRoot,
    private readonly module: string,
    private readonly attrs: LogAttrs,
  ) {}

  enabled(level: LogLevel): boolean {
    return SEVERITY[level] >= SEVERITY[this.root.level];
  }
  private log(level: LogLevel, msg: string, attrs?: LogAttrs): void {
    if (!this.enabled(level)) return;
    this.root.sink.write({ time: new Date().toISOString(), level, module: this.module, msg, attrs: { ...this.attrs, ...attrs } });
  }
  debug(msg: string, attrs?: LogAttrs): void {
    this.log('debug', msg, attrs);
  }
  info(msg: string, attrs?: LogAttrs): void {
    this.log('info', msg, attrs);
  }
  warn(msg: string, attrs?: LogAttrs): void {
    this.log('warn', msg, attrs);
  }
  error(msg: string, attrs?: LogAttrs): void {
    this.log('error', msg, attrs);
  }
  with(attrs: LogAttrs): Logger {
    return new ModuleLogger(this.root, this.module, { ...this.attrs, ...attrs });
  }
}
