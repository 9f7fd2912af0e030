// Cell tests of service-lb: a small hive with the real cell, fake LB maps and a fake endpoints table.
// They check the desired-state tables made from Services/EndpointSlices and the API, what lands in the
// maps, id stability across restarts, selector-derived backends, Maglev opt-in, errors and pruning.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { firstValueFrom, timeout } from 'rxjs';
import { ApiError } from '../../pkg/api/index.js';
import { BackendState, SVC_F_AFFINITY, SVC_F_LOCAL, SVC_F_MAGLEV, SVC_F_SOURCE_RANGE } from '../../pkg/datapath/index.js';
import type { Table } from '../../pkg/statedb/index.js';
import { FakeLbMaps } from './fake.js';
import { IdJournal } from './id-journal.js';
import { TEST_NODE, type ServiceLbTestHive, applyAndWait, deleteAndWait, putEndpoints, serviceLbTestHive, testEndpoint } from './testhive.js';
import type { LbBackend, LbService, ServiceJSON } from './types.js';

const TCP = 6;
const UDP = 17;

function service(name: string, clusterIP: string, extra: Record<string, unknown> = {}, ports: unknown[] = [{ name: 'http', port: 80, targetPort: 8080 }]) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { clusterIP, ports, ...extra } };
}

function slice(name: string, svc: string, endpoints: unknown[], ports: unknown[] = [{ name: 'http', port: 8080 }]) {
  return { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name, labels: { 'kubernetes.io/service-name': svc } }, addressType: 'IPv4', ports, endpoints };
}

function rows<T>(h: ServiceLbTestHive, table: Table<T>): T[] {
  return [...table.all(h.db.readTxn())];
}

function svcRow(h: ServiceLbTestHive, key: string): LbService | undefined {
  return h.lb.services.get(h.db.readTxn(), { index: 'key', key });
}

/** Waits until `pred` holds for the services table (it changes asynchronously after endpoint changes). */
async function until(h: ServiceLbTestHive, pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100 && !pred(); i++) {
    await firstValueFrom(h.lb.services.watch(h.db.readTxn()).pipe(timeout(2000))).catch(() => undefined);
  }
  assert.ok(pred(), `timed out waiting for ${what}`);
}

/** Waits until the maps hold every change so far. */
async function programmed(h: ServiceLbTestHive): Promise<void> {
  await h.lb.waitProgrammed(h.lb.services.revision(h.db.readTxn()));
}

function fake(h: ServiceLbTestHive): FakeLbMaps {
  return h.maps as FakeLbMaps;
}

async function rejectsWith(p: Promise<unknown> | (() => unknown), status: number, field: RegExp | string, message?: RegExp): Promise<void> {
  await assert.rejects(async () => (typeof p === 'function' ? p() : p), (err: unknown) => {
    assert.ok(err instanceof ApiError, `expected ApiError, got ${String(err)}`);
    assert.equal(err.statusCode, status, err.message);
    if (typeof field === 'string') assert.equal(err.field, field);
    else assert.match(err.field ?? '', field);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('service-lb cell', () => {
  let dir: string;
  let h: ServiceLbTestHive;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-ts-lb-'));
    h = await serviceLbTestHive({ stateDir: dir });
  });
  afterEach(async () => {
    await h?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a Service with its EndpointSlice becomes a services row, backends rows and map entries', { timeout: 10_000 }, async () => {
    await applyAndWait(h, [
      service('web', '10.96.30.10', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 300 } } }),
      slice('web-1', 'web', [
        { addresses: ['10.244.30.12'] },
        { addresses: ['10.244.30.11'], conditions: { ready: true } },
        { addresses: ['10.244.30.13'], conditions: { ready: false, serving: true, terminating: true } },
        { addresses: ['10.244.30.14'], conditions: { ready: false, serving: false } },
      ]),
    ]);
    const row = svcRow(h, 'default/web')!;
    assert.equal(row.source, 'k8s');
    assert.equal(row.backendSource, 'endpoint-slices');
    assert.deepEqual(row.frontends, [{ address: '10.96.30.10', port: 80, protocol: 'TCP', portName: 'http', revNat: 1 }]);
    assert.deepEqual(
      row.backends.map((b) => [b.address, b.port, b.state]),
      [['10.244.30.11', 8080, 'active'], ['10.244.30.12', 8080, 'active'], ['10.244.30.13', 8080, 'terminating']],
      'sorted by address; the endpoint neither ready nor serving is no backend',
    );
    assert.equal(row.status.kind, 'Done');
    assert.deepEqual(rows(h, h.lb.backends).map((b: LbBackend) => [b.key, b.id]), [
      ['10.244.30.11:8080/TCP', row.backends[0].id],
      ['10.244.30.12:8080/TCP', row.backends[1].id],
      ['10.244.30.13:8080/TCP', row.backends[2].id],
    ]);

    const m = fake(h);
    const master = m.master('10.96.30.10', 80, TCP)!;
    assert.equal(master.count, 2, 'only active backends get slots');
    assert.equal(master.flags & SVC_F_AFFINITY, SVC_F_AFFINITY);
    assert.equal(master.backend_id, 300, 'the master carries the affinity timeout');
    assert.equal(master.rev_nat_index, 1);
    assert.deepEqual(m.slots('10.96.30.10', 80, TCP), [row.backends[0].id, row.backends[1].id]);
    assert.equal(m.backends.get(row.backends[2].id)?.flags, BackendState.Terminating, 'the terminating backend stays in the map for its connections');
    assert.equal(m.backends.get(row.backends[0].id)?.port, 8080);
    assert.deepEqual(m.reverseNat.get(1), { address: '10.96.30.10', port: 80 });
  });

  test('a multi-port Service sends each port to its own target port', { timeout: 10_000 }, async () => {
    await applyAndWait(h, [
      service('dns', '10.96.30.53', {}, [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 }, { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 5353 }]),
      slice('dns-1', 'dns', [{ addresses: ['10.244.30.21'] }], [{ name: 'dns', port: 5353, protocol: 'UDP' }, { name: 'dns-tcp', port: 5354, protocol: 'TCP' }]),
    ]);
    const m = fake(h);
    const udp = m.slots('10.96.30.53', 53, UDP).map((id) => m.backends.get(id));
    const tcp = m.slots('10.96.30.53', 53, TCP).map((id) => m.backends.get(id));
    assert.deepEqual(udp, [{ address: '10.244.30.21', port: 5353, proto: UDP, flags: 0 }]);
    assert.deepEqual(tcp, [{ address: '10.244.30.21', port: 5354, proto: TCP, flags: 0 }]);
    assert.notEqual(m.master('10.96.30.53', 53, UDP)!.rev_nat_index, m.master('10.96.30.53', 53, TCP)!.rev_nat_index, 'one rev-NAT index per frontend');
  });

  test('bad objects are refused naming the object and field, and change nothing', { timeout: 10_000 }, async () => {
    await applyAndWait(h, [service('web', '10.96.30.10'), slice('web-1', 'web', [{ addresses: ['10.244.30.11'] }])]);
    const before = h.lb.services.revision(h.db.readTxn());
    const writes = fake(h).writes;
    const prepare = (objects: Record<string, unknown>[]) => () => h.apply.prepareApply(objects.map((object, i) => ({ kind: String(object.kind), object, where: `document ${i + 1}` })), 'default');
    await rejectsWith(prepare([service('a', '10.96.30.11'), service('b', '10.96.30.12', {}, [{ port: 0 }])]), 400, 'document 2: spec.ports[0].port', /out of range/);
    await rejectsWith(prepare([service('np', '10.96.30.13', { type: 'NodePort' })]), 400, 'document 1: spec.type', /not supported/);
    await rejectsWith(prepare([service('a', '10.96.30.11'), service('a', '10.96.30.14')]), 400, 'document 2: metadata.name', /defined twice/);
    await rejectsWith(prepare([slice('web-1', 'web', [{ addresses: ['10.244.30.300'] }])]), 400, 'document 1: endpoints[0].addresses[0]');
    await rejectsWith(prepare([{ ...service('v2', '10.96.30.15'), apiVersion: 'v2' }]), 400, 'document 1: apiVersion');
    await rejectsWith(prepare([service('other', '10.96.30.10')]), 409, 'document 1: frontends[0]', /already belongs to service default\/web/);
    await rejectsWith(h.call('PUT', '/v1/service', { name: 'web', frontends: [{ address: '10.96.30.99', port: 80 }], backends: [] }), 409, 'name', /managed by cilia apply/);
    assert.equal(h.lb.services.revision(h.db.readTxn()), before, 'the tables did not change');
    assert.equal(fake(h).writes, writes, 'the maps did not change');
  });

  test('the API: upsert, errors naming the field, a frontend used twice, delete by frontend or name', { timeout: 10_000 }, async () => {
    await rejectsWith(h.call('PUT', '/v1/service', { frontends: [{ address: '10.96.30.1', port: 0 }], backends: [] }), 400, 'frontends[0].port');
    await rejectsWith(h.call('PUT', '/v1/service', { frontends: [{ address: '10.96.30.1', port: 80 }] }), 400, 'backends', /an empty list is a service without backends/);
    await rejectsWith(h.call('PUT', '/v1/service', { frontends: [{ address: '10.96.30.1', port: 80 }], backends: [{ address: 'x', port: 80 }] }), 400, 'backends[0].address');
    await rejectsWith(h.call('PUT', '/v1/service', { frontends: [{ address: '10.96.30.1', port: 80, protocol: 'TCP' }], backends: [{ address: '10.244.30.1', port: 80, protocol: 'UDP' }] }), 400, 'backends[0]', /serves no frontend/);
    assert.equal(rows(h, h.lb.services).length, 0);

    const svc = (await h.call('PUT', '/v1/service', { frontends: [{ address: '10.96.30.1', port: 80 }], backends: [{ address: '10.244.30.1', port: 8080 }, { address: '10.244.30.2', port: 8080 }] })) as ServiceJSON;
    assert.equal(svc.name, '10-96-30-1-80-tcp', 'named after its frontend');
    assert.equal(svc.status.kind, 'Done', 'answered once the maps hold it');
    assert.equal(fake(h).master('10.96.30.1', 80, TCP)?.count, 2);
    // Without a name, an upsert of the same frontend replaces that service.
    const again = (await h.call('PUT', '/v1/service', { frontends: [{ address: '10.96.30.1', port: 80 }], backends: [{ address: '10.244.30.2', port: 8080 }] })) as ServiceJSON;
    assert.equal(again.name, svc.name);
    assert.equal(fake(h).master('10.96.30.1', 80, TCP)?.count, 1);
    await rejectsWith(h.call('PUT', '/v1/service', { name: 'other', frontends: [{ address: '10.96.30.1', port: 80 }], backends: [] }), 409, 'frontends[0]');
    const udp = (await h.call('PUT', '/v1/service', { name: 'dns', frontends: [{ address: '10.96.30.1', port: 80, protocol: 'UDP' }], backends: [] })) as ServiceJSON;
    assert.equal(udp.frontends[0].protocol, 'UDP', 'the same address and port with another protocol is another frontend');
    assert.equal(fake(h).master('10.96.30.1', 80, UDP)?.count, 0, 'no backends: count 0, the datapath drops with "Service backend not found"');

    await rejectsWith(h.call('DELETE', '/v1/service/10.96.30.7:80'), 404, /^$/);
    assert.deepEqual(await h.call('DELETE', `/v1/service/${encodeURIComponent('10.96.30.1:80/tcp')}`), { deleted: `default/${svc.name}` });
    assert.equal(fake(h).master('10.96.30.1', 80, TCP), undefined);
    await h.call('DELETE', '/v1/service/dns');
    assert.equal(fake(h).services.size, 0);
    assert.equal(fake(h).backends.size, 0);
    assert.equal(fake(h).reverseNat.size, 0);
  });

  test('a backend leaves the backends map only when no service uses it any more', { timeout: 10_000 }, async () => {
    const put = (name: string, port: number, backends: string[]) =>
      h.call('PUT', '/v1/service', { name, frontends: [{ address: '10.96.30.2', port }], backends: backends.map((a) => ({ address: a, port: 8080 })) }) as Promise<ServiceJSON>;
    const a = await put('a', 80, ['10.244.30.1', '10.244.30.2']);
    const b = await put('b', 81, ['10.244.30.2']);
    const [x, y] = a.backends.map((be) => be.id);
    assert.equal(b.backends[0].id, y, 'a backend has one id, whatever service uses it');
    await put('a', 80, ['10.244.30.1']);
    assert.ok(fake(h).backends.has(y), 'still used by b');
    assert.deepEqual(fake(h).slots('10.96.30.2', 80, TCP), [x]);
    await put('a', 80, []);
    assert.ok(!fake(h).backends.has(x), 'nobody uses it');
    assert.equal(rows(h, h.lb.backends).length, 1);
    await h.call('DELETE', '/v1/service/b');
    assert.equal(fake(h).backends.size, 0);
    assert.equal(rows(h, h.lb.backends).length, 0);
  });

  test('applying the same objects again changes nothing and writes nothing', { timeout: 10_000 }, async () => {
    const objects = [service('web', '10.96.30.10'), slice('web-1', 'web', [{ addresses: ['10.244.30.11'] }, { addresses: ['10.244.30.12'] }])];
    await applyAndWait(h, objects);
    const rev = h.lb.services.revision(h.db.readTxn());
    const writes = fake(h).writes;
    await applyAndWait(h, objects);
    assert.equal(h.lb.services.revision(h.db.readTxn()), rev);
    assert.equal(fake(h).writes, writes);
  });

  test('Maglev is opt-in per service: a table of eligible backends, removed when the service goes back to random', { timeout: 10_000 }, async () => {
    const backends = [{ address: '10.244.30.1', port: 80 }, { address: '10.244.30.2', port: 80 }, { address: '10.244.30.3', port: 80, state: 'maintenance' }];
    const svc = (await h.call('PUT', '/v1/service', { name: 'mg', frontends: [{ address: '10.96.30.3', port: 80 }], backends, algorithm: 'maglev' })) as ServiceJSON;
    const revNat = svc.frontends[0].revNat;
    const table = fake(h).maglev.get(revNat)!;
    assert.equal(table.length, 251, 'the datapath table size');
    const counts = new Map<number, number>();
    for (const id of table) counts.set(id, (counts.get(id) ?? 0) + 1);
    assert.deepEqual([...counts.keys()].sort(), [svc.backends[0].id, svc.backends[1].id].sort(), 'the backend in maintenance has no entry');
    assert.ok(Math.abs(counts.get(svc.backends[0].id)! - counts.get(svc.backends[1].id)!) <= 1, 'equal weights, equal shares');
    assert.equal(fake(h).master('10.96.30.3', 80, TCP)!.flags & SVC_F_MAGLEV, SVC_F_MAGLEV);
    const maglev = await h.call('GET', '/v1/bpf/lb/maglev/mg') as { frontends: { size: number; counts: Record<string, number> }[] };
    assert.equal(maglev.frontends[0].size, 251);
    await h.call('PUT', '/v1/service', { name: 'mg', frontends: [{ address: '10.96.30.3', port: 80 }], backends, algorithm: 'random' });
    assert.equal(fake(h).maglev.size, 0);
    assert.equal(fake(h).master('10.96.30.3', 80, TCP)!.flags & SVC_F_MAGLEV, 0);
  });

  test('source ranges and the Local traffic policy reach the maps', { timeout: 10_000 }, async () => {
    const backends = [{ address: '10.244.30.1', port: 80, nodeName: TEST_NODE }, { address: '10.244.30.2', port: 80, nodeName: 'elsewhere' }];
    const svc = (await h.call('PUT', '/v1/service', { name: 'sr', frontends: [{ address: '10.96.30.4', port: 80 }], backends, sourceRanges: ['10.244.30.0/24', '10.0.0.0/8'], trafficPolicy: 'Local' })) as ServiceJSON;
    const revNat = svc.frontends[0].revNat;
    const master = fake(h).master('10.96.30.4', 80, TCP)!;
    assert.equal(master.flags & SVC_F_SOURCE_RANGE, SVC_F_SOURCE_RANGE);
    assert.equal(master.flags & SVC_F_LOCAL, SVC_F_LOCAL);
    assert.deepEqual(fake(h).slots('10.96.30.4', 80, TCP), [svc.backends[0].id], 'only the backend on this node gets new connections');
    assert.ok(fake(h).backends.has(svc.backends[1].id), 'the remote one stays known');
    assert.deepEqual([...fake(h).sourceRanges.keys()].sort(), [`${revNat}|10.0.0.0/8`, `${revNat}|10.244.30.0/24`]);
    await h.call('PUT', '/v1/service', { name: 'sr', frontends: [{ address: '10.96.30.4', port: 80 }], backends, sourceRanges: ['10.0.0.0/8'] });
    assert.deepEqual([...fake(h).sourceRanges.keys()], [`${revNat}|10.0.0.0/8`], 'a dropped range leaves the map');
    assert.equal(fake(h).master('10.96.30.4', 80, TCP)!.count, 2, 'Cluster policy: both');
    await rejectsWith(h.call('PUT', '/v1/service', { name: 'sr', frontends: [{ address: '10.96.30.4', port: 80 }], backends, sourceRanges: ['10.0.0.1/8'] }), 400, 'sourceRanges[0]', /host bits/);
  });

  test('a Service with a selector and no EndpointSlice gets the ready endpoints it selects, and follows them', { timeout: 15_000 }, async () => {
    await applyAndWait(h, [service('sel', '10.96.30.20', { selector: { app: 'web' } }, [{ port: 80, targetPort: 'http' }])]);
    const backends = () => svcRow(h, 'default/sel')!.backends.map((b) => `${b.address}:${b.port}`);
    assert.deepEqual(backends(), []);
    assert.equal(svcRow(h, 'default/sel')!.backendSource, 'selector');
    const ep1 = testEndpoint(1, 'default', { app: 'web' }, '10.244.30.31', [{ name: 'http', port: 8080, protocol: 'TCP' }]);
    const noPort = testEndpoint(2, 'default', { app: 'web' }, '10.244.30.32');
    const otherNs = testEndpoint(3, 'prod', { app: 'web' }, '10.244.30.33', [{ name: 'http', port: 8080, protocol: 'TCP' }]);
    const ep4 = testEndpoint(4, 'default', { app: 'web', tier: 'x' }, '10.244.30.34', [{ name: 'http', port: 9090, protocol: 'TCP' }]);
    putEndpoints(h, [ep1, noPort, otherNs, ep4]);
    await until(h, () => backends().length === 2, 'two selected endpoints');
    assert.deepEqual(backends(), ['10.244.30.31:8080', '10.244.30.34:9090'], 'named port resolved per endpoint; no port or another namespace: not selected');
    await programmed(h);
    assert.equal(fake(h).master('10.96.30.20', 80, TCP)!.count, 2);

    putEndpoints(h, [{ ...ep4, policy: undefined }]);
    await until(h, () => backends().length === 1, 'the endpoint that is not ready to leave');
    putEndpoints(h, [{ ...ep1, labels: { app: 'db' } }]);
    await until(h, () => backends().length === 0, 'the relabelled endpoint to leave');
    putEndpoints(h, [{ ...ep4 }]);
    await until(h, () => backends().length === 1, 'the endpoint ready again');
    putEndpoints(h, [], [ep4]);
    await until(h, () => backends().length === 0, 'the deleted endpoint to leave');
    await programmed(h);
    assert.equal(fake(h).master('10.96.30.20', 80, TCP)!.count, 0);

    // Once an EndpointSlice exists, it decides (as in Kubernetes, where the controller writes it).
    putEndpoints(h, [ep1, ep4]);
    await applyAndWait(h, [slice('sel-1', 'sel', [{ addresses: ['10.244.30.99'] }], [{ port: 7070 }])]);
    assert.deepEqual(backends(), ['10.244.30.99:7070']);
    assert.equal(svcRow(h, 'default/sel')!.backendSource, 'endpoint-slices');
    await deleteAndWait(h, [{ kind: 'EndpointSlice', namespace: 'default', name: 'sel-1' }]);
    assert.deepEqual(backends(), ['10.244.30.31:8080', '10.244.30.34:9090'], 'back to the selector');
  });

  test('deleting a Service removes it; its EndpointSlice alone makes no service', { timeout: 10_000 }, async () => {
    await applyAndWait(h, [service('web', '10.96.30.10'), slice('web-1', 'web', [{ addresses: ['10.244.30.11'] }])]);
    await deleteAndWait(h, [{ kind: 'Service', namespace: 'default', name: 'web' }]);
    assert.equal(rows(h, h.lb.services).length, 0);
    assert.equal(fake(h).services.size, 0);
    assert.equal(fake(h).backends.size, 0);
    await applyAndWait(h, [service('web', '10.96.30.10')]);
    assert.equal(svcRow(h, 'default/web')!.backends.length, 1, 'the stored slice counts again when the Service comes back');
  });

  test('a write the maps refuse marks the service Error, fails the wait, and is retried', { timeout: 10_000 }, async () => {
    fake(h).failWrites = { count: 1, error: new Error('bpf_map_update_batch(cilia_lb4_services): E2BIG (Argument list too long)') };
    await rejectsWith(h.call('PUT', '/v1/service', { name: 'e', frontends: [{ address: '10.96.30.5', port: 80 }], backends: [{ address: '10.244.30.5', port: 80 }] }), 500, /^$/, /default\/e could not be written to the LB maps: .*E2BIG/);
    assert.equal(svcRow(h, 'default/e')!.status.kind, 'Error');
    await until(h, () => svcRow(h, 'default/e')!.status.kind === 'Done', 'the retry');
    assert.equal(fake(h).master('10.96.30.5', 80, TCP)?.count, 1);
  });
});

describe('service-lb cell across restarts', () => {
  let dir: string;
  const hives: ServiceLbTestHive[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-ts-lb-'));
  });
  afterEach(async () => {
    for (const h of hives.splice(0)) await h.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const objects = [
    service('b', '10.96.31.2'),
    slice('b-1', 'b', [{ addresses: ['10.244.31.1'] }, { addresses: ['10.244.31.2'] }]),
    service('c', '10.96.31.3'),
    slice('c-1', 'c', [{ addresses: ['10.244.31.2'] }, { addresses: ['10.244.31.3'] }]),
  ];

  function ids(h: ServiceLbTestHive): Record<string, unknown> {
    return Object.fromEntries(rows(h, h.lb.services).map((s) => [s.key, { frontends: s.frontends.map((f) => f.revNat), backends: s.backends.map((b) => `${b.address}=${b.id}`) }]));
  }

  test('rev-NAT indexes and backend ids survive a restart, whatever order the objects come back in', { timeout: 15_000 }, async () => {
    const maps = new FakeLbMaps();
    const h1 = await serviceLbTestHive({ stateDir: dir, maps });
    hives.push(h1);
    await h1.call('PUT', '/v1/service', { name: 'a', frontends: [{ address: '10.96.31.1', port: 80 }], backends: [{ address: '10.244.31.9', port: 80 }] });
    await applyAndWait(h1, objects);
    const before = ids(h1);
    const mapsBefore = JSON.stringify([...maps.services.entries()].sort());
    await h1.stop();
    hives.pop();

    const h2 = await serviceLbTestHive({ stateDir: dir, maps, restoreObjects: [...objects].reverse() });
    hives.push(h2);
    await programmed(h2);
    assert.deepEqual(ids(h2), before);
    assert.equal(JSON.stringify([...maps.services.entries()].sort()), mapsBefore, 'the maps hold the same entries');
    // New services get numbers nobody had.
    const d = (await h2.call('PUT', '/v1/service', { name: 'd', frontends: [{ address: '10.96.31.4', port: 80 }], backends: [{ address: '10.244.31.4', port: 80 }] })) as ServiceJSON;
    const used = new Set(Object.values(before).flatMap((v) => (v as { frontends: number[] }).frontends));
    assert.ok(!used.has(d.frontends[0].revNat));
  });

  test('what disappeared while the agent was down is pruned from the maps and its ids are freed', { timeout: 15_000 }, async () => {
    const maps = new FakeLbMaps();
    const h1 = await serviceLbTestHive({ stateDir: dir, maps });
    hives.push(h1);
    await applyAndWait(h1, objects);
    const c = svcRow(h1, 'default/c')!;
    await h1.stop();
    hives.pop();
    // Only b comes back (c was deleted while the agent was down).
    const h2 = await serviceLbTestHive({ stateDir: dir, maps, restoreObjects: objects.slice(0, 2) });
    hives.push(h2);
    for (let i = 0; i < 100 && maps.master('10.96.31.3', 80, TCP); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(maps.master('10.96.31.3', 80, TCP), undefined, 'c pruned');
    assert.ok(!maps.reverseNat.has(c.frontends[0].revNat));
    const cOnly = c.backends.find((b) => b.address === '10.244.31.3')!;
    assert.ok(!maps.backends.has(cOnly.id), "c's own backend pruned");
    assert.ok(maps.master('10.96.31.2', 80, TCP), 'b kept');
    const journal = new IdJournal(path.join(dir, 'service-lb', 'ids.jsonl'));
    journal.load();
    const stored = journal.entries('frontend');
    assert.ok(!stored.has('10.96.31.3:80/TCP'), "c's rev-NAT index is no longer reserved");
    assert.ok(stored.has('10.96.31.2:80/TCP'));
  });
});
