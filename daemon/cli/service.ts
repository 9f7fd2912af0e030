// `cilia service …` (services and their backends) and `cilia bpf lb …` (the LB maps as the datapath
// holds them). Input is checked here first so that a typo exits 2 naming the flag, before the agent
// (which validates again) is asked.

import {
  LbValidationError, type BackendInput, type FrontendInput, type SessionAffinity, parseBackendList, parseFrontend, parseSessionAffinity,
} from '../../pkg/lb/model/index.js';
import type { BpfLbJSON, BpfMaglevJSON, ServiceJSON, ServiceUpsertRequest } from '../../cells/service-lb/types.js';
import { type Command, UsageError, json, resourcePath, table } from './command.js';
import { list } from './files.js';

const NO_BACKENDS = 'a service without backends drops new connections ("Service backend not found")';

/** Runs a pkg/lb parser; its validation error becomes a usage error (exit 2) naming the flag. */
function parsed<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof LbValidationError) throw new UsageError(err.message);
    throw err;
  }
}

function backendText(b: { id: number; address: string; port: number; protocol: string; state: string; weight?: number }): string {
  return `${b.id} => ${b.address}:${b.port}/${b.protocol} (${b.state}${b.weight !== undefined && b.weight !== 1 ? `, weight ${b.weight}` : ''})`;
}

/** The body of `service upsert` from its flags. Throws UsageError naming the flag at fault. */
export function upsertRequest(opts: Record<string, unknown>): ServiceUpsertRequest {
  if (typeof opts.frontend !== 'string') throw new UsageError('--frontend IP:PORT[/tcp|udp] is required');
  if (typeof opts.backends !== 'string') throw new UsageError(`--backends is required; pass --backends '' for no backends (${NO_BACKENDS})`);
  const frontend: FrontendInput = parsed(() => parseFrontend(opts.frontend as string, '--frontend'));
  const backends: BackendInput[] = parsed(() => parseBackendList(opts.backends as string, '--backends', frontend.protocol));
  const affinity: SessionAffinity | undefined = typeof opts.affinity === 'string' ? parsed(() => parseSessionAffinity(opts.affinity as string, '--affinity')) : undefined;
  const algorithm = opts.algorithm;
  if (algorithm !== undefined && algorithm !== 'random' && algorithm !== 'maglev') throw new UsageError(`--algorithm: unknown value ${JSON.stringify(algorithm)}; expected random or maglev`);
  return {
    ...(typeof opts.name === 'string' ? { name: opts.name } : {}),
    ...(typeof opts.namespace === 'string' ? { namespace: opts.namespace } : {}),
    frontends: [frontend],
    backends,
    ...(affinity ? { sessionAffinity: affinity } : {}),
    ...(list(opts['source-range'] as string[] | undefined).length ? { sourceRanges: list(opts['source-range'] as string[]) } : {}),
    ...(algorithm ? { algorithm } : {}),
  };
}

/** `service list|upsert|delete`, `bpf lb list`, `bpf lb maglev list`. */
export const serviceCommands: Command[] = [
  {
    name: 'service list',
    summary: 'List services: frontends with their rev-NAT index, backends with their id and state',
    maxArgs: 0,
    options: { json: { type: 'boolean', description: 'print JSON' } },
    async run({ client, opts, out }) {
      const services = await client.get<ServiceJSON[]>('/v1/service');
      if (opts.json) return out(json(services));
      const rows: string[][] = [];
      for (const s of services) {
        const status = s.status.kind === 'Done' ? '' : ` [${s.status.kind}${s.status.error ? `: ${s.status.error}` : ''}]`;
        for (const f of s.frontends) {
          const backends = s.backends.filter((b) => b.portName === f.portName && b.protocol === f.protocol);
          const first = backends.length ? backendText(backends[0]) : '(none: new connections are dropped)';
          rows.push([String(f.revNat), `${f.address}:${f.port}/${f.protocol}`, `${s.namespace}/${s.name}${status}`, first]);
          for (const b of backends.slice(1)) rows.push(['', '', '', backendText(b)]);
        }
      }
      out(table(['ID', 'FRONTEND', 'SERVICE', 'BACKEND'], rows));
    },
  },
  {
    name: 'service upsert',
    summary: 'Create or replace a service (answers once the LB maps hold it)',
    maxArgs: 0,
    options: {
      frontend: { type: 'string', description: 'virtual IP and port: IP:PORT[/tcp|udp|sctp] (TCP by default)' },
      backends: { type: 'string', description: `IP:PORT[/proto][@WEIGHT],… (the frontend's protocol by default); '' = none: ${NO_BACKENDS}` },
      affinity: { type: 'string', description: 'session affinity: none, clientip or clientip:SECONDS (default timeout 10800)' },
      algorithm: { type: 'string', description: 'backend selection: random (default) or maglev' },
      'source-range': { type: 'string', multiple: true, description: 'only clients in this CIDR may use the service (repeatable)' },
      name: { type: 'string', description: 'service name (default: the service owning the frontend, else derived from it)' },
      namespace: { type: 'string', description: 'namespace (default "default")' },
      json: { type: 'boolean', description: 'print the service as JSON' },
    },
    async run({ client, opts, out }) {
      const svc = await client.put<ServiceJSON>('/v1/service', upsertRequest(opts));
      if (opts.json) return out(json(svc));
      const f = svc.frontends[0];
      out(`Service ${svc.namespace}/${svc.name}: ${f.address}:${f.port}/${f.protocol} (ID ${f.revNat}) with ${svc.backends.length} backend(s)\n`);
      if (!svc.backends.length) out(`Warning: ${NO_BACKENDS}\n`);
    },
  },
  {
    name: 'service delete',
    summary: 'Delete a service made with `service upsert`, named by a frontend IP:PORT[/proto] or by name',
    args: 'FRONTEND|NAME',
    minArgs: 1,
    maxArgs: 1,
    options: { namespace: { type: 'string', description: 'namespace of a NAME (default "default")' } },
    async run({ client, args, opts, out }) {
      const r = await client.delete<{ deleted: string }>(resourcePath('/v1/service', args[0], opts.namespace));
      out(`Deleted service ${r.deleted}\n`);
    },
  },
  {
    name: 'bpf lb list',
    summary: 'The LB maps: each frontend (master entry) with the backends in its slots',
    maxArgs: 0,
    options: { json: { type: 'boolean', description: 'print JSON' } },
    async run({ client, opts, out }) {
      const lb = await client.get<BpfLbJSON>('/v1/bpf/lb');
      if (opts.json) return out(json(lb));
      const backends = new Map(lb.backends.map((b) => [b.id, b]));
      const rows: string[][] = [];
      for (const s of lb.services) {
        const flags = [...s.flags, ...(s.affinityTimeoutSeconds !== undefined ? [`timeout ${s.affinityTimeoutSeconds}s`] : [])];
        rows.push([s.frontend, `0.0.0.0:0 (${s.revNat}) (0) [${s.count ? 'ClusterIP' : 'ClusterIP, no backends'}${flags.length ? ', ' + flags.join(', ') : ''}]`]);
        s.slots.forEach((id, i) => {
          const b = backends.get(id);
          rows.push(['', `${b ? `${b.address}:${b.port}/${b.protocol}` : `backend ${id} (missing)`} (${s.revNat}) (${i + 1})${b && b.state !== 'active' ? ` [${b.state}]` : ''}`]);
        });
      }
      out(table(['SERVICE ADDRESS', 'BACKEND ADDRESS (REVNAT_ID) (SLOT)'], rows));
    },
  },
  {
    name: 'bpf lb maglev list',
    summary: 'The Maglev lookup table of a service: how many slots each backend owns',
    args: 'SERVICE',
    minArgs: 1,
    maxArgs: 1,
    options: { namespace: { type: 'string', description: 'namespace of a service NAME (default "default")' }, json: { type: 'boolean', description: 'print JSON, with the whole table' } },
    async run({ client, args, opts, out }) {
      const r = await client.get<BpfMaglevJSON>(resourcePath('/v1/bpf/lb/maglev', args[0], opts.namespace));
      if (opts.json) return out(json(r));
      const lb = await client.get<BpfLbJSON>('/v1/bpf/lb');
      const backends = new Map(lb.backends.map((b) => [String(b.id), b]));
      for (const f of r.frontends) {
        if (!f.size) {
          out(`${f.frontend} (ID ${f.revNat}): no Maglev table\n`);
          continue;
        }
        out(`${f.frontend} (ID ${f.revNat}): ${f.size} slots\n`);
        const rows = Object.entries(f.counts)
          .sort(([a], [b]) => Number(a) - Number(b))
          .map(([id, n]) => {
            const b = backends.get(id);
            return [id === '0' ? '-' : id, id === '0' ? '(empty)' : b ? `${b.address}:${b.port}/${b.protocol}` : '?', String(n), `${((100 * n) / f.size).toFixed(1)}%`];
          });
        out(table(['BACKEND ID', 'ADDRESS', 'SLOTS', 'SHARE'], rows));
      }
    },
  },
];
