// Decoding and formatting of datapath events, from records built with the codec (the kernel-side tests
// check real records from the ring buffer).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ciliaEvent, decodeEvent, eventToJSON, formatEvent, type CiliaEventRecord } from './events.js';
import { dropReasonName, dropReasonText, DROP_REASONS } from './reasons.js';

function record(r: Partial<CiliaEventRecord>): Buffer {
  return ciliaEvent.encode({
    type: 1, subtype: 0, source: 12, ifindex: 7, src_label: 300, dst_label: 301, dst_id: 12, line: 123, file: 2, dir: 2,
    ct_state: 0, verdict: 0, proto: 6, tcp_flags: 0x02, sport: 41022, dport: 80, saddr: '10.244.0.5', daddr: '10.244.0.6',
    orig_len: 54, hash: 0xabc, ktime_ns: 5n, ...r,
  });
}

describe('datapath events', () => {
  test('a drop: cilium monitor line and JSON', () => {
    const ev = decodeEvent(record({ type: 1, subtype: 133 }));
    assert.equal(ev.type, 'drop');
    assert.equal(formatEvent(ev),
      'xx drop (Policy denied) flow 0xabc to endpoint 12, ifindex 7, file bpf_lxc.c:123, identity 300->301: 10.244.0.5:41022 -> 10.244.0.6:80 tcp SYN');
    assert.deepEqual(eventToJSON(ev), {
      type: 'drop', ktimeNs: '5', source: 12, ifindex: 7, hash: 0xabc, srcLabel: 300, dstLabel: 301, dstId: 12, dir: 'egress',
      origLen: 54, proto: 6, protoName: 'tcp', saddr: '10.244.0.5', daddr: '10.244.0.6', sport: 41022, dport: 80,
      summary: '10.244.0.5:41022 -> 10.244.0.6:80 tcp SYN', tcpFlags: ['SYN'], reason: 133, reasonName: 'DROP_POLICY',
      reasonText: 'Policy denied', file: 'bpf_lxc.c', line: 123,
    });
  });

  test('a trace with the interface name', () => {
    const ev = decodeEvent(record({ type: 4, subtype: 0, ct_state: 0, ifindex: 42, tcp_flags: 0x12 }));
    assert.equal(formatEvent(ev, { ifname: (i) => (i === 42 ? 'lxc1234' : undefined) }),
      '-> endpoint 12 flow 0xabc identity 300->301 state new ifindex lxc1234: 10.244.0.5:41022 -> 10.244.0.6:80 tcp SYN, ACK');
    assert.match(formatEvent(decodeEvent(record({ type: 4, subtype: 3, ct_state: 1, tcp_flags: 0x11 }))), /^-> stack flow 0xabc identity 300->301 state established ifindex 7: .* tcp ACK, FIN$/);
    assert.equal(eventToJSON(ev).obsPointName, 'to-endpoint');
  });

  test('a policy verdict', () => {
    const ev = decodeEvent(record({ type: 5, subtype: 2, verdict: 1, dir: 1, source: 12 }));
    assert.equal(formatEvent(ev),
      'Policy verdict log: flow 0xabc local EP ID 12, remote ID 300, proto 6, ingress, action allow, match L3-L4, 10.244.0.5:41022 -> 10.244.0.6:80 tcp SYN');
    const deny = decodeEvent(record({ type: 5, subtype: 0, verdict: 3, dir: 2 }));
    assert.match(formatEvent(deny), /remote ID 301, proto 6, egress, action deny, match none,/);
    assert.equal(eventToJSON(deny).deniedByRule, true);
  });

  test('ICMP and UDP summaries', () => {
    const echo = decodeEvent(record({ type: 4, subtype: 3, proto: 1, tcp_flags: 8, sport: 7, dport: 0 }));
    assert.deepEqual(echo.icmp, { type: 8, code: 0 });
    assert.match(formatEvent(echo), /: 10\.244\.0\.5 -> 10\.244\.0\.6 EchoRequest$/);
    const unreach = decodeEvent(record({ type: 1, subtype: 144, proto: 1, tcp_flags: 3, sport: 0, dport: 3 }));
    assert.match(formatEvent(unreach), /\(Unknown ICMPv4 type\).* 10\.244\.0\.5 -> 10\.244\.0\.6 DestinationUnreachable\(Port\)$/);
    assert.match(formatEvent(decodeEvent(record({ proto: 17, tcp_flags: 0 }))), /10\.244\.0\.5:41022 -> 10\.244\.0\.6:80 udp$/);
  });

  test('unknown types and reasons stay readable', () => {
    const ev = decodeEvent(record({ type: 9, subtype: 4 }));
    assert.equal(ev.type, 'unknown');
    assert.match(formatEvent(ev), /^\?\? unknown event type 9/);
    assert.equal(dropReasonText(250), 'Unknown reason 250');
    assert.equal(dropReasonName(0), 'FORWARDED');
    assert.throws(() => decodeEvent(Buffer.alloc(10)), RangeError);
  });

  test('the reason table holds Cilium\'s numbers', () => {
    assert.equal(DROP_REASONS.get(181)?.name, 'DROP_POLICY_DENY');
    assert.equal(DROP_REASONS.get(158)?.text, 'Service backend not found');
    assert.equal(DROP_REASONS.size, 18);
  });
});
