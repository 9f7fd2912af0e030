import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { validateService, type BackendInput, type Service, type ServiceInput } from '../model/index.js';
import {
  endpointChainName,
  renderKubeProxyFullSync,
  renderKubeProxyJumpRules,
  renderKubeProxyRules,
  renderKubeProxyServiceAddition,
  serviceChainName,
} from './index.js';

const T = { timeout: 30_000 };

function svc(i: number, backends: BackendInput[], extra: Partial<ServiceInput> = {}): Service {
  return validateService({
    name: `svc-${i}`,
    namespace: 'bench',
    frontends: [{ address: `10.96.${i >> 8}.${i & 255}`, port: 80, portName: 'http' }],
    backends: backends.map((b) => ({ portName: 'http', ...b })),
    ...extra,
  });
}

function pods(n: number, first = 1): BackendInput[] {
  return Array.from({ length: n }, (_, k) => ({ address: `10.244.${(first + k) >> 8}.${(first + k) & 255}`, port: 8080 }));
}

const lines = (text: string): string[] => text.trimEnd().split('\n');

describe('renderKubeProxyRules: output shape', () => {
  test('one service with three endpoints, exactly as kube-proxy writes it', T, () => {
    const svcChain = serviceChainName('bench/svc-1:http', 'TCP');
    const sep = (ip: string): string => endpointChainName('bench/svc-1:http', 'TCP', `${ip}:8080`);
    assert.deepEqual(lines(renderKubeProxyFullSync([svc(1, pods(3))])), [
      '*nat',
      ':KUBE-SERVICES - [0:0]',
      ':KUBE-NODEPORTS - [0:0]',
      ':KUBE-POSTROUTING - [0:0]',
      ':KUBE-MARK-MASQ - [0:0]',
      `:${svcChain} - [0:0]`,
      `:${sep('10.244.0.1')} - [0:0]`,
      `:${sep('10.244.0.2')} - [0:0]`,
      `:${sep('10.244.0.3')} - [0:0]`,
      '-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN',
      '-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000',
      '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
      '-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000',
      `-A KUBE-SERVICES -m comment --comment "bench/svc-1:http cluster IP" -m tcp -p tcp -d 10.96.0.1 --dport 80 -j ${svcChain}`,
      `-A ${svcChain} -m comment --comment "bench/svc-1:http cluster IP" -m tcp -p tcp -d 10.96.0.1 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ`,
      `-A ${svcChain} -m comment --comment "bench/svc-1:http -> 10.244.0.1:8080" -m statistic --mode random --probability 0.3333333333 -j ${sep('10.244.0.1')}`,
      `-A ${svcChain} -m comment --comment "bench/svc-1:http -> 10.244.0.2:8080" -m statistic --mode random --probability 0.5000000000 -j ${sep('10.244.0.2')}`,
      `-A ${svcChain} -m comment --comment "bench/svc-1:http -> 10.244.0.3:8080" -j ${sep('10.244.0.3')}`,
      `-A ${sep('10.244.0.1')} -m comment --comment bench/svc-1:http -s 10.244.0.1 -j KUBE-MARK-MASQ`,
      `-A ${sep('10.244.0.1')} -m comment --comment bench/svc-1:http -m tcp -p tcp -j DNAT --to-destination 10.244.0.1:8080`,
      `-A ${sep('10.244.0.2')} -m comment --comment bench/svc-1:http -s 10.244.0.2 -j KUBE-MARK-MASQ`,
      `-A ${sep('10.244.0.2')} -m comment --comment bench/svc-1:http -m tcp -p tcp -j DNAT --to-destination 10.244.0.2:8080`,
      `-A ${sep('10.244.0.3')} -m comment --comment bench/svc-1:http -s 10.244.0.3 -j KUBE-MARK-MASQ`,
      `-A ${sep('10.244.0.3')} -m comment --comment bench/svc-1:http -m tcp -p tcp -j DNAT --to-destination 10.244.0.3:8080`,
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
      'COMMIT',
    ]);
  });

  test('probabilities are 1/n, 1/(n-1), …, the last jump unconditional', T, () => {
    const rules = lines(renderKubeProxyFullSync([svc(1, pods(5))])).filter((l) => l.includes('-j KUBE-SEP-') && l.startsWith('-A KUBE-SVC-'));
    assert.deepEqual(
      rules.map((l) => /--probability (\S+)/.exec(l)?.[1] ?? 'last'),
      ['0.2000000000', '0.2500000000', '0.3333333333', '0.5000000000', 'last'],
    );
  });

  test('endpoints: active with weight > 0, sorted as "ip:port" strings; terminating only as fallback', T, () => {
    const text = renderKubeProxyFullSync([
      svc(1, [
        { address: '10.244.0.9', port: 8080 },
        { address: '10.244.0.10', port: 8080 },
        { address: '10.244.0.11', port: 8080, state: 'terminating' },
        { address: '10.244.0.12', port: 8080, weight: 0 },
        { address: '10.244.0.13', port: 8080, state: 'quarantined' },
      ]),
      svc(2, [{ address: '10.244.1.1', port: 8080, state: 'terminating' }, { address: '10.244.1.2', port: 8080, state: 'maintenance' }]),
    ]);
    const dnat = [...text.matchAll(/--to-destination (\S+)/g)].map((m) => m[1]);
    assert.deepEqual(dnat, ['10.244.0.10:8080', '10.244.0.9:8080', '10.244.1.1:8080']);
  });

  test('a service without endpoints gets no nat rules, and a REJECT in the filter table', T, () => {
    const nat = renderKubeProxyFullSync([svc(1, []), svc(2, pods(1))]);
    assert.ok(!nat.includes('svc-1'));
    assert.ok(!nat.includes('*filter'));
    const withFilter = renderKubeProxyFullSync([svc(1, [])], { filterTable: true });
    assert.ok(withFilter.startsWith('*filter\n'));
    assert.ok(withFilter.includes('-A KUBE-SERVICES -m comment --comment "bench/svc-1:http has no endpoints" -m tcp -p tcp -d 10.96.0.1 --dport 80 -j REJECT'));
  });

  test('ClientIP affinity: recent --rcheck per endpoint in the service chain, --set in each endpoint chain', T, () => {
    const text = renderKubeProxyFullSync([svc(1, pods(2), { sessionAffinity: { timeoutSeconds: 600 } })]);
    const sep1 = endpointChainName('bench/svc-1:http', 'TCP', '10.244.0.1:8080');
    assert.ok(text.includes(`-m recent --name ${sep1} --rcheck --seconds 600 --reap -j ${sep1}`));
    assert.ok(text.includes(`-A ${sep1} -m comment --comment bench/svc-1:http -m recent --name ${sep1} --set -m tcp -p tcp -j DNAT --to-destination 10.244.0.1:8080`));
    const svcRules = lines(text).filter((l) => l.startsWith('-A KUBE-SVC-'));
    assert.deepEqual(svcRules.map((l) => (l.includes('--rcheck') ? 'affinity' : l.includes('KUBE-MARK-MASQ') ? 'masq' : 'lb')), ['masq', 'affinity', 'affinity', 'lb', 'lb']);
  });

  test('Local internal traffic policy uses KUBE-SVL with this node\'s endpoints only', T, () => {
    const service = svc(1, [
      { address: '10.244.0.1', port: 8080, nodeName: 'node-a' },
      { address: '10.244.0.2', port: 8080, nodeName: 'node-b' },
    ], { trafficPolicy: 'Local' });
    const text = renderKubeProxyFullSync([service], { nodeName: 'node-a', filterTable: true });
    assert.ok(/-j KUBE-SVL-\w{16}$/m.test(text));
    assert.ok(!text.includes('KUBE-SVC-'));
    assert.deepEqual([...text.matchAll(/--to-destination (\S+)/g)].map((m) => m[1]), ['10.244.0.1:8080']);
    const elsewhere = renderKubeProxyFullSync([service], { nodeName: 'node-c', filterTable: true });
    assert.ok(elsewhere.includes('"bench/svc-1:http has no local endpoints" -m tcp -p tcp -d 10.96.0.1 --dport 80 -j DROP'));
    assert.ok(!elsewhere.includes('--to-destination'));
  });

  test('masquerade options: --masquerade-all, no cluster CIDR, mark bit, no --random-fully', T, () => {
    const all = renderKubeProxyFullSync([svc(1, pods(1))], { masqueradeAll: true, masqueradeBit: 15, randomFully: false });
    assert.ok(/-A KUBE-SVC-\w+ -m comment --comment "bench\/svc-1:http cluster IP" -m tcp -p tcp -d 10\.96\.0\.1 --dport 80 -j KUBE-MARK-MASQ/.test(all));
    assert.ok(all.includes('-A KUBE-MARK-MASQ -j MARK --or-mark 0x00008000'));
    assert.ok(all.includes('-j MASQUERADE\n'));
    const none = renderKubeProxyFullSync([svc(1, pods(1))], { clusterCidr: false });
    assert.ok(!/-A KUBE-SVC-\S+ .*KUBE-MARK-MASQ/.test(none));
    assert.ok(renderKubeProxyFullSync([svc(1, pods(1))], { clusterCidr: '10.0.0.0/8' }).includes('! -s 10.0.0.0/8 -j KUBE-MARK-MASQ'));
  });

  test('large cluster mode drops per-endpoint comments above 1000 endpoints', T, () => {
    const small = renderKubeProxyFullSync([svc(1, pods(1000))]);
    assert.ok(small.includes('-A KUBE-SEP-'), 'sanity');
    assert.ok(/-A KUBE-SEP-\w+ -m comment --comment bench\/svc-1:http -s/.test(small));
    const large = renderKubeProxyFullSync([svc(1, pods(1001))]);
    assert.ok(/-A KUBE-SEP-\w+ -s 10\.244\./.test(large));
    assert.ok(!large.includes(' -> 10.244.'));
    assert.ok(large.includes('"bench/svc-1:http cluster IP"'), 'service-level comments stay');
  });

  test('the addition snippet rewrites top-level chains but only the new service\'s own chains', T, () => {
    const existing = [svc(1, pods(2)), svc(2, pods(2, 10))];
    const added = svc(3, pods(2, 20));
    const text = renderKubeProxyServiceAddition(existing, added);
    const declared = lines(text).filter((l) => l.startsWith(':')).map((l) => l.split(' ')[0].slice(1));
    assert.deepEqual(declared.slice(0, 4), ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ']);
    assert.equal(declared.length, 4 + 1 + 2, 'one KUBE-SVC and two KUBE-SEP chains of the new service');
    assert.ok(declared.includes(serviceChainName('bench/svc-3:http', 'TCP')));
    const servicesRules = lines(text).filter((l) => l.startsWith('-A KUBE-SERVICES -m comment --comment "bench/'));
    assert.equal(servicesRules.length, 3, 'KUBE-SERVICES is rewritten with every service');
    assert.ok(!text.includes(`-A ${serviceChainName('bench/svc-1:http', 'TCP')}`));
    assert.equal(renderKubeProxyRules(existing, { changedServices: new Set() }).includes('--to-destination'), false);
  });
});

// iptables-restore runs inside a fresh, anonymous network namespace (unshare --net): nothing touches
// the host's tables, and the namespace disappears with the process.
function restoreInNetns(files: Record<string, string>, script: string): { status: number | null; stdout: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cilia-lb-iptables-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const result = spawnSync('unshare', ['--net', 'sh', '-ec', script], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    if (result.error) throw result.error;
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('renderKubeProxyRules: iptables-restore accepts it', () => {
  const existing = Array.from({ length: 40 }, (_, i) =>
    svc(i + 1, pods(3, i * 3 + 1), i % 5 === 0 ? { sessionAffinity: { timeoutSeconds: 10800 } } : i % 7 === 0 ? { backends: [] } : {}),
  );
  const added = svc(100, pods(4, 500));
  const files = {
    'full.rules': renderKubeProxyFullSync(existing, { filterTable: true }),
    'add.rules': renderKubeProxyServiceAddition(existing, added, { filterTable: true }),
    'jumps.rules': renderKubeProxyJumpRules({ filterTable: true }),
    'nat-only.rules': renderKubeProxyFullSync(existing),
  };

  test('iptables-restore --test accepts the full sync, the addition and the jump rules', T, () => {
    const r = restoreInNetns(files, 'for f in full add jumps nat-only; do iptables-restore --noflush --test < $f.rules; done; echo ok');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'ok');
  });

  test('applied for real in a private netns: full sync, then the addition, then the jumps', T, () => {
    const r = restoreInNetns(
      files,
      [
        'iptables-restore --noflush < full.rules',
        'iptables-save -t nat | grep -c "^-A KUBE-SERVICES -d 10.96" || true',
        'iptables-restore --noflush < add.rules',
        'iptables-restore --noflush < jumps.rules',
        'iptables-save -t nat | grep -c "^-A KUBE-SERVICES -d 10.96" || true',
        'iptables-save -t nat | grep -c "^:KUBE-SEP-" || true',
        'iptables-save -t nat | grep -c "^-A PREROUTING .*-j KUBE-SERVICES" || true',
      ].join('\n'),
    );
    assert.equal(r.status, 0, r.stderr);
    // 40 services, 5 of them (i % 7 == 0 and not affinity) without backends → 35 (+1 added);
    // endpoint chains: 35 × 3 + 4.
    const withBackends = existing.filter((s) => s.backends.length > 0).length;
    assert.deepEqual(r.stdout.trim().split('\n').map(Number), [withBackends, withBackends + 1, withBackends * 3 + 4, 1]);
  });

  test('the addition alone is rejected by a real restore (its service chains do not exist yet)', T, () => {
    const r = restoreInNetns(files, 'iptables-restore --noflush < add.rules');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /does not exist/);
  });
});
