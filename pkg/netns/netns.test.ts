// Real-kernel tests of named network namespaces, including interoperation with iproute2.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createNetns, deleteNetns, netnsExists, listNetns } from './netns.js';
import { currentNetnsInode, withNetns } from './with-netns.js';
import { SyscallError } from './libc.js';

const prefix = `cn-ns${process.pid}`;
const created: string[] = [];
function nsName(suffix: string): string {
  const name = `${prefix}-${suffix}`;
  created.push(name);
  return name;
}
after(() => {
  for (const name of created) deleteNetns(name);
});

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

test('createNetns makes a namespace that iproute2 lists and can enter', { timeout: 30_000 }, () => {
  const name = nsName('a');
  const hostInode = currentNetnsInode();
  createNetns(name);
  assert.equal(currentNetnsInode(), hostInode, 'main thread is back in its original netns');
  assert.ok(netnsExists(name));
  assert.ok(listNetns().includes(name));
  assert.match(ip('netns', 'list'), new RegExp(`^${name}\\b`, 'm'));
  // A fresh netns holds only a loopback device, which is down.
  const links = JSON.parse(ip('-j', '-n', name, 'link', 'show')) as { ifname: string; flags: string[] }[];
  assert.deepEqual(links.map((l) => l.ifname), ['lo']);
  assert.ok(!links[0].flags.includes('UP'));
  // It is a different namespace from ours, and the same one `ip netns exec` enters.
  const inode = withNetns(name, currentNetnsInode);
  assert.notEqual(inode, hostInode);
  const execInode = ip('netns', 'exec', name, 'stat', '-L', '-c', '%i', '/proc/self/ns/net').trim();
  assert.equal(Number(execInode), inode);
});

test('deleteNetns removes what createNetns made; missing is not an error', { timeout: 30_000 }, () => {
  const name = nsName('b');
  createNetns(name);
  assert.equal(deleteNetns(name), true);
  assert.equal(netnsExists(name), false);
  assert.equal(fs.existsSync(`/run/netns/${name}`), false);
  assert.doesNotMatch(ip('netns', 'list'), new RegExp(`^${name}\\b`, 'm'));
  assert.equal(deleteNetns(name), false);
});

test('a namespace made by `ip netns add` is seen and removed here', { timeout: 30_000 }, () => {
  const name = nsName('c');
  ip('netns', 'add', name);
  assert.ok(netnsExists(name));
  assert.equal(deleteNetns(name), true);
  assert.equal(netnsExists(name), false);
});

test('createNetns refuses a taken name and bad names', { timeout: 30_000 }, () => {
  const name = nsName('d');
  createNetns(name);
  assert.throws(() => createNetns(name), (err: unknown) =>
    err instanceof SyscallError && err.code === 'EEXIST' && err.message === `createNetns ${name}: EEXIST (File exists)`);
  assert.ok(netnsExists(name), 'the existing namespace is untouched');
  assert.throws(() => createNetns('cn-a/b'), TypeError);
  assert.throws(() => createNetns('..'), TypeError);
});

test('netnsExists is false for a missing name and for a plain file', { timeout: 30_000 }, () => {
  assert.equal(netnsExists(`${prefix}-missing`), false);
  const placeholder = nsName('e');
  fs.writeFileSync(`/run/netns/${placeholder}`, '');
  assert.equal(netnsExists(placeholder), false);
  assert.equal(deleteNetns(placeholder), true, 'a placeholder without a mount is removed too');
});
