import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LbValidationError } from '../model/index.js';
import { apportionSlots, DEFAULT_MAX_SLOTS, layoutSlots, type SlotBackend } from './index.js';

const T = { timeout: 10_000 };

function counts(slots: readonly number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const id of slots) out[id] = (out[id] ?? 0) + 1;
  return out;
}

const active = (id: number, weight = 1, nodeName?: string): SlotBackend => ({ id, weight, state: 'active', ...(nodeName ? { nodeName } : {}) });

describe('layoutSlots', () => {
  test('equal weights: one slot per backend, ordered by id', T, () => {
    assert.deepEqual(layoutSlots([active(7), active(3), active(5)]), { slots: [3, 5, 7], scaled: false });
  });

  test('no backends, or none eligible: zero slots (the datapath drops)', T, () => {
    assert.deepEqual(layoutSlots([]).slots, []);
    assert.deepEqual(
      layoutSlots([
        { id: 1, weight: 1, state: 'terminating' },
        { id: 2, weight: 1, state: 'quarantined' },
        { id: 3, weight: 1, state: 'maintenance' },
        { id: 4, weight: 0, state: 'active' },
      ]).slots,
      [],
    );
  });

  test('terminating, quarantined, maintenance and weight-0 backends get no slots', T, () => {
    const { slots } = layoutSlots([
      active(1),
      { id: 2, weight: 1, state: 'terminating' },
      { id: 3, weight: 5, state: 'quarantined' },
      { id: 4, weight: 1, state: 'maintenance' },
      active(5, 0),
      active(6, 2),
    ]);
    assert.deepEqual(slots, [1, 6, 6]);
  });

  test('terminating fallback when asked and nothing is active', T, () => {
    const backends: SlotBackend[] = [{ id: 2, weight: 1, state: 'terminating' }, { id: 1, weight: 1, state: 'quarantined' }];
    assert.deepEqual(layoutSlots(backends).slots, []);
    assert.deepEqual(layoutSlots(backends, { terminatingFallback: true }).slots, [2]);
    assert.deepEqual(layoutSlots([...backends, active(9)], { terminatingFallback: true }).slots, [9], 'active backends win');
  });

  test('Local traffic policy keeps backends on this node', T, () => {
    const backends = [active(1, 1, 'node-a'), active(2, 1, 'node-b'), active(3, 1)];
    assert.deepEqual(layoutSlots(backends, { trafficPolicy: 'Local', localNodeName: 'node-a' }).slots, [1]);
    assert.deepEqual(layoutSlots(backends, { trafficPolicy: 'Local', localNodeName: 'node-c' }).slots, []);
  });

  test('weights map to slot counts exactly after dividing by their gcd', T, () => {
    assert.deepEqual(counts(layoutSlots([active(1, 2), active(2, 4)]).slots), { 1: 1, 2: 2 });
    assert.deepEqual(counts(layoutSlots([active(1, 100), active(2, 300), active(3, 200)]).slots), { 1: 1, 2: 3, 3: 2 });
    const { slots, scaled } = layoutSlots([active(1, 3), active(2, 1), active(3, 1)]);
    assert.deepEqual(slots, [1, 1, 1, 2, 3], 'contiguous runs in id order');
    assert.equal(scaled, false);
  });

  test('uneven weights beyond the budget are scaled to exactly the budget, everyone keeps a slot', T, () => {
    const { slots, scaled } = layoutSlots([active(1, 1000), active(2, 1), active(3, 499)]);
    assert.equal(scaled, true);
    assert.equal(slots.length, DEFAULT_MAX_SLOTS);
    const c = counts(slots);
    assert.equal(c[2], 1, 'a tiny weight is pinned to one slot');
    // The rest (255 slots) split 1000:499 → 170.2 : 84.8 → 170 and 85.
    assert.deepEqual(c, { 1: 170, 2: 1, 3: 85 });
  });

  test('the budget is configurable and never below the number of eligible backends', T, () => {
    assert.equal(layoutSlots([active(1, 7), active(2, 3)], { maxSlots: 4 }).slots.length, 4);
    const many = Array.from({ length: 300 }, (_, i) => active(i + 1, i === 0 ? 50 : 1));
    const { slots } = layoutSlots(many, { maxSlots: 16 });
    assert.equal(slots.length, 300, 'budget raised to the backend count: one slot each');
    assert.equal(new Set(slots).size, 300);
  });

  test('rejects bad and duplicate ids, bad budgets', T, () => {
    const field = (fn: () => unknown, name: string): void =>
      assert.throws(fn, (e: unknown) => e instanceof LbValidationError && e.field === name);
    field(() => layoutSlots([active(0)]), 'backends[0].id');
    field(() => layoutSlots([active(1), active(1)]), 'backends[1].id');
    field(() => layoutSlots([active(2 ** 32)]), 'backends[0].id');
    field(() => layoutSlots([active(1)], { maxSlots: 0 }), 'maxSlots');
    field(() => layoutSlots([active(1)], { maxSlots: 65536 }), 'maxSlots');
  });
});

describe('apportionSlots', () => {
  test('hand-checked: pins shares below one slot, then largest remainders', T, () => {
    // Weights 13,1,97,400,2,2,55 (sum 570) into 100 slots: 1, 2 and 2 would get < 1 slot → pinned
    // to 1; the other 97 slots split 13:97:400:55 (sum 565) → 2.23, 16.65, 68.67, 9.44 → floors
    // 2, 16, 68, 9 (95) and the 2 leftovers go to the largest remainders (.67 → 400, .65 → 97).
    assert.deepEqual(apportionSlots([13, 1, 97, 400, 2, 2, 55], 100), { counts: [2, 1, 17, 69, 1, 1, 9], scaled: true });
  });

  test('scaled layouts use exactly the budget, give everyone a slot and respect weight order', T, () => {
    const weights = [13, 1, 97, 400, 2, 2, 55, 1000, 3];
    for (const budget of [9, 10, 16, 64, 100, 256]) {
      const { counts: c, scaled } = apportionSlots(weights, budget);
      assert.equal(scaled, true);
      assert.equal(c.reduce((a, b) => a + b, 0), budget);
      for (let i = 0; i < weights.length; i++) {
        assert.ok(c[i] >= 1);
        for (let j = 0; j < weights.length; j++) if (weights[i] > weights[j]) assert.ok(c[i] >= c[j], `budget ${budget}: ${i} vs ${j}`);
      }
    }
  });

  test('rejects weights that are not positive integers and budgets below the backend count', T, () => {
    assert.throws(() => apportionSlots([1, 0], 10), RangeError);
    assert.throws(() => apportionSlots([1.5], 10), RangeError);
    assert.throws(() => apportionSlots([1, 1, 1], 2), RangeError);
  });
});
