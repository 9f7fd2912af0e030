// The Cilia side of the load-balancing benchmark: a real cilia-agent (dist/daemon/agent.js, isolated
// like test/lib/agent.ts's but logging at info as a user's agent does) with socket LB attached to a
// cgroup of our own and per-packet LB on, one client endpoint and backend endpoints running the
// one-byte server, and the timed API calls that program services.
// A client process inside the cgroup is load-balanced at connect() (socket LB: what pods get by
// default, since the default --cgroup-root is the whole hierarchy); the same client outside it is
// load-balanced per packet in cil_from_container.

import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiClient, type EndpointJSON } from '../pkg/api/index.js';
import { createCgroup, findCgroup2Mount, removeCgroup } from '../pkg/bpf/index.js';
import type { ServiceUpsertRequest } from '../cells/service-lb/types.js';
import { AGENT_JS, removeLinks, removeNetns } from '../test/lib/agent.js';
import { startServer } from './lb-connect.js';
import { BENCH_NAMESPACE, TARGET_PORT } from './lb-manifest.js';

/** Link and netns prefix of everything this side makes. */
const PREFIX = 'bl';

/** A running agent process. */
export interface LbAgent {
  readonly dir: string;
  readonly proc: ChildProcess;
  readonly client: ApiClient;
  /** Its JSON log so far (kept in `<dir>/agent.log`). */
  logs(): string;
  /** Stops it; removes its endpoints' netns, the `bl` links, its directory and bpffs root. */
  cleanup(): Promise<void>;
}

async function waitReady(agent: LbAgent, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (agent.proc.exitCode !== null) throw new Error(`agent exited with ${agent.proc.exitCode} before it was ready:\n${agent.logs()}`);
    try {
      await agent.client.get('/v1/healthz');
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`agent not ready after ${timeoutMs} ms:\n${agent.logs()}`);
}

/**
 * Starts cilia-agent with its own socket, state dir, bpffs root (`/sys/fs/bpf/cilia-bench-bl-*`),
 * host device `blh`/`bln`, veth prefix `bl` and pod CIDR, at log level info, plus `args`.
 * @throws Error (after cleaning up) if its API does not answer within 30 s.
 */
async function startLbAgent(podCidr: string, args: readonly string[]): Promise<LbAgent> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cilia-bench-${PREFIX}-`));
  const socket = path.join(dir, 'cilia.sock');
  const bpfRoot = `/sys/fs/bpf/cilia-bench-${path.basename(dir)}`;
  const logFile = path.join(dir, 'agent.log');
  const log = fs.openSync(logFile, 'a');
  const proc = spawn(
    process.execPath,
    [
      AGENT_JS,
      `--api-socket=${socket}`,
      `--state-dir=${path.join(dir, 'state')}`,
      `--bpf-root=${bpfRoot}`,
      '--log-level=info',
      `--pod-cidr=${podCidr}`,
      `--host-device=${PREFIX}h`,
      `--host-device-peer=${PREFIX}n`,
      `--endpoint-ifname-prefix=${PREFIX}`,
      ...args,
    ],
    { stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  const agent: LbAgent = {
    dir,
    proc,
    client: new ApiClient(socket, 600_000),
    logs: () => fs.readFileSync(logFile, 'utf8'),
    async cleanup() {
      const netns = new Set<string>();
      try {
        for (const e of await agent.client.get<EndpointJSON[]>('/v1/endpoint')) netns.add(e.netnsPath);
      } catch {
        /* not running */
      }
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      for (const ns of netns) removeNetns(ns);
      removeLinks(PREFIX);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(bpfRoot, { recursive: true, force: true });
    },
  };
  try {
    await waitReady(agent, 30_000);
  } catch (err) {
    await agent.cleanup();
    throw err;
  }
  return agent;
}

/** The running agent with its endpoints. */
export interface CiliaNode {
  readonly agent: LbAgent;
  /** The agent's process id. */
  readonly agentPid: number;
  /** The cgroup socket LB is attached to. */
  readonly cgroup: string;
  readonly client: EndpointJSON;
  readonly backends: readonly EndpointJSON[];
  /**
   * `PUT /v1/apply?wait=true` of `text`: ms from the call until the response (sent once the LB maps hold
   * every service). @throws ApiClientError if the agent refuses the manifest.
   */
  apply(text: string, contentType: 'application/yaml' | 'application/json'): Promise<number>;
  /** `POST /v1/apply/delete?wait=true` of `text`: ms until the maps no longer hold the services. */
  deleteManifest(text: string): Promise<number>;
  /** `PUT /v1/service`: ms until the response (sent once the maps hold the service). */
  upsert(request: ServiceUpsertRequest): Promise<number>;
  /** `DELETE /v1/service/<namespace>/<name>`, waiting until the maps no longer hold it. */
  deleteService(name: string): Promise<void>;
  /** How many services the agent holds. */
  serviceCount(): Promise<number>;
  /** Stops servers and agent; removes endpoints, netns, bpffs, state and the cgroup. */
  cleanup(): Promise<void>;
}

async function timed(call: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await call();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/**
 * Starts the agent (datapath prefix `bl`, pods from `podCidr`) with socket LB on
 * `<cgroup2>/cilia-bench-bl-<pid>`, creates the endpoints `bl/client` and `bl/b1`… (netns `bl-client`,
 * `bl-b1`…) and starts the one-byte server on port 8080 in each backend.
 * @throws Error if the agent does not start or an endpoint cannot be made (everything made is removed).
 */
export async function startCiliaNode(podCidr: string, backendCount: number): Promise<CiliaNode> {
  const mount = findCgroup2Mount();
  if (mount === undefined) throw new Error('no cgroup v2 hierarchy is mounted: socket LB cannot be measured');
  const cgroup = path.join(mount, `cilia-bench-bl-${process.pid}`);
  createCgroup(cgroup);
  const servers: ChildProcess[] = [];
  let agent: LbAgent | undefined;
  const cleanup = async (): Promise<void> => {
    for (const s of servers) s.kill('SIGKILL');
    await agent?.cleanup();
    // The cgroup can go once the processes in it (clients, killed) have left it.
    for (let i = 0; i < 50; i++) {
      try {
        removeCgroup(cgroup);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  try {
    agent = await startLbAgent(podCidr, ['--enable-socket-lb=true', `--cgroup-root=${cgroup}`, '--enable-packet-lb=true']);
    const a = agent;
    const create = (name: string): Promise<EndpointJSON> => a.client.put<EndpointJSON>('/v1/endpoint', { name, namespace: BENCH_NAMESPACE });
    const client = await create('client');
    const backends: EndpointJSON[] = [];
    for (let i = 1; i <= backendCount; i++) backends.push(await create(`b${i}`));
    for (const [i, b] of backends.entries()) servers.push(await startServer({ netns: b.netns }, TARGET_PORT, String(i + 1)));
    return {
      agent: a,
      agentPid: a.proc.pid!,
      cgroup,
      client,
      backends,
      apply: (text, contentType) => timed(() => a.client.request('PUT', '/v1/apply?wait=true', undefined, text, contentType)),
      deleteManifest: (text) => timed(() => a.client.request('POST', '/v1/apply/delete?wait=true', undefined, text, 'application/yaml')),
      upsert: (request) => timed(() => a.client.put('/v1/service', request)),
      deleteService: async (name) => {
        await a.client.delete(`/v1/service/${encodeURIComponent(name)}?namespace=${BENCH_NAMESPACE}`);
      },
      serviceCount: async () => (await a.client.get<unknown[]>('/v1/service')).length,
      cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
