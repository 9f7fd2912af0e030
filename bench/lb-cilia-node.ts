// The Cilia side of the load-balancing benchmark: a real cilia-agent (bench/lib/agent.ts: isolated like
// test/lib/agent.ts's, logging at info as a user's agent does) with socket LB attached to a cgroup of
// our own and per-packet LB on, backend endpoints running the one-byte server, client endpoints made
// on demand, and the timed API calls that program services.
// A client process inside the cgroup is load-balanced at connect() (socket LB: what pods get by
// default, since the default --cgroup-root is the whole hierarchy); a client outside it is
// load-balanced per packet in cil_from_container.

import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { EndpointJSON } from '../pkg/api/index.js';
import { createCgroup, findCgroup2Mount, removeCgroup } from '../pkg/bpf/index.js';
import type { ServiceUpsertRequest } from '../cells/service-lb/types.js';
import { type BenchAgent, startBenchAgent } from './lib/agent.js';
import { startServer } from './lb-connect.js';
import { BENCH_NAMESPACE, TARGET_PORT } from './lb-manifest.js';

/** The running agent with its endpoints. */
export interface CiliaNode {
  readonly agent: BenchAgent;
  /** The cgroup socket LB is attached to. */
  readonly cgroup: string;
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
  /**
   * A new client endpoint `bl/<name>` (netns `bl-<name>`). Each (path, target) of a size gets its own:
   * see newClient's note in lb-scale.ts on TIME_WAIT collisions.
   */
  newClient(name: string): Promise<EndpointJSON>;
  /** Deletes an endpoint made by newClient. */
  deleteClient(name: string): Promise<void>;
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
 * `<cgroup2>/cilia-bench-bl-<pid>`, creates the backend endpoints `bl/b1`… (netns `bl-b1`…) and
 * starts the one-byte server on port 8080 in each.
 * @throws Error if the agent does not start or an endpoint cannot be made (everything made is removed).
 */
export async function startCiliaNode(podCidr: string, backendCount: number): Promise<CiliaNode> {
  const mount = findCgroup2Mount();
  if (mount === undefined) throw new Error('no cgroup v2 hierarchy is mounted: socket LB cannot be measured');
  const cgroup = path.join(mount, `cilia-bench-bl-${process.pid}`);
  createCgroup(cgroup);
  const servers: ChildProcess[] = [];
  let agent: BenchAgent | undefined;
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
    agent = await startBenchAgent('bl', podCidr, { prefix: 'bl', args: ['--enable-socket-lb=true', `--cgroup-root=${cgroup}`, '--enable-packet-lb=true'] });
    const a = agent;
    const create = (name: string): Promise<EndpointJSON> => a.client.put<EndpointJSON>('/v1/endpoint', { name, namespace: BENCH_NAMESPACE });
    const backends: EndpointJSON[] = [];
    for (let i = 1; i <= backendCount; i++) backends.push(await create(`b${i}`));
    for (const [i, b] of backends.entries()) servers.push(await startServer({ netns: b.netns }, TARGET_PORT, String(i + 1)));
    return {
      agent: a,
      cgroup,
      backends,
      apply: (text, contentType) => timed(() => a.client.request('PUT', '/v1/apply?wait=true', undefined, text, contentType)),
      deleteManifest: (text) => timed(() => a.client.request('POST', '/v1/apply/delete?wait=true', undefined, text, 'application/yaml')),
      upsert: (request) => timed(() => a.client.put('/v1/service', request)),
      deleteService: async (name) => {
        await a.client.delete(`/v1/service/${encodeURIComponent(name)}?namespace=${BENCH_NAMESPACE}`);
      },
      newClient: (name) => create(name),
      deleteClient: async (name) => {
        await a.client.delete(`/v1/endpoint/${encodeURIComponent(name)}?namespace=${BENCH_NAMESPACE}`);
      },
      serviceCount: async () => (await a.client.get<unknown[]>('/v1/service')).length,
      cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
