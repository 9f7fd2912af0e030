// Real-kernel tests of withNetns: it runs code in the target netns and always switches back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createNetns, deleteNetns } from './netns.js';
import { currentNetnsInode, openNetns, withNetns } from './with-netns.js';
import { SyscallError } from './libc.js';

const name = `cn-wn${process.pid}`;
const other = `cn-wn${process.pid}-b`;
let hostInode = 0;
before(() => {
  hostInode = currentNetnsInode();
  createNetns(name);
  createNetns(other);
});
after(() => {
  deleteNetns(name);
  deleteNetns(other);
});

function sysNetDevices(): string[] {
  // /proc/net/dev is per netns of the reading thread: a cheap way to see where we are.
  return fs.readFileSync('/proc/thread-self/net/dev', 'utf8').split('\n').slice(2)
    .map((line) => line.split(':')[0].trim()).filter((n) => n !== '');
}

test('withNetns runs fn inside the namespace and returns its result', { timeout: 30_000 }, () => {
  const inside = withNetns(name, () => ({ inode: currentNetnsInode(), devices: sysNetDevices() }));
  assert.notEqual(inside.inode, hostInode);
  assert.deepEqual(inside.devices, ['lo']);
  assert.equal(currentNetnsInode(), hostInode);
});

test('withNetns accepts a path and an fd, and leaves the fd open', { timeout: 30_000 }, () => {
  const byName = withNetns(name, currentNetnsInode);
  assert.equal(withNetns(`/run/netns/${name}`, currentNetnsInode), byName);
  const fd = openNetns(name);
  try {
    assert.equal(withNetns(fd, currentNetnsInode), byName);
    assert.equal(fs.fstatSync(fd).ino, byName, 'fd still open and valid');
  } finally {
    fs.closeSync(fd);
  }
});

test('withNetns switches back when fn throws, and nests', { timeout: 30_000 }, () => {
  assert.throws(() => withNetns(name, () => { throw new Error('boom'); }), /boom/);
  assert.equal(currentNetnsInode(), hostInode);
  const outerInode = withNetns(name, currentNetnsInode);
  const nested = withNetns(name, () => {
    const inner = withNetns(other, currentNetnsInode);
    return { inner, outer: currentNetnsInode() };
  });
  assert.notEqual(nested.inner, outerInode);
  assert.equal(nested.outer, outerInode, 'back in the outer target after the inner call');
  assert.throws(() => withNetns(name, () => withNetns(other, () => { throw new Error('inner'); })), /inner/);
  assert.equal(currentNetnsInode(), hostInode);
});

test('withNetns refuses async functions and Promise results', { timeout: 30_000 }, () => {
  let ran = false;
  assert.throws(() => withNetns(name, async () => { ran = true; }), TypeError);
  assert.equal(ran, false, 'an async fn is refused before it runs');
  assert.throws(() => withNetns(name, () => Promise.resolve(1)), /returned a Promise/);
  assert.equal(currentNetnsInode(), hostInode);
});

test('withNetns on something that is not a netns fails cleanly', { timeout: 30_000 }, () => {
  assert.throws(() => withNetns('/proc/self/ns/mnt', () => 1), (err: unknown) =>
    err instanceof SyscallError && err.code === 'EINVAL');
  assert.throws(() => withNetns(`${name}-missing`, () => 1), /ENOENT/);
  assert.equal(currentNetnsInode(), hostInode);
});
