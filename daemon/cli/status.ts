// `cilia status` and `cilia statedb`: the agent's state and its tables.

import type { HealthNode, StateDBTableDump, StateDBTableInfo, StatusResponse } from '../../pkg/api/index.js';
import { type Command, json, table } from './command.js';

function duration(s: number): string {
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return [d ? `${d}d` : '', h ? `${h}h` : '', m ? `${m}m` : '', `${sec}s`].filter(Boolean).join('');
}

function healthLines(n: HealthNode, prefix: string, last: boolean, depth: number, out: string[]): void {
  const branch = depth === 0 ? '' : prefix + (last ? '└─ ' : '├─ ');
  const msg = n.message ? `  ${n.message}` : '';
  const err = n.error ? ` (${n.error})` : '';
  out.push(`${branch}${n.name}`.padEnd(48) + ` ${n.level}${msg}${err}`);
  const childPrefix = depth === 0 ? '' : prefix + (last ? '   ' : '│  ');
  n.children.forEach((c, i) => healthLines(c, childPrefix, i === n.children.length - 1, depth + 1, out));
}

export const statusCommands: Command[] = [
  {
    name: 'status',
    summary: 'Show the agent state: overall health, versions, uptime, what cells report, and the module health tree',
    maxArgs: 0,
    options: {
      json: { type: 'boolean', description: 'print the raw status as JSON' },
      brief: { type: 'boolean', description: 'one line: OK, or the first problem' },
    },
    async run({ client, opts, out }) {
      const s = await client.get<StatusResponse>('/v1/status');
      if (opts.json) return out(json(s));
      if (opts.brief) {
        out(s.cilia.state === 'Ok' ? 'OK\n' : `${s.cilia.state}: ${s.cilia.message}\n`);
        return s.cilia.state === 'Failure' ? 1 : 0;
      }
      const lines = [
        `Cilia:          ${s.cilia.state}   ${s.cilia.message}`,
        `Version:        ${s.version} (node ${s.node.versions.node}, kernel ${s.node.versions.kernel})`,
        `Uptime:         ${duration(s.uptimeSeconds)} (since ${s.startedAt})`,
        ...s.lines.map((l) => `${(l.name + ':').padEnd(16)}${l.state === 'Ok' ? '' : l.state + '  '}${l.message}`),
        'Modules Health:',
      ];
      const tree: string[] = [];
      healthLines(s.health, '', true, 0, tree);
      out([...lines, ...tree.map((l) => '  ' + l)].join('\n') + '\n');
      return s.cilia.state === 'Failure' ? 1 : 0;
    },
  },
  {
    name: 'statedb',
    summary: 'List the StateDB tables, or dump one table',
    args: '[TABLE]',
    maxArgs: 1,
    options: { json: { type: 'boolean', description: 'print objects as JSON' } },
    async run({ client, args, opts, out }) {
      if (!args[0]) {
        const tables = await client.get<StateDBTableInfo[]>('/v1/statedb');
        if (opts.json) return out(json(tables));
        return out(table(['TABLE', 'OBJECTS', 'REVISION', 'INITIALIZED'], tables.map((t) => [t.name, String(t.objects), String(t.revision), t.initialized ? 'yes' : `no (${t.pendingInitializers.join(', ')})`])));
      }
      const dump = await client.get<StateDBTableDump>(`/v1/statedb/${encodeURIComponent(args[0])}`);
      if (opts.json) return out(json(dump.objects.map((o) => o.object)));
      out(table(dump.header, dump.rows));
    },
  },
];
