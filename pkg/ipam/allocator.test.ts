import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type AllocatorSnapshot, HostScopeAllocator, IpamConflictError, IpamExhaustedError, parseCidr4 } from './index.js';

describe('host-scope IPAM', () => {
  test('skips network, broadcast and reserved addresses; is idempotent per owner', () => {
    const a = new HostScopeAllocator('10.244.9.0/29', ['10.244.9.1']);
    assert.equal(a.capacity(), 5);
    assert.equal(a.allocate('ep-a'), '10.244.9.2');
    assert.equal(a.allocate('ep-a'), '10.244.9.2');
    assert.equal(a.allocate('ep-b'), '10.244.9.3');
    assert.equal(a.used(), 2);
  });

  test('does not reuse a released address until the range wraps', () => {
    const a = new HostScopeAllocator('10.244.9.0/29', ['10.244.9.1']);
    const first = a.allocate('x');
    a.release(first);
    assert.notEqual(a.allocate('y'), first);
  });

  test('exhaustion and conflicts are typed errors', () => {
    const a = new HostScopeAllocator('10.244.9.0/30');
    a.allocate('a');
    a.allocate('b');
    assert.throws(() => a.allocate('c'), IpamExhaustedError);
    assert.throws(() => a.allocateSpecific('10.244.9.1', 'c'), /already leased to a/);
    assert.throws(() => a.allocateSpecific('10.244.8.1', 'c'), IpamConflictError);
    assert.throws(() => a.allocateSpecific('10.244.9.3', 'c'), /reserved/);
  });

  test('snapshot and restore keep every lease and the rotation point', () => {
    const a = new HostScopeAllocator('10.244.9.0/28', ['10.244.9.1']);
    a.allocate('a');
    a.allocate('b');
    a.release('10.244.9.2');
    const b = new HostScopeAllocator('10.244.9.0/28', ['10.244.9.1']);
    assert.deepEqual(b.restore(JSON.parse(JSON.stringify(a.snapshot())) as AllocatorSnapshot), []);
    assert.equal(b.ownerOf('10.244.9.3'), 'b');
    assert.equal(b.allocate('c'), a.allocate('c'));
  });

  test('CIDR parsing names the mistake', () => {
    assert.throws(() => parseCidr4('10.244.9.5/24'), /host bits set \(did you mean 10\.244\.9\.0\/24\?\)/);
    assert.throws(() => parseCidr4('10.244.9.0/33'), /invalid IPv4 CIDR/);
    assert.throws(() => new HostScopeAllocator('10.0.0.0/31'), /too small/);
  });
});
