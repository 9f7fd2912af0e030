// An agent extension for the policy benchmarks: CPU profiles of the agent on request, so that a
// benchmark profiles exactly its measured phase. Load with
// `--extra-modules=dist/bench/policy-profiler.js`; then
//   POST /v1/bench/profile/start?intervalUs=200   starts the V8 sampling profiler
//   POST /v1/bench/profile/stop?file=/abs/x.cpuprofile   stops it and writes the profile there
//
// Why not `node --cpu-prof`: the profiler's SIGPROF interrupts the BPF verifier, which gives up with
// EAGAIN when a signal is pending, so the agent cannot load its programs under it.

import inspector from 'node:inspector';
import fs from 'node:fs';
import { badRequest } from '../pkg/api/index.js';
import { module, provideInto } from '../pkg/hive/index.js';
import { IApiRoutes, route } from '../cells/api-server/types.js';

function post<T>(session: inspector.Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as T))));
}

/** The bench-profiler module (see the file comment). */
export const BenchProfilerCell = module(
  'bench-profiler',
  'CPU profiles of the agent on request, for benchmarks',
  provideInto(IApiRoutes, {
    deps: [],
    factory: () => {
      let session: inspector.Session | undefined;
      return [
        route('POST', '/v1/bench/profile/start', 'Start the CPU profiler (?intervalUs=, default 200)', async (req) => {
          if (session) throw badRequest('the profiler is already running');
          session = new inspector.Session();
          session.connect();
          await post(session, 'Profiler.enable');
          await post(session, 'Profiler.setSamplingInterval', { interval: Number(req.query.get('intervalUs') ?? 200) });
          await post(session, 'Profiler.start');
          return { started: true };
        }),
        route('POST', '/v1/bench/profile/stop', 'Stop the CPU profiler and write the profile to ?file=', async (req) => {
          const file = req.query.get('file');
          if (!file?.startsWith('/')) throw badRequest('file must be an absolute path', 'file');
          if (!session) throw badRequest('the profiler is not running');
          const { profile } = await post<{ profile: object }>(session, 'Profiler.stop');
          session.disconnect();
          session = undefined;
          fs.writeFileSync(file, JSON.stringify(profile));
          return { file };
        }),
      ];
    },
  }),
);
