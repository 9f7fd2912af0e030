import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LbValidationError } from '../model/index.js';
import {
  buildMaglevTable,
  checkMaglevTableSize,
  CILIUM_MAGLEV_TABLE_SIZES,
  DEFAULT_MAGLEV_TABLE_SIZE,
  isPrime,
  maglevFlowHash,
  maglevIndex,
  maglevOffsetSkip,
  maglevPermutation,
  populateMaglevTable,
  type MaglevBackend,
} from './index.js';

const T = { timeout: 30_000 };

function backends(n: number, weight: (i: number) => number = () => 1): MaglevBackend[] {
  return Array.from({ length: n }, (_, i) => ({ id: 100 + i, identity: `10.244.${i >> 8}.${(i & 255) + 1}:8080/TCP`, weight: weight(i) }));
}

function tally(table: Uint32Array): Map<number, number> {
  const out = new Map<number, number>();
  for (const id of table) out.set(id, (out.get(id) ?? 0) + 1);
  return out;
}

describe('Maglev population (hand-checked)', () => {
  // The example of the Maglev paper (Table 1): M = 7, B0 (offset 3, skip 4), B1 (0, 2), B2 (3, 1).
  const b0 = { offset: 3, skip: 4, weight: 1 };
  const b1 = { offset: 0, skip: 2, weight: 1 };
  const b2 = { offset: 3, skip: 1, weight: 1 };

  test('paper example before removal: B1 B0 B1 B0 B2 B2 B0', T, () => {
    assert.deepEqual(Array.from(populateMaglevTable([b0, b1, b2], 7)), [1, 0, 1, 0, 2, 2, 0]);
  });

  test('paper example after B1 is removed: B0 B0 B0 B0 B2 B2 B2', T, () => {
    assert.deepEqual(Array.from(populateMaglevTable([b0, b2], 7)), [0, 0, 0, 0, 1, 1, 1]);
  });

  test('weights 2:1 take turns B0 B1 B0 B0 B1 B0 B0 (smooth weighted round robin)', T, () => {
    // B0 claims 3, (0 taken) 4, 1, 5, (2 taken) 6; B1 claims 0, 2.
    assert.deepEqual(Array.from(populateMaglevTable([{ ...b0, weight: 2 }, b1], 7)), [1, 0, 1, 0, 0, 0, 0]);
  });

  test('rejects no backends, more backends than slots and bad weights', T, () => {
    assert.throws(() => populateMaglevTable([], 7), RangeError);
    assert.throws(() => populateMaglevTable([b0, b1, b2], 2), RangeError);
    assert.throws(() => populateMaglevTable([{ ...b0, weight: 0 }], 7), RangeError);
  });
});

describe('Maglev permutations', () => {
  test('offset in 0..M-1, skip in 1..M-1, and every preference list is a permutation', T, () => {
    for (const m of [7, 251, 1021]) {
      for (const b of backends(20)) {
        const os = maglevOffsetSkip(b.identity, m);
        assert.ok(os.offset >= 0 && os.offset < m);
        assert.ok(os.skip >= 1 && os.skip < m);
        const perm = maglevPermutation(os, m);
        assert.equal(perm[0], os.offset);
        assert.equal(new Set(perm).size, m, `${b.identity} visits all ${m} slots`);
      }
    }
  });

  test('hashes are deterministic and differ between backends', T, () => {
    assert.deepEqual(maglevOffsetSkip('10.244.1.5:8080/TCP', 16381), maglevOffsetSkip('10.244.1.5:8080/TCP', 16381));
    const distinct = new Set(backends(50).map((b) => JSON.stringify(maglevOffsetSkip(b.identity, 16381))));
    assert.equal(distinct.size, 50);
  });
});

describe('Maglev tables', () => {
  test('table sizes must be prime; Cilium sizes are accepted', T, () => {
    for (const m of CILIUM_MAGLEV_TABLE_SIZES) assert.equal(checkMaglevTableSize(m), m);
    assert.equal(DEFAULT_MAGLEV_TABLE_SIZE, 16381);
    for (const bad of [1, 4, 256, 16384, 131073, 262139, 2.5]) {
      assert.throws(() => checkMaglevTableSize(bad), (e: unknown) => e instanceof LbValidationError && e.field === 'maglevTableSize', String(bad));
    }
    assert.deepEqual([2, 3, 4, 9, 97, 100].map(isPrime), [true, true, false, false, true, false]);
  });

  test('equal weights: every backend gets floor(M/N) or ceil(M/N) entries', T, () => {
    for (const [m, n] of [[251, 7], [4093, 10], [16381, 100]]) {
      const counts = tally(buildMaglevTable(backends(n), m));
      assert.equal(counts.size, n);
      for (const c of counts.values()) assert.ok(c === Math.floor(m / n) || c === Math.ceil(m / n), `M ${m} N ${n}: ${c}`);
    }
  });

  test('weights: entries proportional to weight (within one entry)', T, () => {
    const m = 16381;
    const bs = backends(4, (i) => [1, 2, 3, 10][i]);
    const counts = tally(buildMaglevTable(bs, m));
    for (const b of bs) {
      const expected = (m * b.weight) / 16;
      assert.ok(Math.abs((counts.get(b.id) ?? 0) - expected) <= 1, `${b.identity}: ${counts.get(b.id)} vs ${expected}`);
    }
  });

  test('weight-0 backends get no entries; no eligible backend gives an empty table', T, () => {
    const bs = backends(3, (i) => (i === 1 ? 0 : 1));
    assert.equal(tally(buildMaglevTable(bs, 251)).has(bs[1].id), false);
    assert.equal(buildMaglevTable(backends(2, () => 0), 251).length, 0);
    assert.equal(buildMaglevTable([], 251).length, 0);
  });

  test('does not depend on input order or on backend ids', T, () => {
    const bs = backends(30);
    const a = buildMaglevTable(bs, 4093);
    const b = buildMaglevTable([...bs].reverse(), 4093);
    assert.deepEqual(a, b);
    const renamed = buildMaglevTable(bs.map((x) => ({ ...x, id: x.id + 1000 })), 4093);
    assert.deepEqual(Array.from(renamed, (id) => id - 1000), Array.from(a));
  });

  test('minimal disruption: removing one of N backends moves ~1/N of the entries', T, () => {
    const m = 16381;
    const n = 10;
    const bs = backends(n);
    const before = buildMaglevTable(bs, m);
    for (let r = 0; r < n; r++) {
      const after = buildMaglevTable(bs.filter((_, i) => i !== r), m);
      let owned = 0;
      let collateral = 0;
      for (let k = 0; k < m; k++) {
        if (before[k] === bs[r].id) owned++;
        else if (before[k] !== after[k]) collateral++;
      }
      // The removed backend's own ~M/N entries must move; Maglev moves only a few others
      // (measured ≤ 0.6% at M = 16381, N = 10; the bound leaves room for other hash inputs).
      assert.ok(owned >= Math.floor(m / n) && owned <= Math.ceil(m / n));
      assert.ok(collateral / m < 0.01, `removing #${r} moved ${collateral} other entries`);
      assert.ok(!after.includes(bs[r].id));
    }
  });

  test('minimal disruption: adding a backend moves about 1/(N+1) of the entries, mostly to it', T, () => {
    const m = 16381;
    const bs = backends(10);
    const before = buildMaglevTable(bs, m);
    const added: MaglevBackend = { id: 999, identity: '10.244.9.9:8080/TCP', weight: 1 };
    const after = buildMaglevTable([...bs, added], m);
    let moved = 0;
    for (let k = 0; k < m; k++) if (before[k] !== after[k]) moved++;
    assert.ok(moved / m < (1 / 11) * 1.1, `moved ${moved}`);
  });

  test('the datapath choice: a flow always lands on the same backend, flows spread over all', T, () => {
    const m = 251;
    const bs = backends(5);
    const table = buildMaglevTable(bs, m);
    const pick = (sport: number): number =>
      table[maglevIndex(maglevFlowHash({ saddr: '10.244.7.7', daddr: '10.96.0.10', sport, dport: 80, protocol: 'TCP' }), m)];
    assert.equal(pick(40000), pick(40000));
    const chosen = new Set(Array.from({ length: 500 }, (_, i) => pick(30000 + i)));
    assert.deepEqual([...chosen].sort(), bs.map((b) => b.id).sort());
  });

  test('rejects bad ids, duplicate identities, bad weights and too many backends', T, () => {
    const field = (fn: () => unknown, name: string): void =>
      assert.throws(fn, (e: unknown) => e instanceof LbValidationError && e.field === name, name);
    field(() => buildMaglevTable([{ id: 0, identity: 'a', weight: 1 }], 7), 'backends[0].id');
    field(() => buildMaglevTable([{ id: 1, identity: 'a', weight: 1 }, { id: 1, identity: 'b', weight: 1 }], 7), 'backends[1].id');
    field(() => buildMaglevTable([{ id: 1, identity: 'a', weight: 1 }, { id: 2, identity: 'a', weight: 1 }], 7), 'backends[1].identity');
    field(() => buildMaglevTable([{ id: 1, identity: 'a', weight: 1.5 }], 7), 'backends[0].weight');
    field(() => buildMaglevTable(backends(8), 7), 'maglevTableSize');
    field(() => buildMaglevTable(backends(1), 16384), 'maglevTableSize');
  });
});
