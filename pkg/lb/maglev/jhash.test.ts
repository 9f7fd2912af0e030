import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { flowHashWords, jhash1word, jhash2words, jhash3words, maglevFlowHash, maglevIndex } from './index.js';

const T = { timeout: 10_000 };

// Known answers computed in C: a 40-line program implementing jhash_3words/_2words/_1word exactly
// as include/linux/jhash.h (u32 arithmetic, rol32, __jhash_final, JHASH_INITVAL 0xdeadbeef),
// compiled with gcc 12.2 (Debian 12, x86-64) at -O0 and -O2 (identical output). The flow rows
// filled a struct from inet_pton/htons (network order in memory, as in an IPv4 header) and hashed
// the fields as loaded ("raw") and after ntohl/ntohs ("host").
const THREE_WORDS: [number, number, number, number, number][] = [
  [0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x1b68e557],
  [0x00000001, 0x00000002, 0x00000003, 0x00000004, 0x8103143f],
  [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xc343af0b],
  [0xdeadbeef, 0xcafebabe, 0x12345678, 0x00000000, 0xf41aa286],
  [0x0a000001, 0x0a600001, 0x1f900050, 0x00000006, 0xa09b6de0],
  [0x80000000, 0x7fffffff, 0x00010001, 0x00000011, 0x1b1fbc4d],
  [0x0100000a, 0x0100600a, 0x50001f90, 0x0000cafe, 0xac46bb75],
];

const FLOWS: { saddr: string; daddr: string; sport: number; dport: number; protocol: number; rawWords: [number, number, number]; raw: number; host: number }[] = [
  { saddr: '10.244.1.5', daddr: '10.96.0.10', sport: 40000, dport: 80, protocol: 6, rawWords: [0x0501f40a, 0x0a00600a, 0x409c5000], raw: 0x79acce59, host: 0x819eaa48 },
  { saddr: '10.244.2.7', daddr: '10.96.0.10', sport: 54321, dport: 8080, protocol: 6, rawWords: [0x0702f40a, 0x0a00600a, 0x31d4901f], raw: 0xca6ba274, host: 0xdb954187 },
  { saddr: '192.168.1.1', daddr: '10.96.100.1', sport: 1, dport: 65535, protocol: 17, rawWords: [0x0101a8c0, 0x0164600a, 0x0100ffff], raw: 0x8b6ecb2f, host: 0xeabfb173 },
  { saddr: '10.244.0.2', daddr: '10.96.0.53', sport: 33333, dport: 53, protocol: 132, rawWords: [0x0200f40a, 0x3500600a, 0x35823500], raw: 0xee520dc6, host: 0x9017348d },
];

describe('jhash (Linux include/linux/jhash.h)', () => {
  for (const [a, b, c, initval, expected] of THREE_WORDS) {
    test(`jhash_3words(${a.toString(16)}, ${b.toString(16)}, ${c.toString(16)}, ${initval.toString(16)}) = ${expected.toString(16)}`, T, () => {
      assert.equal(jhash3words(a, b, c, initval), expected);
    });
  }

  test('jhash_2words and jhash_1word', T, () => {
    assert.equal(jhash2words(0x12345678, 0x9abcdef0, 7), 0xe7f4c4b6);
    assert.equal(jhash1word(0x12345678, 7), 0xa95f67a1);
  });

  test('arguments are taken modulo 2^32 (negative and oversized numbers)', T, () => {
    assert.equal(jhash3words(-1, -1, -1, -1), 0xc343af0b);
    assert.equal(jhash3words(2 ** 32 + 1, 2, 3, 4), 0x8103143f);
  });
});

describe('Maglev flow hash', () => {
  for (const flow of FLOWS) {
    test(`${flow.saddr}:${flow.sport} -> ${flow.daddr}:${flow.dport}/${flow.protocol}`, T, () => {
      const [a, b, c, initval] = flowHashWords(flow);
      assert.deepEqual([a, b, c], flow.rawWords, 'raw words as a little-endian CPU loads the header fields');
      assert.equal(initval, flow.protocol);
      assert.equal(maglevFlowHash(flow), flow.raw);
      assert.equal(maglevFlowHash(flow, 'host'), flow.host);
    });
  }

  test('model protocols map to IANA numbers; index is hash mod M', T, () => {
    const flow = FLOWS[0];
    assert.equal(maglevFlowHash({ ...flow, protocol: 'TCP' }), flow.raw);
    assert.equal(maglevIndex(flow.raw, 16381), 0x79acce59 % 16381);
    assert.ok(maglevIndex(0xffffffff, 251) < 251);
  });

  test('rejects malformed tuples', T, () => {
    assert.throws(() => maglevFlowHash({ ...FLOWS[0], saddr: '10.0.0' }), RangeError);
    assert.throws(() => maglevFlowHash({ ...FLOWS[0], sport: 65536 }), RangeError);
  });
});
