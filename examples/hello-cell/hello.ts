// Example: extending the agent without editing Cilia.
//
// Build (npm run build), then run the agent with this module:
//   cilia-agent --extra-modules=dist/examples/hello-cell/hello.js --hello-greeting=Hi
//   curl --unix-socket /var/run/cilia/cilia.sock http://agent/v1/hello
//
// The module joins the hive like a built-in one: its flag shows in `cilia-agent --help`, its hooks
// run in the lifecycle, its health appears in `cilia status`, its timer job stops with the agent, and
// its route is served by the agent's API. Import Cilia's packages from the same installation as the
// agent (tokens are compared by identity).

import { type Health, IHealth, IJobGroup, ILifecycle, ILogger, type JobGroup, type Lifecycle, type Logger, config, module, provide, provideInto, timer, token } from '../../pkg/hive/index.js';
import { IApiRoutes, route } from '../../cells/api-server/types.js';

interface HelloConfig {
  readonly helloGreeting: string;
  readonly helloIntervalMs: number;
}
const IHelloConfig = token<Readonly<HelloConfig>>('HelloConfig');

/** Counts how often it was greeted and how often its timer ticked. */
class Greeter {
  greeted = 0;
  ticks = 0;
  constructor(readonly greeting: string) {}
  greet(name: string): string {
    this.greeted++;
    return `${this.greeting}, ${name}!`;
  }
}
const IGreeter = token<Greeter>('Greeter');

export const HelloCell = module(
  'hello',
  'Example extension: greets over the API',
  config(IHelloConfig, {
    helloGreeting: { doc: 'What the hello module says', format: String, default: 'Hello' },
    helloIntervalMs: { doc: 'How often the hello timer ticks', format: 'nat', default: 1000 },
  }),
  provide({
    provides: IGreeter,
    deps: [IHelloConfig, ILifecycle, ILogger, IHealth, IJobGroup],
    factory: (cfg, lc: Lifecycle, log: Logger, health: Health, jobs: JobGroup) => {
      const g = new Greeter(cfg.helloGreeting);
      lc.append({
        name: 'hello',
        onStart: () => {
          log.info('hello module started', { greeting: cfg.helloGreeting });
          health.ok(`ready to say ${cfg.helloGreeting}`);
        },
        onStop: () => log.info('hello module stopped', { greeted: g.greeted }),
      });
      jobs.add(timer('hello-tick', async () => void g.ticks++, Math.max(1, cfg.helloIntervalMs)));
      return g;
    },
  }),
  provideInto(IApiRoutes, {
    deps: [IGreeter],
    factory: (g) => [route('GET', '/v1/hello', 'Greets (example extension)', (req) => ({ message: g.greet(req.query.get('name') ?? 'world'), greeted: g.greeted, ticks: g.ticks }))],
  }),
);
