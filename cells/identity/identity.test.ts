import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { invoke } from '../../pkg/hive/index.js';
import { testHive } from '../../pkg/hive/hivetest/hivetest.js';
import { LabelSet, cidrLabels, isLocalIdentity } from '../../pkg/labels/index.js';
import { StateDBCell } from '../../pkg/statedb/index.js';
import { DaemonConfigCell } from '../daemon-config/cell.js';
import { IdentityCell } from './cell.js';
import { IIdentityAllocator, type IdentityAllocator } from './types.js';

function hive(stateDir: string, extra: string[] = []) {
  let alloc!: IdentityAllocator;
  const h = testHive([StateDBCell, DaemonConfigCell, IdentityCell, invoke('grab', [IIdentityAllocator], (a) => (alloc = a))], {
    argv: ['--log-level=debug', `--state-dir=${stateDir}`, '--bpf-root=/sys/fs/bpf/cilia-test-identity', ...extra],
  });
  return { h, alloc: () => alloc };
}

const web = LabelSet.parse(['k8s:app=web', 'k8s:io.kubernetes.pod.namespace=default']);
const db = LabelSet.parse(['k8s:app=db', 'k8s:io.kubernetes.pod.namespace=default']);

describe('identity cell', () => {
  test('reserved identities exist; endpoint identities start at 256 and are reference counted', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-id-'));
    t.after(() => {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync('/sys/fs/bpf/cilia-test-identity', { recursive: true, force: true });
    });
    const { h, alloc } = hive(dir);
    await h.start();
    const a = alloc();
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((id) => a.get(id)?.labels.toString()), [
      'reserved:host',
      'reserved:world',
      'reserved:unmanaged',
      'reserved:health',
      'reserved:init',
      'reserved:remote-node',
    ]);
    const w1 = a.acquire(web, 'endpoint');
    assert.equal(w1.id, 256);
    assert.equal(a.acquire(web, 'endpoint').refs, 2, 'same labels, same identity, one more reference');
    assert.equal(a.acquire(db, 'endpoint').id, 257);
    assert.ok(a.release(256));
    assert.equal(a.get(256)?.refs, 1);
    assert.ok(a.release(256));
    assert.equal(a.get(256), undefined, 'freed at zero references');
    assert.equal(a.release(1), false, 'reserved identities are never released');
    const c = a.acquire(cidrLabels('10.0.0.0/8'), 'cidr');
    assert.ok(isLocalIdentity(c.id));
    await h.hive.stop();
  });

  test('numbers survive a restart; unclaimed ones are forgotten after the grace period', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-id-'));
    t.after(() => {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync('/sys/fs/bpf/cilia-test-identity', { recursive: true, force: true });
    });
    const one = hive(dir);
    await one.h.start();
    one.alloc().acquire(web, 'endpoint'); // 256
    const dbId = one.alloc().acquire(db, 'endpoint').id; // 257
    await one.h.hive.stop();

    const two = hive(dir, ['--identity-restore-grace-ms=50']);
    await two.h.start();
    // Acquire in the other order: each label set still gets its old number.
    assert.equal(two.alloc().acquire(db, 'endpoint').id, dbId);
    await new Promise((r) => setTimeout(r, 150));
    // `web` was not claimed within the grace period: its number is free again, `db` keeps its own.
    const other = two.alloc().acquire(LabelSet.parse(['k8s:app=other']), 'endpoint');
    assert.notEqual(other.id, dbId);
    assert.equal(two.alloc().acquire(web, 'endpoint').id === dbId, false);
    await two.h.hive.stop();
  });
});
