import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockContains, portBlocks } from './ports.js';

const opts = { timeout: 10_000 };
const text = (first: number, last: number): string[] => portBlocks(first, last).map((b) => `${b.port}/${b.prefixLen}`);

test('port ranges decompose into the fewest aligned blocks', opts, () => {
  const cases: [number, number, string[]][] = [
    [80, 80, ['80/16']],
    [80, 83, ['80/14']],
    [80, 84, ['80/14', '84/16']],
    [79, 83, ['79/16', '80/14']],
    [0, 65535, ['0/0']],
    [1, 65535, ['1/16', '2/15', '4/14', '8/13', '16/12', '32/11', '64/10', '128/9', '256/8', '512/7', '1024/6', '2048/5', '4096/4', '8192/3', '16384/2', '32768/1']],
    [1024, 65535, ['1024/6', '2048/5', '4096/4', '8192/3', '16384/2', '32768/1']],
    [65535, 65535, ['65535/16']],
    [8000, 8080, ['8000/10', '8064/12', '8080/16']],
  ];
  for (const [first, last, want] of cases) assert.deepEqual(text(first, last), want, `${first}-${last}`);
});

test('blocks cover exactly the range', opts, () => {
  for (const [first, last] of [[1, 1000], [3, 17], [30000, 32767], [0, 1]] as const) {
    const blocks = portBlocks(first, last);
    const covered = new Set<number>();
    for (const b of blocks) for (let p = b.port; p < b.port + 2 ** (16 - b.prefixLen); p++) covered.add(p);
    assert.equal(covered.size, last - first + 1);
    assert.equal(Math.min(...covered), first);
    assert.equal(Math.max(...covered), last);
  }
});

test('bad ranges throw', opts, () => {
  assert.throws(() => portBlocks(5, 4), RangeError);
  assert.throws(() => portBlocks(-1, 4), RangeError);
  assert.throws(() => portBlocks(1, 65536), RangeError);
});

test('block containment', opts, () => {
  assert.ok(blockContains({ port: 80, prefixLen: 14 }, { port: 81, prefixLen: 16 }));
  assert.ok(blockContains({ port: 0, prefixLen: 0 }, { port: 81, prefixLen: 16 }));
  assert.ok(!blockContains({ port: 80, prefixLen: 16 }, { port: 80, prefixLen: 14 }));
  assert.ok(!blockContains({ port: 84, prefixLen: 14 }, { port: 81, prefixLen: 16 }));
});
