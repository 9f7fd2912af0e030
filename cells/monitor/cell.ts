// monitor: reads the cilia_events ring buffer in a worker thread (never blocking the agent), decodes
// drop / trace / policy-verdict records and publishes them. `cilia monitor` streams them from
// GET /v1/monitor (newline-delimited JSON; ?type=drop|trace|policy-verdict).

import { Subject, filter } from 'rxjs';
import { RingBufferReader } from '../../pkg/bpf/index.js';
import { type DatapathEvent, EventType, ciliaEvent, decodeEvent, eventToJSON, formatEvent } from '../../pkg/datapath/index.js';
import { badRequest } from '../../pkg/api/index.js';
import { type Health, IHealth, ILifecycle, ILogger, type Lifecycle, type Logger, module, provide, provideInto } from '../../pkg/hive/index.js';
import { type ApiStream, IApiRoutes, route } from '../api-server/types.js';
import { ILoader } from '../loader/types.js';
import { IStatusLines } from '../status/types.js';
import { IMonitor, type Monitor } from './types.js';

const TYPES = ['drop', 'trace', 'policy-verdict'];
/** `DatapathEvent.type` by the record's type byte, as decodeEvent names them (others are 'unknown'). */
const EVENT_TYPE_NAMES: Record<number, string> = { [EventType.Drop]: 'drop', [EventType.Trace]: 'trace', [EventType.PolicyVerdict]: 'policy-verdict' };

class RingMonitor implements Monitor {
  private readonly subject = new Subject<DatapathEvent>();
  readonly events$ = this.subject.asObservable();
  private reader?: RingBufferReader;
  private received = 0;
  private batches = 0;
  private readonly byType: Record<string, number> = {};

  constructor(private readonly log: Logger) {}

  async start(pinPath: string): Promise<void> {
    this.reader = RingBufferReader.open(pinPath, (records) => {
      this.batches++;
      // Decoding builds an object with address strings per record, and only GET /v1/monitor streams
      // look at the result. A short TCP connection makes about seven trace events, so under a flood of
      // connections decoding for no one cost the agent a whole core (bench/throughput, crr): without
      // subscribers only count the records, by the type byte that decodeEvent would read.
      const decode = this.subject.observed;
      for (const r of records) {
        if (!decode) {
          if (r.length < ciliaEvent.size) this.log.debug('undecodable event record', { size: r.length });
          else this.count(EVENT_TYPE_NAMES[r[0]] ?? 'unknown');
          continue;
        }
        let ev: DatapathEvent;
        try {
          ev = decodeEvent(r);
        } catch (err) {
          this.log.debug('undecodable event record', { error: err, size: r.length });
          continue;
        }
        this.count(ev.type);
        this.subject.next(ev);
      }
    });
    await this.reader.ready;
  }

  private count(type: string): void {
    this.received++;
    this.byType[type] = (this.byType[type] ?? 0) + 1;
  }

  async stop(): Promise<void> {
    await this.reader?.stop();
    this.reader = undefined;
    this.subject.complete();
  }

  stats() {
    return { received: this.received, byType: { ...this.byType }, batches: this.batches };
  }
}

export const MonitorCell = module(
  'monitor',
  'Decodes datapath events from the BPF ring buffer',
  provide({
    provides: IMonitor,
    deps: [ILoader, ILifecycle, ILogger, IHealth],
    factory: (loader, lc: Lifecycle, log: Logger, health: Health) => {
      const m = new RingMonitor(log);
      lc.append({
        name: 'monitor',
        onStart: async () => {
          await m.start(loader.current().eventsPinPath);
          health.ok('reading cilia_events');
        },
        onStop: () => m.stop(),
      });
      return m;
    },
  }),
  provideInto(IApiRoutes, {
    deps: [IMonitor],
    factory: (m) => [
      route('GET', '/v1/monitor', 'Stream of datapath events as NDJSON (?type=drop|trace|policy-verdict, repeatable)', (req) => {
        const types = req.query.getAll('type');
        for (const t of types) if (!TYPES.includes(t)) throw badRequest(`unknown event type ${JSON.stringify(t)}; types: ${TYPES.join(', ')}`, 'type');
        const wanted = new Set<string>(types);
        const result: ApiStream = {
          stream: (res, signal) =>
            new Promise<void>((resolve) => {
              const sub = m.events$.pipe(filter((ev) => wanted.size === 0 || wanted.has(ev.type))).subscribe({
                next: (ev) => res.write(JSON.stringify({ ...eventToJSON(ev), text: formatEvent(ev) }) + '\n'),
                complete: () => resolve(),
              });
              // A first line so that clients know the stream is live.
              res.write(JSON.stringify({ type: 'hello', text: 'Listening for events. Press Ctrl-C to quit' }) + '\n');
              signal.addEventListener('abort', () => {
                sub.unsubscribe();
                resolve();
              }, { once: true });
            }),
        };
        return result;
      }),
    ],
  }),
  provideInto(IStatusLines, {
    deps: [IMonitor],
    factory: (m) => () => {
      const s = m.stats();
      return { name: 'NodeMonitor', state: 'Ok' as const, message: `listening on cilia_events, ${s.received} event(s) received` };
    },
  }),
);
