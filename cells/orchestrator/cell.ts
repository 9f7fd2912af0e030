// orchestrator: puts the loaded endpoint programs on every endpoint's host-side veth (tc ingress:
// cil_from_container, tc egress: cil_to_container) and, when the loader reloads the datapath, replaces
// them on every device atomically (tc REPLACE: there is no moment without a program). Inspect with
// GET /v1/datapath/attachments.

import { Subject } from 'rxjs';
import { tcAttach, tcQuery } from '../../pkg/bpf/index.js';
import { type Health, IHealth, IJobGroup, ILogger, type JobGroup, type Logger, module, observer, provide, provideInto } from '../../pkg/hive/index.js';
import { IApiRoutes, route } from '../api-server/types.js';
import { ILoader, type Loader } from '../loader/types.js';
import { IOrchestrator, type Orchestrator } from './types.js';

class TcOrchestrator implements Orchestrator {
  private readonly devices = new Map<number, { ifName: string; from: number; to: number }>();
  readonly reloads$ = new Subject<number>();

  constructor(
    private readonly loader: Loader,
    private readonly log: Logger,
    private readonly health: Health,
  ) {
    this.report();
  }

  private report(): void {
    this.health.ok(`${this.devices.size} device(s) carry the endpoint programs`);
  }

  attachEndpoint(ifindex: number, ifName: string): void {
    const d = this.loader.current();
    const from = d.fromContainer;
    const to = d.toContainer;
    // tcAttach always replaces atomically; skip the syscalls when the device already runs these programs.
    if (tcQuery({ ifindex, direction: 'ingress' }) !== from.id) tcAttach({ ifindex, direction: 'ingress', progFd: from.fd });
    if (tcQuery({ ifindex, direction: 'egress' }) !== to.id) tcAttach({ ifindex, direction: 'egress', progFd: to.fd });
    const known = this.devices.has(ifindex);
    this.devices.set(ifindex, { ifName, from: from.id, to: to.id });
    if (!known) this.report();
  }

  forgetEndpoint(ifindex: number): void {
    if (this.devices.delete(ifindex)) this.report();
  }

  attached() {
    return [...this.devices].map(([ifindex, d]) => ({ ifindex, ifName: d.ifName, fromContainerId: d.from, toContainerId: d.to }));
  }

  /** After a reload: move every device to the new programs. */
  reattachAll(): number {
    let n = 0;
    for (const [ifindex, d] of [...this.devices]) {
      try {
        this.attachEndpoint(ifindex, d.ifName);
        n++;
      } catch (err) {
        // The device may have gone with its pod; the endpoint reconciler will forget it.
        this.log.warn('could not move a device to the reloaded programs', { ifindex, device: d.ifName, error: err });
      }
    }
    this.reloads$.next(n);
    return n;
  }
}

export const OrchestratorCell = module(
  'orchestrator',
  'Attaches datapath programs to endpoints and swaps them atomically on reload',
  provide({
    provides: IOrchestrator,
    deps: [ILoader, IJobGroup, ILogger, IHealth],
    factory: (loader, jobs: JobGroup, log: Logger, health: Health) => {
      const o = new TcOrchestrator(loader, log, health);
      jobs.add(
        observer('reattach-on-reload', loader.reloaded$, async () => {
          const n = o.reattachAll();
          log.info('programs replaced after reload', { devices: n });
        }),
      );
      return o;
    },
  }),
  provideInto(IApiRoutes, {
    deps: [IOrchestrator],
    factory: (o) => [route('GET', '/v1/datapath/attachments', 'Devices carrying the endpoint programs', () => o.attached())],
  }),
);
