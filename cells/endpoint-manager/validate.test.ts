import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError } from '../../pkg/api/index.js';
import { hostIfName, netnsNameFor, randomMac } from './naming.js';
import { checkLabels, parseNamedPort, validateCreate } from './validate.js';

function fails(fn: () => unknown, field: string, msg: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.statusCode, 400);
    assert.equal(e.field, field);
    assert.match(e.message, msg);
    return true;
  });
}

describe('endpoint request validation', () => {
  test('defaults are filled in', () => {
    assert.deepEqual(validateCreate({ name: 'web-1' }), { name: 'web-1', namespace: 'default', labels: {}, namedPorts: [], netns: undefined, ifName: 'eth0', containerId: undefined, mtu: undefined });
  });

  test('every field is checked and named', () => {
    fails(() => validateCreate({}), 'name', /name is required/);
    fails(() => validateCreate({ name: 'Web' }), 'name', /DNS subdomain/);
    fails(() => validateCreate({ name: 'web', namespace: 'a.b' }), 'namespace', /DNS label/);
    fails(() => validateCreate({ name: 'web', labels: { 'app name': 'x' } }), 'labels.app name', /label key "app name"/);
    fails(() => validateCreate({ name: 'web', labels: { app: 'x y' } }), 'labels.app', /value "x y"/);
    fails(() => validateCreate({ name: 'web', labels: { app: 3 } }), 'labels.app', /strings/);
    fails(() => validateCreate({ name: 'web', namedPorts: ['http=80/TCP', 'http=81/TCP'] }), 'namedPorts[1]', /declared twice/);
    fails(() => validateCreate({ name: 'web', ifName: 'a/b' }), 'ifName', /not a valid interface name/);
    fails(() => validateCreate({ name: 'web', mtu: 70000 }), 'mtu', /576 to 65535/);
    fails(() => validateCreate({ name: 'web', frob: 1 }), 'frob', /unknown field "frob"/);
    fails(() => validateCreate({ name: 'web', containerId: 'a b' }), 'containerId', /alphanumeric/);
  });

  test('labels: Kubernetes key and value syntax, prefixed keys', () => {
    assert.deepEqual(checkLabels({ 'app.kubernetes.io/name': 'web', tier: '' }, 'labels'), { 'app.kubernetes.io/name': 'web', tier: '' });
    fails(() => checkLabels({ 'Bad_Prefix/x': 'y' }, 'labels'), 'labels.Bad_Prefix/x', /prefix must be a DNS subdomain/);
  });

  test('named ports: NAME=PORT[/PROTO] with IANA service names', () => {
    assert.deepEqual(parseNamedPort('serve-80-tcp=80/TCP', 'p'), { name: 'serve-80-tcp', port: 80, protocol: 'TCP' });
    assert.deepEqual(parseNamedPort('dns=53/udp', 'p'), { name: 'dns', port: 53, protocol: 'UDP' });
    assert.deepEqual(parseNamedPort('web=8080', 'p'), { name: 'web', port: 8080, protocol: 'TCP' });
    fails(() => parseNamedPort('8080=8080/TCP', 'p'), 'p.name', /at least one letter/);
    fails(() => parseNamedPort('web=0/TCP', 'p'), 'p.port', /1-65535/);
    fails(() => parseNamedPort('web=80/ICMP', 'p'), 'p.protocol', /TCP, UDP or SCTP/);
    fails(() => parseNamedPort('web', 'p'), 'p', /NAME=PORT/);
  });
});

describe('endpoint naming', () => {
  test('host veth names are stable, prefixed and at most 15 bytes', () => {
    const n = hostIfName('lxc', 'abc', 'eth0');
    assert.equal(n, hostIfName('lxc', 'abc', 'eth0'));
    assert.notEqual(n, hostIfName('lxc', 'abc', 'eth1'));
    assert.equal(n.length, 15);
    assert.ok(n.startsWith('lxc'));
    assert.equal(hostIfName('te', 'abc', 'eth0').length, 15);
  });

  test('MACs are unicast and locally administered', () => {
    for (let i = 0; i < 50; i++) {
      const first = parseInt(randomMac().slice(0, 2), 16);
      assert.equal(first & 1, 0);
      assert.equal(first & 2, 2);
    }
  });

  test('netns names are made safe', () => {
    assert.equal(netnsNameFor('default', 'web'), 'default-web');
    assert.equal(netnsNameFor('ns', 'a/b c'), 'ns-a_b_c');
  });
});
