// Unit tests of the netlink message builder and parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attrString, MessageBuilder, parseAttributes, readU16, readU32, splitMessages } from './message.js';
import { NLM_F_ACK, NLM_F_REQUEST } from './constants.js';

test('a built message has a correct header, aligned attributes and nesting', { timeout: 5_000 }, () => {
  const header = Buffer.from([1, 2, 3, 4]);
  const msg = new MessageBuilder(16, NLM_F_ACK, header)
    .string(3, 'eth0')
    .u8(7, 9)
    .nested(18, (b) => b.u32(1, 0xdeadbeef).string(2, 'veth'))
    .finish(42);
  assert.equal(readU32(msg, 0), msg.length);
  assert.equal(msg.length % 4, 0);
  assert.equal(readU16(msg, 4), 16);
  assert.equal(readU16(msg, 6), NLM_F_ACK | NLM_F_REQUEST);
  assert.equal(readU32(msg, 8), 42);
  // What the kernel would send back has the same layout: split it and read the attributes.
  const [parsed] = splitMessages(msg);
  assert.equal(parsed.seq, 42);
  assert.deepEqual([...parsed.payload.subarray(0, 4)], [1, 2, 3, 4]);
  const attrs = parseAttributes(parsed.payload, 4);
  assert.equal(attrString(attrs.get(3) ?? Buffer.alloc(0)), 'eth0');
  assert.equal(attrs.get(7)?.readUInt8(0), 9);
  const nested = parseAttributes(attrs.get(18) ?? Buffer.alloc(0));
  assert.equal(readU32(nested.get(1) ?? Buffer.alloc(4), 0), 0xdeadbeef);
  assert.equal(attrString(nested.get(2) ?? Buffer.alloc(0)), 'veth');
});

test('splitMessages handles several messages and rejects a bad length', { timeout: 5_000 }, () => {
  const a = Buffer.from(new MessageBuilder(1, 0, Buffer.alloc(0)).u8(1, 1).finish(1));
  const b = Buffer.from(new MessageBuilder(2, 0, Buffer.alloc(3)).finish(2));
  const both = Buffer.concat([a, b]);
  assert.deepEqual(splitMessages(both).map((m) => m.seq), [1, 2]);
  const broken = Buffer.from(both);
  broken.writeUInt32LE(9999, 0);
  assert.throws(() => splitMessages(broken), /malformed/);
});

test('a builder grows past its initial buffer', { timeout: 5_000 }, () => {
  const b = new MessageBuilder(1, 0, Buffer.alloc(0));
  for (let i = 0; i < 200; i++) b.u32(1, i);
  b.nestedWithHeader(2, Buffer.alloc(300, 7), (n) => n.u8(3, 1));
  const msg = b.finish(1);
  assert.equal(msg.length, 16 + 200 * 8 + 4 + 300 + 8);
  const attrs = [...parseAttributes(msg, 16 + 199 * 8)];
  assert.equal(readU32(attrs[0][1], 0), 199);
  assert.equal(attrs[1][1].length, 308);
  assert.equal(attrs[1][1][299], 7);
});
