import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import {
  array, be16, be32, bytes, type CodecValue, i32, ipv4, ipv6, mac, pad, struct, u16, u32, u32Codec, u64, u64Codec, u8,
} from './codec.js';

const offsets = (c: { fields: readonly { name: string; offset: number }[] }): Record<string, number> =>
  Object.fromEntries(c.fields.map((f) => [f.name, f.offset]));

describe('struct layout', () => {
  test('natural alignment inserts holes and tail padding', { timeout: 5_000 }, () => {
    const s = struct('holes', { a: u8, b: u32, c: u16, d: u64, e: u8 });
    assert.deepEqual(offsets(s), { a: 0, b: 4, c: 8, d: 16, e: 24 });
    assert.equal(s.size, 32); // aligned to 8 by the u64
    assert.equal(s.align, 8);
  });

  test('byte-sized members pack without holes; size rounds up to the largest alignment', { timeout: 5_000 }, () => {
    const s = struct('endpoint_info', { ifindex: u32, unused: u16, lxc_id: u16, flags: u32, mac, node_mac: mac, pad: pad(4) });
    assert.deepEqual(offsets(s), { ifindex: 0, unused: 4, lxc_id: 6, flags: 8, mac: 12, node_mac: 18 });
    assert.equal(s.size, 28);
    assert.deepEqual(s.fields.map((f) => f.name), ['ifindex', 'unused', 'lxc_id', 'flags', 'mac', 'node_mac']);
  });

  test('nested structs and arrays align by their element alignment', { timeout: 5_000 }, () => {
    const inner = struct('inner', { a: u16, b: u32 });
    assert.equal(inner.size, 8);
    const outer = struct('outer', { x: u8, inner, arr: array(u16, 3), y: u8, z: u32 });
    assert.deepEqual(offsets(outer), { x: 0, inner: 4, arr: 12, y: 18, z: 20 });
    assert.equal(outer.size, 24);
  });

  test('packed and aligned options', { timeout: 5_000 }, () => {
    const packed = struct('ct_tuple', { daddr: ipv4, saddr: ipv4, dport: be16, sport: be16, nexthdr: u8, flags: u8 }, { packed: true });
    assert.equal(packed.size, 14);
    const p2 = struct('p2', { a: u8, b: u64 }, { packed: true });
    assert.deepEqual(offsets(p2), { a: 0, b: 1 });
    assert.equal(p2.size, 9);
    const aligned = struct('al', { a: u32 }, { align: 8 });
    assert.equal(aligned.size, 8);
  });

  test('rejects integer-like field names, which JS would reorder', { timeout: 5_000 }, () => {
    assert.throws(() => struct('bad', { a: u8, 1: u8 }), /looks like an integer/);
  });
});

describe('encode and decode', () => {
  const key = struct('lb4_key', { address: ipv4, dport: be16, backend_slot: u16, proto: u8, scope: u8, pad: pad(2) });
  type Lb4Key = CodecValue<typeof key>;

  test('round trip, network order for be16 and ipv4, host order for u16', { timeout: 5_000 }, () => {
    const v: Lb4Key = { address: '10.96.0.10', dport: 8080, backend_slot: 3, proto: 6, scope: 0 };
    const b = key.encode(v);
    assert.equal(b.toString('hex'), '0a60000a' + '1f90' + '0300' + '06' + '00' + '0000');
    assert.deepEqual(key.decode(b), v);
  });

  test('the decoded type is inferred from the field spec (checked by tsc)', { timeout: 5_000 }, () => {
    const v = key.decode(key.encode({ address: '1.2.3.4', dport: 1, backend_slot: 2, proto: 3, scope: 4 }));
    const port: number = v.dport;
    const addr: string = v.address;
    // @ts-expect-error padding is not part of the value
    assert.equal(v.pad, undefined);
    // @ts-expect-error dport is a number, not a string
    const wrong: string = v.dport;
    assert.equal(typeof wrong, 'number');
    assert.equal(port + addr.length, 8);
  });

  test('encoding into a used buffer zeroes holes and padding', { timeout: 5_000 }, () => {
    const s = struct('holes', { a: u8, b: u32, p: pad(2) });
    const buf = Buffer.alloc(16, 0xff);
    s.encode({ a: 1, b: 2 }, buf, 4);
    assert.equal(buf.toString('hex'), 'ffffffff' + '01000000' + '02000000' + '00000000');
    // A long run of padding (zeroed in one go) and a nested struct.
    const wide = struct('wide', { a: u8, p: pad(12), b: u32, n: s });
    const big = Buffer.alloc(wide.size + 2, 0xff);
    wide.encode({ a: 7, b: 9, n: { a: 1, b: 2 } }, big, 1);
    assert.equal(big.toString('hex'), 'ff' + '07' + '00'.repeat(15) + '09000000' + '01000000' + '02000000' + '00000000' + 'ff');
  });

  test('all field types round-trip', { timeout: 5_000 }, () => {
    const all = struct('all', {
      a: u8, b: u16, c: u32, d: u64, e: i32, f: be16, g: be32, h: ipv4, i: mac, j: bytes(3), k: array(u32, 2),
      l: struct('nested', { x: u8, y: i32 }),
    });
    const v: CodecValue<typeof all> = {
      a: 255, b: 65535, c: 4294967295, d: 2n ** 64n - 1n, e: -2147483648, f: 443, g: 0x01020304, h: '255.0.1.2',
      i: 'aa:bb:cc:dd:ee:0f', j: Buffer.from([1, 2, 3]), k: [7, 8], l: { x: 1, y: -1 },
    };
    const b = all.encode(v);
    assert.equal(b.length, all.size);
    assert.deepEqual(all.decode(b), v);
    assert.equal(b.readUInt32BE(all.fields.find((f) => f.name === 'g')!.offset), 0x01020304);
  });

  test('ipv6 parses every text form and decodes to RFC 5952 form', { timeout: 5_000 }, () => {
    const s = struct('v6', { a: ipv6 });
    const cases: Array<[string, string, string]> = [
      ['fd00::1', 'fd000000000000000000000000000001', 'fd00::1'],
      ['::', '00000000000000000000000000000000', '::'],
      ['::1', '00000000000000000000000000000001', '::1'],
      ['2001:DB8:0:0:1:0:0:1', '20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
      ['fe80::', 'fe800000000000000000000000000000', 'fe80::'],
      // RFC 5952 §5: IPv4-mapped addresses keep the dotted quad (as inet_ntop prints them).
      ['::ffff:10.244.251.9', '00000000000000000000ffff0af4fb09', '::ffff:10.244.251.9'],
      ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008', '1:2:3:4:5:6:7:8'],
      ['1:0:3:4:5:6:7:8', '00010000000300040005000600070008', '1:0:3:4:5:6:7:8'],
    ];
    for (const [text, hex, canonical] of cases) {
      const b = s.encode({ a: text });
      assert.equal(b.toString('hex'), hex, text);
      assert.equal(s.decode(b).a, canonical, text);
    }
    assert.equal(ipv6.align, 4);
    assert.throws(() => s.encode({ a: '1::2::3' }), /is not an IPv6 address/);
  });

  test('decoded Buffers are copies', { timeout: 5_000 }, () => {
    const s = struct('b', { raw: bytes(4) });
    const src = Buffer.from([1, 2, 3, 4]);
    const out = s.decode(src);
    src[0] = 9;
    assert.equal(out.raw[0], 1);
  });

  test('scalar codecs', { timeout: 5_000 }, () => {
    assert.equal(u32Codec.encode(0x01020304).toString('hex'), '04030201');
    assert.equal(u64Codec.decode(Buffer.from('0100000000000080', 'hex')), 0x8000000000000001n);
    assert.equal(u32Codec.fields.length, 0);
    assert.equal(u32Codec.cName, '__u32');
  });

  test('ipv4 accepts exactly what net.isIPv4 accepts', { timeout: 5_000 }, () => {
    const cases = ['0.0.0.0', '255.255.255.255', '10.244.1.5', '1.2.3.4', '01.2.3.4', '1.2.3.04', '00.1.1.1', '256.1.1.1', '1.2.3', '1.2.3.4.5', '1..2.3',
      '.1.2.3', '1.2.3.', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.a', '1234.1.1.1', '::1', '', '1.2.3.-4', '9.99.199.249'];
    for (const c of cases) {
      const buf = Buffer.alloc(4);
      let ok = true;
      try {
        ipv4.write(buf, 0, c);
      } catch {
        ok = false;
      }
      assert.equal(ok, net.isIPv4(c), c);
      if (ok) assert.equal(ipv4.read(buf, 0), c);
    }
    assert.throws(() => ipv4.write(Buffer.alloc(4), 0, 7 as unknown as string), /7 is not an IPv4 address/);
  });

  test('errors name the struct and the field', { timeout: 5_000 }, () => {
    assert.throws(() => key.encode({ address: '10.0.0.300', dport: 1, backend_slot: 0, proto: 0, scope: 0 }),
      /struct lb4_key: field address: "10.0.0.300" is not an IPv4 address/);
    assert.throws(() => key.encode({ address: '10.0.0.1', dport: 70000, backend_slot: 0, proto: 0, scope: 0 }),
      (e: Error) => e instanceof RangeError && /field dport: 70000 is not an integer in \[0, 65535\]/.test(e.message));
    assert.throws(() => key.encode({ address: '10.0.0.1', dport: 1, backend_slot: 0, proto: 0 } as unknown as Lb4Key),
      /struct lb4_key: field scope is missing/);
    assert.throws(() => struct('m', { m: mac }).encode({ m: 'aa:bb' }), /field m: "aa:bb" is not a MAC address/);
    assert.throws(() => struct('a', { k: array(u8, 2) }).encode({ k: [1, 300] }), /field k: \[1\]: 300 is not an integer/);
    assert.throws(() => struct('b', { raw: bytes(4) }).encode({ raw: Buffer.alloc(3) }), /field raw: expected 4 bytes, got 3 bytes/);
    assert.throws(() => struct('u', { x: u64 }).encode({ x: 1 as unknown as bigint }), /field x: 1 is not a bigint/);
    assert.throws(() => u32Codec.decode(Buffer.alloc(2)), /decode needs 4 bytes/);
  });
});
