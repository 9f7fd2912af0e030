// `cilia bpf …` (the BPF maps as the datapath sees them), `cilia monitor` and `cilia config`.

import { type Command, UsageError, json, table } from './command.js';
import { list } from './files.js';

interface LxcEntry {
  key: { addr_or_ifindex: number; kind: number };
  value: { ifindex: number; lxc_id: number; flags: number; sec_id: number; ipv4: string; mac: string; node_mac: string; policy_rev: number };
}
interface CtEntry {
  proto: string;
  direction: string;
  source: string;
  destination: string;
  expiresIn: number;
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
  revNatIndex: number;
  sourceIdentity: number;
  backend?: string;
}

export const bpfCommands: Command[] = [
  {
    name: 'bpf endpoint list',
    summary: 'Entries of cilia_lxc: local endpoints by IP and by ifindex',
    maxArgs: 0,
    options: { json: { type: 'boolean', description: 'print JSON' } },
    async run({ client, opts, out }) {
      const entries = await client.get<LxcEntry[]>('/v1/bpf/endpoints');
      if (opts.json) return out(json(entries));
      const byEp = entries.filter((e) => e.key.kind === 1);
      out(
        table(
          ['IP ADDRESS', 'LOCAL ENDPOINT INFO'],
          byEp.map((e) => [`${e.value.ipv4}:0`, `id=${e.value.lxc_id} sec_id=${e.value.sec_id} flags=0x${e.value.flags.toString(16)} ifindex=${e.value.ifindex} mac=${e.value.mac} nodemac=${e.value.node_mac} policy_rev=${e.value.policy_rev}`]),
        ),
      );
    },
  },
  {
    name: 'bpf ipcache list',
    summary: 'Entries of cilia_ipcache: prefix → identity (and CIDR identity)',
    maxArgs: 0,
    options: { json: { type: 'boolean', description: 'print JSON' } },
    async run({ client, opts, out }) {
      const entries = await client.get<{ prefix: string; sec_identity: number; cidr_identity: number; tunnel_endpoint: string; flags: number }[]>('/v1/bpf/ipcache');
      if (opts.json) return out(json(entries));
      out(table(['IP PREFIX/ADDRESS', 'IDENTITY'], entries.map((e) => [e.prefix, `identity=${e.sec_identity} cidr_identity=${e.cidr_identity} tunnelendpoint=${e.tunnel_endpoint} flags=${e.flags ? e.flags : '<none>'}`])));
    },
  },
  {
    name: 'bpf ct list',
    summary: 'Conntrack entries (scope: global)',
    args: 'global',
    minArgs: 1,
    maxArgs: 1,
    options: { json: { type: 'boolean', description: 'print JSON' } },
    async run({ client, args, opts, out }) {
      const entries = await client.get<CtEntry[]>(`/v1/bpf/ct/${encodeURIComponent(args[0])}`);
      if (opts.json) return out(json(entries));
      out(
        entries
          .map((e) => `${e.proto} ${e.direction} ${e.source} -> ${e.destination} expires=${e.expiresIn} TxPackets=${e.txPackets} TxBytes=${e.txBytes} RxPackets=${e.rxPackets} RxBytes=${e.rxBytes} RevNAT=${e.revNatIndex} SourceSecurityID=${e.sourceIdentity}${e.backend ? ` Backend=${e.backend}` : ''}`)
          .join('\n') + (entries.length ? '\n' : ''),
      );
    },
  },
  {
    name: 'bpf ct flush',
    summary: 'Remove every conntrack entry (scope: global, the default)',
    args: '[global]',
    maxArgs: 1,
    async run({ client, args, out }) {
      const r = await client.delete<{ flushed: number }>(`/v1/bpf/ct/${encodeURIComponent(args[0] ?? 'global')}`);
      out(`Flushed ${r.flushed} entries from cilia_ct4\n`);
    },
  },
  {
    name: 'bpf metrics list',
    summary: 'Datapath counters: forwarded and dropped packets and bytes, by reason and direction',
    maxArgs: 0,
    options: { json: { type: 'boolean', description: 'print JSON' } },
    async run({ client, opts, out }) {
      const rows = await client.get<{ reason: number; reasonName: string; direction: string; packets: string; bytes: string }[]>('/v1/bpf/metrics');
      if (opts.json) return out(json(rows));
      out(table(['REASON', 'DIRECTION', 'PACKETS', 'BYTES'], rows.map((r) => [r.reasonName, r.direction, r.packets, r.bytes])));
    },
  },
  {
    name: 'bpf policy get',
    summary: 'The policy map entries of one endpoint, as the datapath holds them',
    args: 'ENDPOINT',
    minArgs: 1,
    maxArgs: 1,
    options: { namespace: { type: 'string', description: 'namespace of a NAME (default "default")' }, json: { type: 'boolean', description: 'print JSON' } },
    async run({ client, args, opts, out }) {
      const ns = typeof opts.namespace === 'string' ? `?namespace=${encodeURIComponent(opts.namespace)}` : '';
      const r = await client.get<{ endpoint: number; policy?: { revision: number }; entries: { direction: string; identity: number; port: string; verdict: string; packets: number; bytes: number }[] }>(`/v1/bpf/policy/${encodeURIComponent(args[0])}${ns}`);
      if (opts.json) return out(json(r));
      out(`Endpoint ${r.endpoint}, policy revision ${r.policy?.revision ?? '-'}\n`);
      out(table(['POLICY', 'DIRECTION', 'IDENTITY', 'PORT/PROTO', 'PACKETS', 'BYTES'], r.entries.map((e) => [e.verdict === 'deny' ? 'Deny' : 'Allow', e.direction === 'egress' ? 'Egress' : 'Ingress', e.identity === 0 ? 'ANY' : String(e.identity), e.port, String(e.packets), String(e.bytes)])));
    },
  },
  {
    name: 'monitor',
    summary: 'Print datapath events as they happen (drops with their reason, traces, policy verdicts)',
    maxArgs: 0,
    options: {
      type: { type: 'string', short: 't', multiple: true, description: 'only events of this type: drop, trace, policy-verdict' },
      json: { type: 'boolean', short: 'j', description: 'one JSON object per event' },
    },
    async run({ client, opts, out }) {
      const types = list(opts.type);
      const q = types.map((t) => `type=${encodeURIComponent(t)}`).join('&');
      const ctl = new AbortController();
      const stop = () => ctl.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await client.stream<{ type: string | number; text: string }>(`/v1/monitor${q ? '?' + q : ''}`, (ev) => {
          if (ev.type === 'hello') {
            if (!opts.json) out(`${ev.text}\n`);
            return;
          }
          out(opts.json ? JSON.stringify(ev) + '\n' : ev.text + '\n');
        }, ctl.signal);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    },
  },
  {
    name: 'config',
    summary: 'Show runtime datapath options, or set them (OPTION=VALUE …); a change reloads the datapath atomically',
    args: '[OPTION=VALUE …]',
    options: { json: { type: 'boolean', description: 'print JSON' } },
    async run({ client, args, opts, out }) {
      if (!args.length) {
        const cfg = await client.get<Record<string, unknown>>('/v1/config');
        if (opts.json) return out(json(cfg));
        out(table(['OPTION', 'VALUE'], Object.entries(cfg).filter(([k]) => k !== 'settings').map(([k, v]) => [k, String(v)])));
        return;
      }
      const body: Record<string, string> = {};
      for (const a of args) {
        const eq = a.indexOf('=');
        if (eq <= 0) throw new UsageError(`${JSON.stringify(a)} is not OPTION=VALUE`);
        body[a.slice(0, eq)] = a.slice(eq + 1);
      }
      await client.patch('/v1/config', body);
      out('OK\n');
    },
  },
];
