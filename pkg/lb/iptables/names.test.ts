import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { base32, endpointChainName, kubeProxyHash, serviceChainName, servicePortName } from './index.js';

const T = { timeout: 10_000 };

describe('kube-proxy chain names', () => {
  // Known answers: chain names seen in iptables-save dumps of real clusters.
  const services: [string, string, string, 'TCP' | 'UDP', string][] = [
    ['default', 'kubernetes', 'https', 'TCP', 'KUBE-SVC-NPX46M4PTMTKRN6Y'],
    ['kube-system', 'kube-dns', 'dns', 'UDP', 'KUBE-SVC-TCOU7JCQXEZGVUNU'],
    ['kube-system', 'kube-dns', 'dns-tcp', 'TCP', 'KUBE-SVC-ERIFXISQEP7F7OF4'],
    ['kube-system', 'kube-dns', 'metrics', 'TCP', 'KUBE-SVC-JD5MR3NA4I4DYORP'],
    ['default', 'nginx', '', 'TCP', 'KUBE-SVC-2CMXP7HKUVJN7L6M'],
    ['default', 'web-svc', 'nginx-svc-port', 'TCP', 'KUBE-SVC-YVE4DVDYZJRPV46I'],
  ];
  for (const [ns, name, port, protocol, chain] of services) {
    test(`${ns}/${name}:${port} ${protocol} → ${chain}`, T, () => {
      assert.equal(serviceChainName(servicePortName(ns, name, port), protocol), chain);
    });
  }

  test('endpoint chains hash service port, protocol and endpoint', T, () => {
    assert.equal(endpointChainName('kube-system/kube-dns:dns', 'UDP', '10.64.1.7:53'), 'KUBE-SEP-TYGHG4DTIAC24P3K');
    assert.equal(endpointChainName('default/web-svc:nginx-svc-port', 'TCP', '10.64.1.13:80'), 'KUBE-SEP-CC3QGOI23D5U3CR7');
  });

  test('service port names omit an empty port name', T, () => {
    assert.equal(servicePortName('ns', 'svc', ''), 'ns/svc');
    assert.equal(servicePortName('ns', 'svc', 'http'), 'ns/svc:http');
  });

  test('base32 matches RFC 4648 test vectors', T, () => {
    const vectors: [string, string][] = [['', ''], ['f', 'MY======'], ['fo', 'MZXQ===='], ['foo', 'MZXW6==='], ['foob', 'MZXW6YQ='], ['fooba', 'MZXW6YTB'], ['foobar', 'MZXW6YTBOI======']];
    for (const [input, output] of vectors) assert.equal(base32(Buffer.from(input)), output);
    assert.equal(kubeProxyHash('x').length, 16);
  });
});
