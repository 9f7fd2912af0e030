import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sortInPlace } from './sort.js';

describe('sortInPlace', () => {
  test('sorts like Array.prototype.sort, stably, short and long arrays alike', { timeout: 5_000 }, () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed);
    for (const n of [0, 1, 2, 3, 5, 16, 17, 40]) {
      const items = Array.from({ length: n }, (_, i) => ({ k: rnd() % 4, i }));
      const expected = [...items].sort((a, b) => a.k - b.k);
      const out = sortInPlace(items, (a, b) => a.k - b.k);
      assert.equal(out, items, 'sorted in place');
      assert.deepEqual(out, expected, `n=${n}`);
      // Stable: equal keys keep their input order.
      for (let j = 1; j < out.length; j++) if (out[j - 1].k === out[j].k) assert.ok(out[j - 1].i < out[j].i);
    }
  });
});
