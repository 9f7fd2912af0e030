// Policy enforcement of bpf_lxc.o on the real kernel: the three LPM lookups (identity, CIDR identity, any),
// exact / port-range / protocol-wildcard / identity-wildcard entries, deny precedence, default deny,
// policy-verdict events, ingress policy of local delivery and of cil_to_container, and revalidation of
// established connections when the endpoint's policy revision changes.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { formatEvent, PolicyMatch, Verdict, type DropEvent, type PolicyVerdictEvent } from './events.js';
import { CT_EGRESS, CT_INGRESS, MetricDir, POLICY_PREFIX_ANY_L4, POLICY_PREFIX_EXACT, policyPrefixForPorts } from './maps.js';
import { icmpEcho, tcpPacket, TcpFlag, udpPacket } from './packet.js';
import { DropReason } from './reasons.js';
import { LxcTestbed, TC_ACT_OK, TC_ACT_REDIRECT, TC_ACT_SHOT, testEndpoint, type TestEndpoint } from './testbed.js';

const A = testEndpoint(1, { egressEnforced: true });
const B = testEndpoint(2);
const TCP = 6;
const UDP = 17;
const ICMP = 1;
const REMOTE = '10.244.252.200';
const REMOTE_ID = 5000;

describe('bpf_lxc policy', { timeout: 60_000 }, () => {
  let tb: LxcTestbed;
  before(async () => { tb = await LxcTestbed.open(); });
  after(async () => { await tb?.close(); });
  beforeEach(() => {
    tb.reset();
    tb.addEndpoint(A);
    tb.addEndpoint(B);
    tb.ipcache(`${REMOTE}/32`, REMOTE_ID);
    tb.as(A);
  });

  const verdictOf = async (since: bigint, dport: number): Promise<PolicyVerdictEvent> =>
    await tb.waitForEvent((e) => e.type === 'policy-verdict' && e.dport === dport, since) as PolicyVerdictEvent;

  test('an exact allow lets the connection through; no entry denies it with 133', { timeout: 10_000 }, async () => {
    tb.policy({ epId: A.id, dir: 'egress', identity: B.identity, proto: TCP, port: 80, ruleId: 7 });
    const since = tb.mark();
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 40000, B.ip, 80)).retval, TC_ACT_REDIRECT);
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 40001, B.ip, 81)).retval, TC_ACT_SHOT);
    assert.equal(tb.metric(DropReason.Policy, MetricDir.Egress).count, 1n);

    const allowed = await verdictOf(since, 80);
    assert.equal(allowed.verdict, Verdict.Allowed);
    assert.equal(allowed.match, PolicyMatch.L3L4);
    assert.equal(formatEvent(allowed).replace(/flow 0x[0-9a-f]+/, 'flow 0x0'),
      `Policy verdict log: flow 0x0 local EP ID ${A.id}, remote ID ${B.identity}, proto 6, egress, action allow, match L3-L4, ${A.ip}:40000 -> ${B.ip}:80 tcp SYN`);
    const denied = await verdictOf(since, 81);
    assert.equal(denied.verdict, Verdict.Denied);
    assert.equal(denied.match, PolicyMatch.None);
    const drop = await tb.waitForEvent((e) => e.type === 'drop', since) as DropEvent;
    assert.equal(drop.reason, DropReason.Policy);
    assert.equal(drop.dstId, B.id);
    assert.match(formatEvent(drop), new RegExp(`^xx drop \\(Policy denied\\) flow 0x[0-9a-f]+ to endpoint ${B.id}, ifindex 1, file bpf_lxc\\.c:\\d+, identity ${A.identity}->${B.identity}: ${A.ip}:40001 -> ${B.ip}:81 tcp SYN$`));

    const entry = tb.maps.policy.get({ prefixlen: POLICY_PREFIX_EXACT, sec_label: B.identity, ep_id: A.id, egress: 1, protocol: TCP, dport: 80 });
    assert.equal(entry?.packets, 1n, 'the entry counts the new connection');
    tb.fromContainer(tcpPacket(A.ip, 40000, B.ip, 80, TcpFlag.ACK));
    assert.equal(tb.maps.policy.get({ prefixlen: POLICY_PREFIX_EXACT, sec_label: B.identity, ep_id: A.id, egress: 1, protocol: TCP, dport: 80 })?.packets, 1n,
      'established packets do not count');
  });

  test('a port range is one LPM entry over the dport prefix', { timeout: 10_000 }, () => {
    // 8000 = 0x1f40; 10 leading bits cover 8000..8063.
    tb.policy({ epId: A.id, dir: 'egress', identity: REMOTE_ID, proto: TCP, port: 8000, prefixlen: policyPrefixForPorts(10) });
    for (const [port, verdict] of [[7999, TC_ACT_SHOT], [8000, TC_ACT_OK], [8031, TC_ACT_OK], [8063, TC_ACT_OK], [8064, TC_ACT_SHOT]] as const) {
      assert.equal(tb.fromContainer(tcpPacket(A.ip, 30000 + port, REMOTE, port)).retval, verdict, `port ${port}`);
    }
    assert.equal(tb.fromContainer(udpPacket(A.ip, 30000, REMOTE, 8000)).retval, TC_ACT_SHOT, 'another protocol');
  });

  test('a protocol wildcard (prefix 56) allows every protocol and port of that identity: match L3-Only', { timeout: 10_000 }, async () => {
    tb.policy({ epId: A.id, dir: 'egress', identity: REMOTE_ID, prefixlen: POLICY_PREFIX_ANY_L4 });
    const since = tb.mark();
    assert.equal(tb.fromContainer(udpPacket(A.ip, 5000, REMOTE, 53)).retval, TC_ACT_OK);
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 5001, REMOTE, 443)).retval, TC_ACT_OK);
    assert.equal(tb.fromContainer(icmpEcho(A.ip, REMOTE, 9)).retval, TC_ACT_OK);
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 5002, B.ip, 443)).retval, TC_ACT_SHOT, 'other identities are not covered');
    assert.equal((await verdictOf(since, 53)).match, PolicyMatch.L3Only);
  });

  test('an identity wildcard (sec_label 0) allows the port for every peer: match L4-Only; prefix 56 with 0: match all', { timeout: 10_000 }, async () => {
    tb.policy({ epId: A.id, dir: 'egress', identity: 0, proto: UDP, port: 53 });
    const since = tb.mark();
    assert.equal(tb.fromContainer(udpPacket(A.ip, 5000, REMOTE, 53)).retval, TC_ACT_OK);
    assert.equal(tb.fromContainer(udpPacket(A.ip, 5000, B.ip, 53)).retval, TC_ACT_REDIRECT);
    assert.equal(tb.fromContainer(udpPacket(A.ip, 5000, REMOTE, 54)).retval, TC_ACT_SHOT);
    assert.equal((await verdictOf(since, 53)).match, PolicyMatch.L4Only);

    tb.policy({ epId: A.id, dir: 'egress', identity: 0, prefixlen: POLICY_PREFIX_ANY_L4 });
    const since2 = tb.mark();
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 5003, REMOTE, 9999)).retval, TC_ACT_OK);
    assert.equal((await verdictOf(since2, 9999)).match, PolicyMatch.All);
  });

  test('ICMP entries match the message type as the port', { timeout: 10_000 }, () => {
    tb.policy({ epId: A.id, dir: 'egress', identity: REMOTE_ID, proto: ICMP, port: 8 });
    assert.equal(tb.fromContainer(icmpEcho(A.ip, REMOTE, 1)).retval, TC_ACT_OK);
    assert.equal(tb.fromContainer(icmpEcho(A.ip, B.ip, 1)).retval, TC_ACT_SHOT);
  });

  test('a deny of one identity wins over a more specific allow of another identity key (181)', { timeout: 10_000 }, async () => {
    tb.policy({ epId: A.id, dir: 'egress', identity: REMOTE_ID, prefixlen: POLICY_PREFIX_ANY_L4, deny: true, ruleId: 99 });
    tb.policy({ epId: A.id, dir: 'egress', identity: 0, proto: TCP, port: 443 });
    const since = tb.mark();
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 6000, REMOTE, 443)).retval, TC_ACT_SHOT);
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 6001, B.ip, 443)).retval, TC_ACT_REDIRECT, 'the allow still covers others');
    assert.equal(tb.metric(DropReason.PolicyDeny, MetricDir.Egress).count, 1n);
    const v = await verdictOf(since, 443);
    assert.equal(v.verdict, Verdict.DeniedByRule);
    assert.equal(v.match, PolicyMatch.L3Only);
    assert.match(formatEvent(v), /action deny, match L3-Only/);
    const drop = await tb.waitForEvent((e) => e.type === 'drop', since) as DropEvent;
    assert.equal(drop.reason, DropReason.PolicyDeny);
    assert.match(formatEvent(drop), /^xx drop \(Policy denied by denylist\)/);
  });

  test('a deny of any identity, or of the CIDR identity, wins over an exact allow of the peer\'s own identity', { timeout: 10_000 }, () => {
    const CIDR_ID = 16777300;
    tb.ipcache(`${REMOTE}/32`, REMOTE_ID, CIDR_ID);
    tb.policy({ epId: A.id, dir: 'egress', identity: REMOTE_ID, proto: TCP, port: 443 });
    tb.policy({ epId: A.id, dir: 'egress', identity: REMOTE_ID, proto: TCP, port: 444 });
    tb.policy({ epId: A.id, dir: 'egress', identity: REMOTE_ID, proto: TCP, port: 445 });
    tb.policy({ epId: A.id, dir: 'egress', identity: 0, proto: TCP, prefixlen: 64, deny: true }); // any TCP port
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 6100, REMOTE, 443)).retval, TC_ACT_SHOT);
    tb.maps.policy.clear();
    tb.policy({ epId: A.id, dir: 'egress', identity: REMOTE_ID, proto: TCP, port: 444 });
    tb.policy({ epId: A.id, dir: 'egress', identity: CIDR_ID, prefixlen: POLICY_PREFIX_ANY_L4, deny: true });
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 6101, REMOTE, 444)).retval, TC_ACT_SHOT);
    assert.equal(tb.metric(DropReason.PolicyDeny, MetricDir.Egress).count, 2n);
    tb.maps.policy.delete({ prefixlen: POLICY_PREFIX_ANY_L4, sec_label: CIDR_ID, ep_id: A.id, egress: 1, protocol: 0, dport: 0 });
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 6102, REMOTE, 444)).retval, TC_ACT_OK, 'without the deny the allow applies');
  });

  test('the CIDR identity from the ipcache is looked up too', { timeout: 10_000 }, () => {
    const CIDR_ID = 16777217;
    tb.ipcache('10.244.252.128/25', 2, CIDR_ID);
    tb.ipcache('10.244.252.130/32', 2, CIDR_ID); // a /32 of the same CIDR, with its world identity
    tb.policy({ epId: A.id, dir: 'egress', identity: CIDR_ID, proto: TCP, port: 443 });
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 7000, '10.244.252.129', 443)).retval, TC_ACT_OK);
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 7001, '10.244.252.130', 443)).retval, TC_ACT_OK);
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 7002, '10.244.252.100', 443)).retval, TC_ACT_SHOT, 'outside the CIDR');
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 7003, '10.244.252.129', 444)).retval, TC_ACT_SHOT, 'another port');
  });

  test('an endpoint not enforcing a direction allows everything, without a verdict event', { timeout: 10_000 }, async () => {
    tb.as(B);
    const since = tb.mark();
    assert.equal(tb.fromContainer(tcpPacket(B.ip, 1234, REMOTE, 1)).retval, TC_ACT_OK);
    tb.fromContainer(tcpPacket('10.244.252.99', 1, REMOTE, 1)); // marker
    await tb.waitForEvent((e) => e.type === 'drop', since);
    assert.equal(tb.eventsSince(since).filter((e) => e.type === 'policy-verdict').length, 0);
  });

  test('local delivery runs the receiver\'s ingress policy with the sender\'s identity', { timeout: 10_000 }, async () => {
    const Bi: TestEndpoint = { ...B, ingressEnforced: true };
    tb.addEndpoint(Bi);
    tb.policy({ epId: A.id, dir: 'egress', identity: 0, prefixlen: POLICY_PREFIX_ANY_L4 });
    tb.policy({ epId: Bi.id, dir: 'ingress', identity: A.identity, proto: TCP, port: 8080 });
    const since = tb.mark();
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 1000, Bi.ip, 8080)).retval, TC_ACT_REDIRECT);
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 1001, Bi.ip, 8081)).retval, TC_ACT_SHOT);
    assert.equal(tb.metric(DropReason.Policy, MetricDir.Ingress).count, 1n);
    assert.ok(tb.ct({ saddr: A.ip, daddr: Bi.ip, sport: 1001, dport: 8081, nexthdr: TCP, flags: CT_EGRESS }),
      'the sender allowed it: its egress entry exists');
    assert.equal(tb.ct({ saddr: A.ip, daddr: Bi.ip, sport: 1001, dport: 8081, nexthdr: TCP, flags: CT_INGRESS }), undefined);
    const v = await tb.waitForEvent((e) => e.type === 'policy-verdict' && e.dir === 'ingress' && e.dport === 8081, since) as PolicyVerdictEvent;
    assert.equal(v.source, Bi.id);
    assert.match(formatEvent(v), new RegExp(`local EP ID ${Bi.id}, remote ID ${A.identity}, proto 6, ingress, action deny, match none`));
    const drop = await tb.waitForEvent((e) => e.type === 'drop', since) as DropEvent;
    assert.equal(drop.source, Bi.id);
    assert.equal(drop.dir, 'ingress');
  });

  test('cil_to_container enforces ingress policy with the ipcache identity of the source', { timeout: 10_000 }, () => {
    const Ai: TestEndpoint = { ...A, ingressEnforced: true };
    tb.addEndpoint(Ai);
    tb.as(Ai);
    tb.policy({ epId: Ai.id, dir: 'ingress', identity: REMOTE_ID, proto: TCP, port: 22 });
    assert.equal(tb.toContainer(tcpPacket(REMOTE, 50000, Ai.ip, 22)).retval, TC_ACT_OK);
    assert.equal(tb.toContainer(tcpPacket('10.244.252.201', 50000, Ai.ip, 22)).retval, TC_ACT_SHOT);
    assert.ok(tb.ct({ saddr: REMOTE, daddr: Ai.ip, sport: 50000, dport: 22, nexthdr: TCP, flags: CT_INGRESS }));
    // The reply leaves without an egress decision: it belongs to the accepted connection.
    assert.equal(tb.fromContainer(tcpPacket(Ai.ip, 22, REMOTE, 50000, TcpFlag.SYN | TcpFlag.ACK)).retval, TC_ACT_OK);
  });

  test('a policy_rev change revalidates established connections: allowed stays, a removed allow drops (133) and deletes the entry', { timeout: 10_000 }, () => {
    const key = { prefixlen: POLICY_PREFIX_EXACT, sec_label: REMOTE_ID, ep_id: A.id, egress: 1, protocol: TCP, dport: 80 };
    tb.policy({ epId: A.id, dir: 'egress', identity: REMOTE_ID, proto: TCP, port: 80 });
    tb.policy({ epId: A.id, dir: 'egress', identity: REMOTE_ID, proto: TCP, port: 81 });
    tb.fromContainer(tcpPacket(A.ip, 40000, REMOTE, 80));
    tb.fromContainer(tcpPacket(A.ip, 40001, REMOTE, 81));
    const t80 = { saddr: A.ip, daddr: REMOTE, sport: 40000, dport: 80, nexthdr: TCP };
    const t81 = { saddr: A.ip, daddr: REMOTE, sport: 40001, dport: 81, nexthdr: TCP };
    assert.equal(tb.ct(t80)?.policy_rev, 1);

    // Revision 2: port 81 is no longer allowed.
    tb.maps.policy.delete({ ...key, dport: 81 });
    const A2 = { ...A, policyRev: 2 };
    tb.addEndpoint(A2);
    tb.as(A2);
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 40000, REMOTE, 80, TcpFlag.ACK)).retval, TC_ACT_OK);
    assert.equal(tb.ct(t80)?.policy_rev, 2, 'revalidated');
    assert.equal(tb.fromContainer(tcpPacket(A.ip, 40001, REMOTE, 81, TcpFlag.ACK)).retval, TC_ACT_SHOT);
    assert.equal(tb.ct(t81), undefined, 'the denied connection\'s entry is gone');
    assert.equal(tb.metric(DropReason.Policy, MetricDir.Egress).count, 1n);
    assert.equal(tb.maps.policy.get(key)?.packets, 1n, 'revalidation is not a new connection');

    // A reply of a revoked connection also goes through revalidation (ingress side of the owner).
    tb.fromContainer(tcpPacket(A.ip, 40002, REMOTE, 80));
    tb.maps.policy.delete(key);
    const A3 = { ...A, policyRev: 3 };
    tb.addEndpoint(A3);
    tb.as(A3);
    assert.equal(tb.toContainer(tcpPacket(REMOTE, 80, A.ip, 40002, TcpFlag.SYN | TcpFlag.ACK)).retval, TC_ACT_SHOT);
    assert.equal(tb.ct({ saddr: A.ip, daddr: REMOTE, sport: 40002, dport: 80, nexthdr: TCP }), undefined);
  });
});
