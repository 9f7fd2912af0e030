// Public types of the monitor cell: decoded datapath events.

import type { Observable } from 'rxjs';
import { token } from '../../pkg/hive/index.js';
import type { DatapathEvent } from '../../pkg/datapath/index.js';

/** The stream of datapath events (drops, traces, policy verdicts) read from the ring buffer. */
export interface Monitor {
  readonly events$: Observable<DatapathEvent>;
  /** Events received since start, by type name. */
  stats(): { received: number; byType: Record<string, number>; batches: number };
}
export const IMonitor = token<Monitor>('Monitor');
