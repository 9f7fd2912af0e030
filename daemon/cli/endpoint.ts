// `cilia endpoint …` and `cilia identity …`.

import type { EndpointJSON } from '../../pkg/api/index.js';
import { type Command, UsageError, json, resourcePath, table } from './command.js';
import { list, parseLabelList } from './files.js';

interface IdentityJSON {
  id: number;
  labels: string[];
  kind: string;
  refs: number;
}

function enforcement(e: EndpointJSON): [string, string] {
  if (!e.policy) return ['-', '-'];
  return [e.policy.ingressEnforced ? 'Enabled' : 'Disabled', e.policy.egressEnforced ? 'Enabled' : 'Disabled'];
}

export const endpointCommands: Command[] = [
  {
    name: 'endpoint create',
    summary: 'Create an endpoint in a new network namespace (the same path as CNI ADD); prints it as JSON',
    maxArgs: 0,
    options: {
      name: { type: 'string', description: 'pod name (required)' },
      namespace: { type: 'string', description: 'pod namespace (default "default")' },
      labels: { type: 'string', multiple: true, description: 'pod labels, k=v[,k=v…]' },
      port: { type: 'string', multiple: true, description: 'a named port, NAME=PORT[/TCP|UDP|SCTP]' },
      netns: { type: 'string', description: 'use this existing network namespace (name under /run/netns or a path)' },
    },
    async run({ client, opts, out }) {
      if (typeof opts.name !== 'string') throw new UsageError('--name is required');
      const ep = await client.put<EndpointJSON>('/v1/endpoint', {
        name: opts.name,
        namespace: opts.namespace,
        labels: parseLabelList(list(opts.labels)),
        namedPorts: list(opts.port),
        netns: opts.netns,
      });
      out(json(ep));
    },
  },
  {
    name: 'endpoint list',
    summary: 'List endpoints',
    maxArgs: 0,
    options: { json: { type: 'boolean', description: 'print JSON' } },
    async run({ client, opts, out }) {
      const eps = await client.get<EndpointJSON[]>('/v1/endpoint');
      if (opts.json) return out(json(eps));
      out(
        table(
          ['ENDPOINT', 'POLICY (ingress)', 'POLICY (egress)', 'IDENTITY', 'LABELS', 'IPv4', 'STATUS'],
          eps.map((e) => {
            const [i, o] = enforcement(e);
            return [String(e.id), i, o, String(e.identity), `${e.namespace}/${e.name} ${Object.entries(e.labels).map(([k, v]) => `${k}=${v}`).join(',')}`.trim(), e.ipv4, e.state];
          }),
        ),
      );
    },
  },
  {
    name: 'endpoint get',
    summary: 'Show one endpoint (by id, NAME or NAMESPACE/NAME) as JSON, with the policy revision it enforces',
    args: 'NAME|ID',
    minArgs: 1,
    maxArgs: 1,
    options: { namespace: { type: 'string', description: 'namespace of NAME (default "default")' }, json: { type: 'boolean', description: 'print JSON (the default)' } },
    async run({ client, args, opts, out }) {
      out(json(await client.get<EndpointJSON>(resourcePath('/v1/endpoint', args[0], opts.namespace))));
    },
  },
  {
    name: 'endpoint delete',
    summary: 'Delete an endpoint (its veth, address, map entries, identity reference; its netns if the agent created it)',
    args: 'NAME|ID',
    minArgs: 1,
    maxArgs: 1,
    options: { namespace: { type: 'string', description: 'namespace of NAME (default "default")' } },
    async run({ client, args, opts, out }) {
      await client.delete(resourcePath('/v1/endpoint', args[0], opts.namespace));
      out(`endpoint ${args[0]} deleted\n`);
    },
  },
  {
    name: 'endpoint labels',
    summary: 'Add or delete pod labels of an endpoint (its identity and its peers\' policy follow)',
    args: 'NAME|ID',
    minArgs: 1,
    maxArgs: 1,
    options: {
      add: { type: 'string', multiple: true, description: 'label to add or change, k=v' },
      delete: { type: 'string', multiple: true, description: 'label key to remove' },
      namespace: { type: 'string', description: 'namespace of NAME (default "default")' },
      json: { type: 'boolean', description: 'print the endpoint as JSON' },
    },
    async run({ client, args, opts, out }) {
      const add = parseLabelList(list(opts.add));
      const del = list(opts.delete);
      if (!Object.keys(add).length && !del.length) throw new UsageError('nothing to do: pass --add k=v and/or --delete k');
      const ep = await client.patch<EndpointJSON>(resourcePath('/v1/endpoint', args[0], opts.namespace, '/labels'), { add, delete: del });
      if (opts.json) return out(json(ep));
      out(`endpoint ${ep.id}: labels ${Object.entries(ep.labels).map(([k, v]) => `${k}=${v}`).join(',') || '(none)'}, identity ${ep.identity}\n`);
    },
  },
  {
    name: 'identity list',
    summary: 'List security identities (reserved, endpoint and CIDR)',
    maxArgs: 0,
    options: { json: { type: 'boolean', description: 'print JSON' } },
    async run({ client, opts, out }) {
      const ids = await client.get<IdentityJSON[]>('/v1/identity');
      if (opts.json) return out(json(ids));
      out(table(['ID', 'KIND', 'LABELS'], ids.map((i) => [String(i.id), i.kind, i.labels.join(',')])));
    },
  },
  {
    name: 'identity get',
    summary: 'Show one identity',
    args: 'ID',
    minArgs: 1,
    maxArgs: 1,
    options: { json: { type: 'boolean', description: 'print JSON' } },
    async run({ client, args, opts, out }) {
      const i = await client.get<IdentityJSON>(`/v1/identity/${encodeURIComponent(args[0])}`);
      if (opts.json) return out(json(i));
      out(table(['ID', 'KIND', 'REFS', 'LABELS'], [[String(i.id), i.kind, i.refs < 0 ? '-' : String(i.refs), i.labels.join(',')]]));
    },
  },
];
