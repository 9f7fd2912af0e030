import 'reflect-metadata';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Subject } from 'rxjs';
import { injectable } from 'tsyringe';
import {
  ConfigError,
  GraphError,
  type Health,
  Hive,
  IHealth,
  IJobGroup,
  ILifecycle,
  ILogger,
  IModuleId,
  IShutdowner,
  type JobGroup,
  type Lifecycle,
  type Logger,
  MemorySink,
  StartError,
  Trigger,
  config,
  decorate,
  groupToken,
  invoke,
  module,
  observer,
  oneShot,
  optional,
  provide,
  provideInto,
  providePrivate,
  timer,
  token,
} from './index.js';
import { testHive } from './hivetest/hivetest.js';

const IA = token<string>('A');
const IB = token<string>('B');
const IC = token<string>('C');

/** A cell providing `tok` whose lifecycle hooks append to `events`. */
function hooked(tok: ReturnType<typeof token<string>>, name: string, deps: ReturnType<typeof token<string>>[], events: string[], failStart = false) {
  return provide({
    provides: tok,
    deps: [ILifecycle, ...deps] as const,
    factory: (lc: Lifecycle) => {
      lc.append({
        name,
        onStart: () => {
          events.push(`start ${name}`);
          if (failStart) throw new Error(`${name} refuses to start`);
        },
        onStop: () => void events.push(`stop ${name}`),
      });
      return name;
    },
  });
}

describe('hive lifecycle', () => {
  test('starts in dependency order and stops in reverse', async () => {
    const events: string[] = [];
    // Registered in the "wrong" order on purpose: construction (and thus hook) order follows deps.
    const h = new Hive(
      [
        module('ccc', 'needs b', hooked(IC, 'c', [IB], events)),
        module('bbb', 'needs a', hooked(IB, 'b', [IA], events)),
        module('aaa', 'leaf', hooked(IA, 'a', [], events)),
        invoke('use-c', [IC], () => {}),
      ],
      { env: {}, logSink: new MemorySink() },
    );
    await h.start();
    await h.stop();
    assert.deepEqual(events, ['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
  });

  test('a failed start stops what started and names the module and hook', async () => {
    const events: string[] = [];
    const h = new Hive(
      [module('aaa', 'ok', hooked(IA, 'a', [], events)), module('bbb', 'fails', hooked(IB, 'b', [IA], events, true)), invoke('use', [IB], () => {})],
      { env: {}, logSink: new MemorySink() },
    );
    await assert.rejects(h.start(), (err: unknown) => {
      assert.ok(err instanceof StartError);
      assert.match(err.message, /module bbb at hook b: b refuses to start/);
      return true;
    });
    assert.deepEqual(events, ['start a', 'start b', 'stop a']);
  });

  test('a start hook that exceeds its timeout fails with a message naming it', async () => {
    const h = new Hive(
      [
        module(
          'slow',
          'never finishes',
          invoke('hang', [ILifecycle], (lc: Lifecycle) =>
            lc.append({ name: 'hang', onStart: ({ signal }) => new Promise((_, rej) => signal.addEventListener('abort', () => rej(new Error('aborted')))) }),
          ),
        ),
      ],
      { env: {}, logSink: new MemorySink(), startTimeoutMs: 50 },
    );
    await assert.rejects(h.start(), /slow at hook hang: .*timed out after 50 ms/);
  });

  test('lazy: providers nobody invokes are never built', () => {
    let built = false;
    const h = new Hive([provide({ provides: IA, deps: [], factory: () => ((built = true), 'a') })], { env: {}, logSink: new MemorySink() });
    h.populate();
    assert.equal(built, false);
  });
});

describe('hive graph', () => {
  test('private providers are visible inside their module only', () => {
    const inside = module('owner', 'has a secret', providePrivate({ provides: IA, deps: [], factory: () => 'secret' }), provide({ provides: IB, deps: [IA], factory: (a) => `uses ${a}` }));
    // A public provider may use its module's private object...
    const ok = new Hive([inside, invoke('x', [IB], (b) => assert.equal(b, 'uses secret'))], { env: {}, logSink: new MemorySink() });
    ok.populate();
    // ...but nothing outside the module can see it.
    const bad = new Hive([inside, module('other', 'outsider', invoke('peek', [IA], () => {}))], { env: {}, logSink: new MemorySink() });
    assert.throws(() => bad.populate(), (err: unknown) => {
      assert.ok(err instanceof GraphError);
      assert.match(err.message, /missing dependency A: invoke peek \(other\) → A/);
      return true;
    });
  });

  test('a missing dependency is reported with the chain that needs it', () => {
    const h = new Hive(
      [provide({ provides: IA, deps: [IB], factory: (b) => b }), provide({ provides: IB, deps: [IC], factory: (c) => c }), invoke('start', [IA], () => {})],
      { env: {}, logSink: new MemorySink() },
    );
    assert.throws(() => h.populate(), /missing dependency C: invoke start \(root\) → A \(root\) → B \(root\) → C/);
  });

  test('a cycle is reported with its members, before anything is constructed', () => {
    let constructed = 0;
    const h = new Hive(
      [
        provide({ provides: IA, deps: [IB], factory: () => `${constructed++}` }),
        provide({ provides: IB, deps: [IC], factory: () => `${constructed++}` }),
        provide({ provides: IC, deps: [IA], factory: () => `${constructed++}` }),
        invoke('start', [IA], () => {}),
      ],
      { env: {}, logSink: new MemorySink() },
    );
    assert.throws(() => h.populate(), /dependency cycle: A → B → C → A/);
    assert.equal(constructed, 0);
  });

  test('optional dependencies resolve to undefined', () => {
    let seen: unknown = 'unset';
    new Hive([invoke('x', [optional(IA)], (a) => (seen = a))], { env: {}, logSink: new MemorySink() }).populate();
    assert.equal(seen, undefined);
  });

  test('a token provided twice is an error', () => {
    assert.throws(
      () => new Hive([module('one', 'first', provide({ provides: IA, deps: [], factory: () => '1' })), module('two', 'second', provide({ provides: IA, deps: [], factory: () => '2' }))]),
      /A is provided twice: by module one \(provide\) and module two \(provide\)/,
    );
  });

  test('value groups collect contributions from every module', () => {
    const G = groupToken<string>('Handlers');
    let got: readonly string[] = [];
    new Hive(
      [
        module('one', 'first', provideInto(G, { deps: [IModuleId], factory: (id) => `h-${id}` })),
        module('two', 'second', provideInto(G, { deps: [], factory: () => 'h-two' })),
        invoke('collect', [G], (hs) => (got = hs)),
      ],
      { env: {}, logSink: new MemorySink() },
    ).populate();
    assert.deepEqual(got, ['h-one', 'h-two']);
    // An empty group is an empty array, not a missing dependency.
    let empty: readonly string[] | undefined;
    new Hive([invoke('collect', [G], (hs) => (empty = hs))], { env: {}, logSink: new MemorySink() }).populate();
    assert.deepEqual(empty, []);
  });

  test('decorate wraps an object for the cells inside only', () => {
    const seen: Record<string, string> = {};
    new Hive(
      [
        provide({ provides: IA, deps: [], factory: () => 'plain' }),
        decorate(IA, [], (a) => `${a}+decorated`, invoke('inside', [IA], (a) => (seen.inside = a))),
        invoke('outside', [IA], (a) => (seen.outside = a)),
      ],
      { env: {}, logSink: new MemorySink() },
    ).populate();
    assert.deepEqual(seen, { inside: 'plain+decorated', outside: 'plain' });
  });

  test('overrides replace a provider with a fake (tests)', () => {
    let got = '';
    const { hive } = testHive([provide({ provides: IA, deps: [], factory: () => 'real' }), invoke('x', [IA], (a) => (got = a))], { overrides: [[IA, 'fake']] });
    hive.populate();
    assert.equal(got, 'fake');
  });

  test('injectable classes get tokens and classes injected; module built-ins are per module', () => {
    @injectable()
    class Store {
      readonly items: string[] = [];
    }
    @injectable()
    class Service {
      constructor(
        readonly store: Store,
        @ILogger readonly log: Logger,
        @IModuleId readonly moduleId: string,
      ) {}
    }
    let svc: Service | undefined;
    let otherId = '';
    new Hive(
      [module('svc', 'service module', provide(Store, Service), invoke('use', [Service], (s) => (svc = s))), module('other', 'another', invoke('id', [IModuleId], (id) => (otherId = id)))],
      { env: {}, logSink: new MemorySink() },
    ).populate();
    assert.ok(svc instanceof Service);
    assert.ok(svc.store instanceof Store);
    assert.equal(svc.moduleId, 'svc');
    assert.equal(otherId, 'other');
  });

  test('invokes must be synchronous', () => {
    const asyncFn = (async () => {}) as () => void; // what a careless cell might pass
    const h = new Hive([invoke('async', [], asyncFn)], { env: {}, logSink: new MemorySink() });
    assert.throws(() => h.populate(), /returned a Promise/);
  });

  test('module ids are validated', () => {
    assert.throws(() => module('Bad Id', 'x'), /invalid module id/);
    assert.throws(() => module('ok', 'x'.repeat(81)), /invalid description/);
  });

  test('describe() prints modules, providers, invokes, flags and hooks', () => {
    const ICfg = token<Readonly<{ greeting: string }>>('GreeterConfig');
    const h = new Hive(
      [module('greeter', 'Says hello', config(ICfg, { greeting: { doc: 'what to say', format: String, default: 'hi' } }), hooked(IA, 'greet', [], []), invoke('go', [IA, ICfg], () => {}))],
      { env: {}, logSink: new MemorySink(), argv: ['--greeting=hello'] },
    );
    h.populate();
    const text = h.describe();
    assert.match(text, /module greeter: Says hello/);
    assert.match(text, /provide A <- Lifecycle/);
    assert.match(text, /invoke go <- A, GreeterConfig/);
    assert.match(text, /--greeting="hello"/);
    assert.match(text, /Start hooks:\n {2}• jobs\/jobs\n {2}• greeter\/greet/);
  });
});

describe('hive config', () => {
  interface ApiCfg {
    apiSocket: string;
    maxClients: number;
    verbose: boolean;
    mode: string;
  }
  const IApiCfg = token<Readonly<ApiCfg>>('ApiConfig');
  const apiConfig = config(IApiCfg, {
    apiSocket: { doc: 'socket path', format: String, default: '/run/x.sock' },
    maxClients: { doc: 'clients', format: 'nat', default: 10 },
    verbose: { doc: 'talk more', format: Boolean, default: false },
    mode: { doc: 'the mode', format: ['fast', 'safe'], default: 'safe' },
  });
  const read = (opts: ConstructorParameters<typeof Hive>[1]): ApiCfg => {
    let got: ApiCfg | undefined;
    new Hive([module('api', 'the api', apiConfig, invoke('read', [IApiCfg], (c) => (got = { ...c })))], { logSink: new MemorySink(), env: {}, ...opts }).populate();
    return got!;
  };

  test('defaults < config file < environment < flags', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-hive-'));
    try {
      const file = path.join(dir, 'c.yaml');
      fs.writeFileSync(file, 'api-socket: /from/file\nmax-clients: 20\nmode: fast\n');
      assert.deepEqual(read({}), { apiSocket: '/run/x.sock', maxClients: 10, verbose: false, mode: 'safe' });
      assert.equal(read({ argv: ['--config-file', file] }).apiSocket, '/from/file');
      const envAndFile = read({ argv: ['--config-file', file], env: { CILIA_API_SOCKET: '/from/env', CILIA_MAX_CLIENTS: '30' } });
      assert.equal(envAndFile.apiSocket, '/from/env');
      assert.equal(envAndFile.maxClients, 30);
      assert.equal(envAndFile.mode, 'fast');
      const all = read({ argv: ['--config-file', file, '--api-socket=/from/flag', '--verbose'], env: { CILIA_API_SOCKET: '/from/env' } });
      assert.deepEqual(all, { apiSocket: '/from/flag', maxClients: 20, verbose: true, mode: 'fast' });
      // CILIA_CONFIG names the config file too.
      assert.equal(read({ env: { CILIA_CONFIG: file } }).maxClients, 20);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a bad value names the flag, the value and what was expected', () => {
    assert.throws(
      () => read({ argv: ['--mode=turbo'] }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.exitCode, 2);
        assert.match(err.message, /invalid value for --mode \(env CILIA_MODE\): "turbo" — must be one of the possible values.*expected one of fast, safe/);
        return true;
      },
    );
    assert.throws(() => read({ env: { CILIA_MAX_CLIENTS: '-3' } }), /invalid value for --max-clients.*-3.*positive integer/);
  });

  test('unknown flags and unknown config-file keys are errors', () => {
    assert.throws(() => read({ argv: ['--no-such-flag=1'] }), /unknown flag --no-such-flag/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-hive-'));
    try {
      const file = path.join(dir, 'c.json');
      fs.writeFileSync(file, JSON.stringify({ 'api-sockett': 'x' }));
      assert.throws(() => read({ argv: [`--config-file=${file}`] }), /config file .*c\.json: unknown key "api-sockett"/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a flag declared by two modules is an error', () => {
    const IOther = token<Readonly<{ apiSocket: string }>>('OtherConfig');
    assert.throws(
      () => new Hive([module('api', 'a', apiConfig), module('dup', 'b', config(IOther, { apiSocket: { doc: 'x', format: String, default: '' } }))]),
      /flag --api-socket declared twice: in module api \(ApiConfig\) and in module dup \(OtherConfig\)/,
    );
  });

  test('config overrides (tests) win over everything', () => {
    const { hive } = testHive([module('api', 'a', apiConfig, invoke('x', [IApiCfg], () => {}))], { argv: ['--api-socket=/flag'] });
    hive.addConfigOverride(IApiCfg, (c) => ({ ...c, apiSocket: '/override' }));
    assert.equal(hive.resolve(IApiCfg).apiSocket, '/override');
    assert.ok(Object.isFrozen(hive.resolve(IApiCfg)));
  });

  test('--help lists every flag grouped by module with defaults and env', () => {
    const h = new Hive([module('api', 'a', apiConfig)], { env: {} });
    const help = h.helpText('cilia-agent');
    assert.match(help, /Module api:\n {2}--api-socket \(string, default "\/run\/x.sock", env CILIA_API_SOCKET\)\n {6}socket path/);
    assert.match(help, /Module hive:\n {2}--log-level/);
  });
});

describe('hive jobs and health', () => {
  test('a one-shot job retries with backoff and reports health', async () => {
    let attempts = 0;
    let health: Health | undefined;
    let finished!: () => void;
    const done = new Promise<void>((r) => (finished = r));
    const { start, hive } = testHive([
      module(
        'worker',
        'retries',
        invoke('add', [IJobGroup, IHealth], (jobs: JobGroup, h: Health) => {
          health = h;
          jobs.add(
            oneShot(
              'flaky',
              async () => {
                attempts++;
                if (attempts < 3) throw new Error(`attempt ${attempts} failed`);
                finished();
              },
              { retry: 5, backoff: { minMs: 1, maxMs: 5 } },
            ),
          );
        }),
      ),
    ]);
    await start();
    await done;
    await new Promise((r) => setImmediate(r));
    assert.equal(attempts, 3);
    assert.ok(health);
    const job = hive.health.statuses.get('worker.job-flaky');
    assert.equal(job?.level, 'Stopped');
    assert.match(job?.message ?? '', /Finished/);
    await hive.stop();
  });

  test('a one-shot that finally fails marks health degraded and can shut the hive down', async () => {
    const { hive } = testHive([
      module(
        'doomed',
        'fails',
        invoke('add', [IJobGroup], (jobs: JobGroup) =>
          jobs.add(
            oneShot(
              'boom',
              async () => {
                throw new Error('cannot continue');
              },
              { retry: 1, backoff: { minMs: 1, maxMs: 1 }, shutdownOnError: true },
            ),
          ),
        ),
      ),
    ]);
    await assert.rejects(hive.run(), /cannot continue/);
    const tree = hive.health.tree();
    assert.equal(tree.level, 'Degraded');
    assert.equal(hive.health.statuses.get('doomed.job-boom')?.error, 'cannot continue');
  });

  test('timers run periodically and on trigger; jobs stop before other stop hooks', async () => {
    const events: string[] = [];
    const trig = new Trigger();
    let runs = 0;
    const { hive } = testHive([
      module(
        'ticker',
        'ticks',
        invoke('add', [IJobGroup, ILifecycle], (jobs: JobGroup, lc: Lifecycle) => {
          lc.append({ name: 'resource', onStop: () => void events.push('resource stopped') });
          jobs.add(
            timer(
              'tick',
              async (signal) => {
                runs++;
                await new Promise((r) => setTimeout(r, 5));
                if (signal.aborted) events.push('tick aborted');
              },
              60_000,
              { trigger: trig },
            ),
          );
        }),
      ),
    ]);
    await hive.start();
    while (runs < 1) await new Promise((r) => setTimeout(r, 1));
    trig.trigger();
    while (runs < 2) await new Promise((r) => setTimeout(r, 1));
    await hive.stop();
    assert.equal(runs, 2);
    // The job registry is a pre-stop hook: the timer finished before "resource" was stopped.
    assert.equal(events.at(-1), 'resource stopped');
  });

  test('observers process events in order, one at a time', async () => {
    const src = new Subject<number>();
    const seen: number[] = [];
    let active = 0;
    let maxActive = 0;
    const { hive } = testHive([
      module(
        'obs',
        'observes',
        invoke('add', [IJobGroup], (jobs: JobGroup) =>
          jobs.add(
            observer('numbers', src, async (n) => {
              active++;
              maxActive = Math.max(maxActive, active);
              await new Promise((r) => setTimeout(r, 1));
              seen.push(n);
              active--;
            }),
          ),
        ),
      ),
    ]);
    await hive.start();
    for (let i = 0; i < 5; i++) src.next(i);
    src.complete();
    while (seen.length < 5) await new Promise((r) => setTimeout(r, 1));
    await hive.stop();
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    assert.equal(maxActive, 1);
  });

  test('health aggregates into a tree; the worst level wins', () => {
    const { hive } = testHive([
      module('agent', 'root', module('good', 'fine', invoke('r', [IHealth], (h: Health) => h.ok('all fine'))), module('bad', 'broken', invoke('r', [IHealth], (h: Health) => h.scope('sub').degraded('no disk', new Error('ENOSPC'))))),
    ]);
    hive.populate();
    const tree = hive.health.tree();
    assert.equal(tree.level, 'Degraded');
    const agent = tree.children.find((c) => c.name === 'agent')!;
    assert.deepEqual(
      agent.children.map((c) => [c.name, c.level]),
      [
        ['bad', 'Degraded'],
        ['good', 'OK'],
      ],
    );
    assert.equal(agent.children[0].children[0].error, 'ENOSPC');
  });

  test('shutdown() from a cell makes run() stop the hive cleanly', async () => {
    const events: string[] = [];
    const { hive } = testHive([
      invoke('x', [ILifecycle, IShutdowner], (lc: Lifecycle, sd) => {
        lc.append({ name: 'ends-itself', onStart: () => void setTimeout(() => sd.shutdown(), 5), onStop: () => void events.push('stopped') });
      }),
    ]);
    await hive.run();
    assert.deepEqual(events, ['stopped']);
  });
});
