// `cilia policy …`, `cilia apply` and `cilia delete`.

import { type Command, UsageError, json, table } from './command.js';
import { list, readInput } from './files.js';

interface ApplyResult {
  objects: { kind: string; namespace: string; name: string }[];
  revision?: number;
}

function describe(o: { kind: string; namespace: string; name: string }): string {
  return `${o.kind}/${o.namespace ? o.namespace + '/' : ''}${o.name}`;
}

const waitOpt = { type: 'boolean' as const, description: 'return only once the datapath enforces the change' };
const nsOpt = { type: 'string' as const, short: 'n', description: 'namespace of objects that name none (default "default")' };

function q(opts: Record<string, unknown>): string {
  const p = new URLSearchParams();
  if (opts.wait) p.set('wait', 'true');
  if (typeof opts.namespace === 'string') p.set('namespace', opts.namespace);
  const s = p.toString();
  return s ? `?${s}` : '';
}

export const policyCommands: Command[] = [
  {
    name: 'apply',
    summary: 'Apply Kubernetes-style objects (Namespace, NetworkPolicy, CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, Service, EndpointSlice)',
    maxArgs: 0,
    options: { filename: { type: 'string', short: 'f', multiple: true, description: 'manifest file, or - for stdin (repeatable)' }, wait: waitOpt, namespace: nsOpt },
    async run({ client, opts, out, stdin }) {
      const files = list(opts.filename);
      if (!files.length) throw new UsageError('-f FILE|- is required');
      for (const f of files) {
        const text = await readInput(f, stdin);
        const r = await client.request<ApplyResult>('PUT', `/v1/apply${q(opts)}`, undefined, text, 'application/yaml');
        // One write for all the lines (20,000 objects are 20,000 lines).
        out(r.objects.map((o) => `${describe(o)} applied\n`).join(''));
      }
    },
  },
  {
    name: 'delete',
    summary: 'Delete the objects a manifest names',
    maxArgs: 0,
    options: { filename: { type: 'string', short: 'f', multiple: true, description: 'manifest file, or - for stdin (repeatable)' }, wait: waitOpt, namespace: nsOpt },
    async run({ client, opts, out, stdin }) {
      const files = list(opts.filename);
      if (!files.length) throw new UsageError('-f FILE|- is required');
      for (const f of files) {
        const text = await readInput(f, stdin);
        const r = await client.request<ApplyResult>('POST', `/v1/apply/delete${q(opts)}`, undefined, text, 'application/yaml');
        out(r.objects.map((o) => `${describe(o)} deleted\n`).join(''));
      }
    },
  },
  {
    name: 'policy import',
    summary: 'Import policies from a file or stdin (YAML or JSON, CNP/CCNP/NetworkPolicy or Cilium rules); prints the new revision',
    args: 'FILE|-',
    minArgs: 1,
    maxArgs: 1,
    options: { wait: waitOpt, namespace: nsOpt },
    async run({ client, args, opts, out, stdin }) {
      const text = await readInput(args[0], stdin);
      const r = await client.request<ApplyResult>('PUT', `/v1/policy${q(opts)}`, undefined, text, 'application/yaml');
      out(`Revision: ${r.revision}\n`);
    },
  },
  {
    name: 'policy validate',
    summary: 'Check policies without applying them',
    args: 'FILE|-',
    minArgs: 1,
    maxArgs: 1,
    options: { namespace: nsOpt },
    async run({ client, args, opts, out, stdin }) {
      const text = await readInput(args[0], stdin);
      const r = await client.request<ApplyResult>('POST', `/v1/policy/validate${q(opts)}`, undefined, text, 'application/yaml');
      out(`All policies are valid (${r.objects.map(describe).join(', ')})\n`);
    },
  },
  {
    name: 'policy get',
    summary: 'List the policies in force and the revision',
    maxArgs: 0,
    options: { json: { type: 'boolean', description: 'print JSON' } },
    async run({ client, opts, out }) {
      const r = await client.get<{ revision: number; mode: string; policies: { kind: string; namespace: string; name: string; rules: number }[] }>('/v1/policy');
      if (opts.json) return out(json(r));
      out(table(['KIND', 'NAMESPACE', 'NAME', 'RULES'], r.policies.map((p) => [p.kind, p.namespace || '-', p.name || '-', String(p.rules)])));
      out(`Revision: ${r.revision} (enforcement: ${r.mode})\n`);
    },
  },
  {
    name: 'policy delete',
    summary: 'Delete a policy by name, or all of them',
    args: '[NAME]',
    maxArgs: 1,
    options: { all: { type: 'boolean', description: 'delete every policy' }, kind: { type: 'string', description: 'only this kind' }, namespace: nsOpt, wait: waitOpt },
    async run({ client, args, opts, out }) {
      const p = new URLSearchParams();
      if (opts.all) p.set('all', 'true');
      else if (args[0]) p.set('name', args[0]);
      else throw new UsageError('name a policy or pass --all');
      if (typeof opts.kind === 'string') p.set('kind', opts.kind);
      if (typeof opts.namespace === 'string') p.set('namespace', opts.namespace);
      if (opts.wait) p.set('wait', 'true');
      const r = await client.delete<{ revision: number; deleted: { kind: string; namespace: string; name: string }[] }>(`/v1/policy?${p.toString()}`);
      out(`Deleted ${r.deleted.map(describe).join(', ') || 'nothing'}\nRevision: ${r.revision}\n`);
    },
  },
  {
    name: 'policy trace',
    summary: 'Explain whether traffic between two label sets is allowed, and which rule decided',
    maxArgs: 0,
    options: {
      'src-labels': { type: 'string', short: 's', multiple: true, description: 'source labels (k=v pod labels, or source-prefixed like reserved:host)' },
      'dst-labels': { type: 'string', short: 'd', multiple: true, description: 'destination labels' },
      'src-namespace': { type: 'string', description: 'namespace of the source pod labels (default "default")' },
      'dst-namespace': { type: 'string', description: 'namespace of the destination pod labels (default "default")' },
      dport: { type: 'string', description: 'destination port and protocol, e.g. 80/tcp' },
      json: { type: 'boolean', description: 'print JSON' },
    },
    async run({ client, opts, out }) {
      const src = list(opts['src-labels']).flatMap((s) => s.split(','));
      const dst = list(opts['dst-labels']).flatMap((s) => s.split(','));
      if (!src.length || !dst.length) throw new UsageError('--src-labels and --dst-labels are required');
      if (typeof opts.dport !== 'string') throw new UsageError('--dport PORT/PROTO is required');
      const p = new URLSearchParams();
      for (const s of src) p.append('src', s.trim());
      for (const d of dst) p.append('dst', d.trim());
      p.set('dport', opts.dport);
      if (typeof opts['src-namespace'] === 'string') p.set('srcNamespace', opts['src-namespace']);
      if (typeof opts['dst-namespace'] === 'string') p.set('dstNamespace', opts['dst-namespace']);
      const r = await client.get<{ text?: string; verdict?: string; allowed?: boolean }>(`/v1/policy/trace?${p.toString()}`);
      if (opts.json) return out(json(r));
      out(typeof r.text === 'string' ? r.text.endsWith('\n') ? r.text : r.text + '\n' : json(r));
    },
  },
];
