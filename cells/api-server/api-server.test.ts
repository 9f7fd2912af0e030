import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ApiClient, ApiClientError, badRequest } from '../../pkg/api/index.js';
import { module, provideInto } from '../../pkg/hive/index.js';
import { testHive } from '../../pkg/hive/hivetest/hivetest.js';
import { IDB, StateDBCell, type DB, stringIndex } from '../../pkg/statedb/index.js';
import { invoke } from '../../pkg/hive/index.js';
import { ApiServerCell } from './cell.js';
import { IApiRoutes, IApiServerConfig, respond, route } from './types.js';

function socketPath(): { dir: string; socket: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-api-'));
  return { dir, socket: path.join(dir, 'sub', 'api.sock') };
}

const TestRoutes = module(
  'test-routes',
  'Routes under test',
  provideInto(IApiRoutes, {
    deps: [],
    factory: () => [
      route('GET', '/v1/echo/{name}', 'echo a path parameter', (req) => ({ name: req.params.name, q: req.query.get('q') })),
      route('PUT', '/v1/things', 'validate a body', (req) => {
        const b = req.body as { size?: unknown };
        if (typeof b?.size !== 'number') throw badRequest('size must be a number', 'size');
        return respond(201, { created: b.size });
      }),
      route('GET', '/v1/boom', 'a handler bug', () => {
        throw new Error('handler exploded');
      }),
    ],
  }),
  invoke('fill', [IDB], (db: DB) => {
    const t = db.newTable<{ id: string; v: number }>({ name: 'things', primary: stringIndex('id', (o) => o.id), header: ['ID', 'V'], row: (o) => [o.id, String(o.v)] });
    db.update([t], (txn) => t.insert(txn, { id: 'a', v: 1 }));
  }),
);

describe('api-server cell', () => {
  test('serves contributed and built-in routes on a 0600 unix socket; errors carry the field', async (t) => {
    const { dir, socket } = socketPath();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const h = testHive([StateDBCell, ApiServerCell, TestRoutes], { t });
    h.hive.addConfigOverride(IApiServerConfig, (c) => ({ ...c, apiSocket: socket }));
    await h.start();
    assert.equal(fs.statSync(socket).mode & 0o777, 0o600);
    const c = new ApiClient(socket);
    assert.deepEqual(await c.get('/v1/healthz'), { status: 'ok' });
    assert.deepEqual(await c.get('/v1/echo/hello%20world?q=1'), { name: 'hello world', q: '1' });
    await assert.rejects(c.get('/v1/echo/%ff'), (e: unknown) => e instanceof ApiClientError && e.status === 400 && e.field === 'name' && /malformed percent-encoding/.test(e.message));
    assert.deepEqual(await c.put('/v1/things', { size: 3 }), { created: 3 });
    await assert.rejects(c.put('/v1/things', { size: 'big' }), (e: unknown) => e instanceof ApiClientError && e.status === 400 && e.field === 'size' && /size must be a number/.test(e.message));
    await assert.rejects(c.request('PUT', '/v1/things', undefined, '{not json', 'application/json'), (e: unknown) => e instanceof ApiClientError && e.status === 400 && /not valid JSON/.test(e.message));
    await assert.rejects(c.get('/v1/nope'), (e: unknown) => e instanceof ApiClientError && e.status === 404);
    await assert.rejects(c.delete('/v1/healthz'), (e: unknown) => e instanceof ApiClientError && e.status === 405);
    // A handler bug is a 500, logged, and the server keeps serving.
    await assert.rejects(c.get('/v1/boom'), (e: unknown) => e instanceof ApiClientError && e.status === 500 && /handler exploded/.test(e.message));
    assert.deepEqual(await c.get('/v1/healthz'), { status: 'ok' });
    assert.ok(h.logs.records.some((r) => r.level === 'error' && r.msg === 'API handler failed'));
    // StateDB dumps.
    const dump = await c.get<{ rows: string[][]; header: string[] }>('/v1/statedb/things');
    assert.deepEqual(dump.header, ['ID', 'V']);
    assert.deepEqual(dump.rows, [['a', '1']]);
    const routes = await c.get<{ path: string }[]>('/v1/routes');
    assert.ok(routes.some((r) => r.path === '/v1/echo/{name}'));
    await h.hive.stop();
    assert.equal(fs.existsSync(socket), false, 'the socket is removed on stop');
  });

  test('a stale socket file from a crashed agent is replaced', async (t) => {
    const { dir, socket } = socketPath();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.mkdirSync(path.dirname(socket), { recursive: true });
    fs.writeFileSync(socket, 'stale');
    const h = testHive([StateDBCell, ApiServerCell], { t });
    h.hive.addConfigOverride(IApiServerConfig, (c) => ({ ...c, apiSocket: socket }));
    await h.start();
    assert.deepEqual(await new ApiClient(socket).get('/v1/healthz'), { status: 'ok' });
  });
});
