// What the policy benchmarks (bench/policy-*.ts) share beyond bench/lib: their agent's prefix and pod
// range, and endpoints created in bulk through the API.
//
// Isolation (test/lib/ranges.md): prefix `tqb` and pods in 10.244.24.0/22, inside the policy tests'
// range rather than the benchmarks' `bn`: an agent with veth prefix `bn` prunes every `bn…` veth, so
// another benchmark running at the same time would take our endpoints down.

import { type ApiClient, type EndpointCreateRequest, type EndpointJSON } from '../pkg/api/index.js';
import { type BenchAgent, type BenchAgentOptions, startBenchAgent } from './lib/agent.js';

/** Host device and veth prefix of the policy benchmarks' agent. */
export const BENCH_PREFIX = 'tqb';
/** Their pod CIDR: room for 1,000 endpoints and the probe pods. */
export const BENCH_POD_CIDR = '10.244.24.0/22';

/** An agent with the policy benchmarks' prefix and pod range (see startBenchAgent). */
export function startPolicyBenchAgent(name: string, opts: Omit<BenchAgentOptions, 'prefix'> = {}): Promise<BenchAgent> {
  return startBenchAgent(name, BENCH_POD_CIDR, { ...opts, prefix: BENCH_PREFIX });
}

/** Creates endpoints through the API, `concurrency` at a time; returns them in request order. */
export async function createEndpoints(client: ApiClient, requests: readonly EndpointCreateRequest[], concurrency = 4, progress?: (done: number) => void): Promise<EndpointJSON[]> {
  const out = new Array<EndpointJSON>(requests.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < requests.length) {
      const i = next++;
      out[i] = await client.put<EndpointJSON>('/v1/endpoint', requests[i]);
      if (++done % 100 === 0) progress?.(done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}
