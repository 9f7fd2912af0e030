import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CidrIndex } from './compute.js';

describe('ipcache CIDR index', () => {
  const idx = new CidrIndex(
    new Map([
      ['10.0.0.0/8', 100],
      ['10.244.0.0/16', 200],
      ['10.244.7.0/24', 300],
      ['0.0.0.0/0', 1],
    ]),
  );

  test('the longest referenced prefix containing an address wins', () => {
    assert.equal(idx.forAddress('10.244.7.9'), 300);
    assert.equal(idx.forAddress('10.244.8.9'), 200);
    assert.equal(idx.forAddress('10.1.2.3'), 100);
    assert.equal(idx.forAddress('192.168.1.1'), 1);
  });

  test('a prefix is contained in itself and in wider ones, never in narrower ones', () => {
    assert.equal(idx.longestContaining('10.244.0.0/16'), 200);
    assert.equal(idx.longestContaining('10.244.0.0/15'), 100);
    assert.equal(new CidrIndex(new Map([['10.244.7.0/24', 1]])).longestContaining('10.244.0.0/16'), 0);
  });
});
