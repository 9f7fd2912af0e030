// Real-kernel tests of route operations, checked against `ip -j route`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Netlink } from './netlink.js';
import { NetlinkError } from './errors.js';
import { RouteProtocol } from './route.js';
import { ScratchNetns, ipJson } from './testutil.js';

interface IpRoute { dst: string; gateway?: string; dev: string; scope?: string; protocol?: string; prefsrc?: string; metric?: number; flags: string[] }

const scratch = new ScratchNetns('rt');
let node = '';
let nl: Netlink;
before(() => {
  node = scratch.create('node');
  nl = Netlink.open({ netns: node });
  nl.addVeth({ name: 'cnr0', peerName: 'cnr1', up: true });
  nl.setUp('cnr1');
  nl.addAddress({ address: '10.244.250.1/26', dev: 'cnr0' });
});
after(() => {
  nl.close();
  scratch.cleanup();
});

function ipRoutes(...extra: string[]): IpRoute[] {
  return ipJson<IpRoute[]>('-n', node, '-4', 'route', 'show', ...extra);
}

test('add, list, replace and delete a gateway route', { timeout: 30_000 }, () => {
  nl.addRoute({ dst: '10.244.250.128/25', gateway: '10.244.250.2', dev: 'cnr0', metric: 100 });
  const ipView = ipRoutes().find((r) => r.dst === '10.244.250.128/25');
  // (ip -j leaves out protocol "boot", the default.)
  assert.deepEqual(ipView && { gateway: ipView.gateway, dev: ipView.dev, metric: ipView.metric, protocol: ipView.protocol ?? 'boot' },
    { gateway: '10.244.250.2', dev: 'cnr0', metric: 100, protocol: 'boot' });
  const listed = nl.listRoutes().find((r) => r.dst === '10.244.250.128/25');
  assert.deepEqual(listed, {
    family: 'inet', dst: '10.244.250.128/25', gateway: '10.244.250.2', ifindex: nl.ifindex('cnr0'), scope: 'global',
    onlink: false, table: 254, protocol: RouteProtocol.boot, metric: 100, type: 1,
  });
  // The kernel's own prefix route of the address shows up too, with its preferred source.
  assert.ok(nl.listRoutes({ dev: 'cnr0' }).some((r) => r.dst === '10.244.250.0/26' && r.protocol === RouteProtocol.kernel &&
    r.src === '10.244.250.1' && r.scope === 'link'));

  assert.throws(() => nl.addRoute({ dst: '10.244.250.128/25', gateway: '10.244.250.2', dev: 'cnr0', metric: 100 }), (err: unknown) =>
    err instanceof NetlinkError && err.code === 'EEXIST' && err.op === 'RTM_NEWROUTE 10.244.250.128/25 via 10.244.250.2 dev ' + nl.ifindex('cnr0') + ' metric 100');
  nl.replaceRoute({ dst: '10.244.250.128/25', gateway: '10.244.250.3', dev: 'cnr0', metric: 100, protocol: RouteProtocol.static, src: '10.244.250.1' });
  const replaced = ipRoutes().filter((r) => r.dst === '10.244.250.128/25');
  assert.equal(replaced.length, 1);
  assert.deepEqual({ gw: replaced[0].gateway, proto: replaced[0].protocol, src: replaced[0].prefsrc }, { gw: '10.244.250.3', proto: 'static', src: '10.244.250.1' });

  assert.equal(nl.deleteRoute({ dst: '10.244.250.128/25', metric: 100 }), true);
  assert.equal(nl.deleteRoute({ dst: '10.244.250.128/25', metric: 100 }), false);
  assert.equal(ipRoutes().some((r) => r.dst === '10.244.250.128/25'), false);
});

test('a link-scope host route and a default route via it with onlink (the pod-side routes)', { timeout: 30_000 }, () => {
  // cnr1 has no address: the gateway is reachable only because of the routes themselves.
  nl.addRoute({ dst: '10.244.250.65', dev: 'cnr1', scope: 'link' });
  nl.addRoute({ dst: 'default', gateway: '10.244.250.65', dev: 'cnr1', onlink: true });
  const ipView = ipRoutes('dev', 'cnr1');
  assert.deepEqual(ipView.map((r) => ({ dst: r.dst, gateway: r.gateway, scope: r.scope, onlink: r.flags.includes('onlink') })), [
    { dst: 'default', gateway: '10.244.250.65', scope: undefined, onlink: true },
    { dst: '10.244.250.65', gateway: undefined, scope: 'link', onlink: false },
  ]);
  const listed = nl.listRoutes({ dev: 'cnr1' });
  assert.deepEqual(listed.map((r) => ({ dst: r.dst, gateway: r.gateway, scope: r.scope, onlink: r.onlink })), [
    { dst: '0.0.0.0/0', gateway: '10.244.250.65', scope: 'global', onlink: true },
    { dst: '10.244.250.65/32', gateway: undefined, scope: 'link', onlink: false },
  ]);
  assert.equal(nl.deleteRoute({ dst: 'default' }), true);
  assert.equal(nl.deleteRoute({ dst: '10.244.250.65/32', dev: 'cnr1' }), true);
});

test('routes in another table', { timeout: 30_000 }, () => {
  nl.addRoute({ dst: '10.244.250.192/26', dev: 'cnr0', table: 100 });
  assert.deepEqual(nl.listRoutes({ table: 100 }).map((r) => [r.dst, r.table]), [['10.244.250.192/26', 100]]);
  assert.equal(nl.listRoutes().some((r) => r.dst === '10.244.250.192/26'), false, 'not in main');
  assert.ok(nl.listRoutes({ table: 0 }).some((r) => r.dst === '10.244.250.192/26'), 'table 0 lists every table');
  assert.equal(ipJson<IpRoute[]>('-n', node, 'route', 'show', 'table', '100')[0].dst, '10.244.250.192/26');
  assert.equal(nl.deleteRoute({ dst: '10.244.250.192/26', table: 100 }), true);
});

test('route errors', { timeout: 30_000 }, () => {
  // Without onlink, a gateway needs a route to it.
  assert.throws(() => nl.addRoute({ dst: '10.244.250.240/28', gateway: '10.244.250.250', dev: 'cnr1' }), (err: unknown) =>
    err instanceof NetlinkError && err.code === 'ENETUNREACH');
  assert.throws(() => nl.addRoute({ dst: '10.244.250.240/28', dev: 'cnmissing' }), (err: unknown) =>
    err instanceof NetlinkError && err.code === 'ENODEV');
  assert.throws(() => nl.addRoute({ dst: '10.244.250.240/28', gateway: 'fd00::1' }), TypeError);
});
