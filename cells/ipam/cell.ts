// ipam: leases pod addresses from --pod-cidr (host scope, like Cilium's cluster-pool on one node).
// Leases are persisted in <state-dir>/ipam.json on every change and restored at start, so an agent
// restart keeps every endpoint's address. Inspect with GET /v1/ipam or `cilia status` (IPAM line).

import path from 'node:path';
import { ConfigError, type Health, IHealth, ILifecycle, ILogger, type Lifecycle, type Logger, config, module, provide, provideInto, providePrivate, token } from '../../pkg/hive/index.js';
import { type AllocatorSnapshot, HostScopeAllocator, numToIp, parseCidr4 } from '../../pkg/ipam/index.js';
import { readJson, writeJsonAtomic } from '../../pkg/statefile/index.js';
import { IApiRoutes, route } from '../api-server/types.js';
import { IDaemonConfig } from '../daemon-config/types.js';
import { IStatusLines } from '../status/types.js';
import { IIpam, IIpamConfig, type Ipam } from './types.js';

class PersistentIpam implements Ipam {
  readonly routerIP: string;
  private readonly alloc: HostScopeAllocator;

  constructor(
    readonly podCidr: string,
    private readonly file: string,
  ) {
    this.routerIP = numToIp(parseCidr4(podCidr).base + 1);
    this.alloc = new HostScopeAllocator(podCidr, [this.routerIP]);
  }

  /** Loads persisted leases; returns those that no longer fit (e.g. the CIDR changed). */
  load(): string[] {
    const s = readJson<AllocatorSnapshot>(this.file);
    return s ? this.alloc.restore(s) : [];
  }

  private save(): void {
    writeJsonAtomic(this.file, this.alloc.snapshot());
  }

  allocate(owner: string): string {
    const had = this.alloc.addressOf(owner);
    const ip = this.alloc.allocate(owner);
    if (!had) this.save();
    return ip;
  }
  allocateSpecific(ip: string, owner: string): string {
    const had = this.alloc.ownerOf(ip);
    this.alloc.allocateSpecific(ip, owner);
    if (had !== owner) this.save();
    return ip;
  }
  release(ip: string): boolean {
    const ok = this.alloc.release(ip);
    if (ok) this.save();
    return ok;
  }
  addressOf(owner: string): string | undefined {
    return this.alloc.addressOf(owner);
  }
  leases(): Readonly<Record<string, string>> {
    return this.alloc.snapshot().leases;
  }
  used(): number {
    return this.alloc.used();
  }
  capacity(): number {
    return this.alloc.capacity();
  }
}

/** The implementation, private to this module; others see it as IIpam. */
const IPersistentIpam = token<PersistentIpam>('PersistentIpam');

export const IpamCell = module(
  'ipam',
  'Host-scope IPv4 address management for endpoints',
  config(IIpamConfig, {
    podCidr: { doc: "This node's pod CIDR; its first address is the endpoints' gateway", format: 'cidr4', default: '10.244.0.0/24' },
  }),
  providePrivate({
    provides: IPersistentIpam,
    deps: [IIpamConfig, IDaemonConfig, ILifecycle, ILogger, IHealth],
    factory: (cfg, daemon, lc: Lifecycle, log: Logger, health: Health) => {
      let ipam: PersistentIpam;
      try {
        ipam = new PersistentIpam(cfg.podCidr, path.join(daemon.stateDir, 'ipam.json'));
      } catch (err) {
        throw new ConfigError(`invalid value for --pod-cidr: ${JSON.stringify(cfg.podCidr)} — ${(err as Error).message}`);
      }
      lc.append({
        name: 'ipam-restore',
        onStart: () => {
          const dropped = ipam.load();
          if (dropped.length) log.warn('dropped persisted leases that do not fit the pod CIDR', { podCidr: cfg.podCidr, dropped });
          log.info('IPAM ready', { podCidr: cfg.podCidr, routerIP: ipam.routerIP, restored: ipam.used() });
          health.ok(`${ipam.used()}/${ipam.capacity()} allocated from ${cfg.podCidr}`);
        },
      });
      return ipam;
    },
  }),
  provide({ provides: IIpam, deps: [IPersistentIpam], factory: (ipam): Ipam => ipam }),
  provideInto(IStatusLines, {
    deps: [IPersistentIpam],
    factory: (ipam) => () => ({ name: 'IPAM', state: 'Ok' as const, message: `IPv4: ${ipam.used()}/${ipam.capacity()} allocated from ${ipam.podCidr}, router ${ipam.routerIP}` }),
  }),
  provideInto(IApiRoutes, {
    deps: [IPersistentIpam],
    factory: (ipam) => [route('GET', '/v1/ipam', 'IPAM leases of this node', () => ({ podCidr: ipam.podCidr, routerIP: ipam.routerIP, leases: ipam.leases() }))],
  }),
);
