// kube-proxy's iptables chain names: sha256 of the service port name (+ protocol, + endpoint),
// base32 (RFC 4648 standard alphabet), first 16 characters (iptables chain names are <= 28 chars).
import { createHash } from 'node:crypto';
import type { Protocol } from '../model/index.js';

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 with the standard alphabet and '=' padding (Go's base32.StdEncoding). */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += '=';
  return out;
}

/** kube-proxy's portProtoHash: base32(sha256(text)) truncated to 16 characters. */
export function kubeProxyHash(text: string): string {
  return base32(createHash('sha256').update(text, 'utf8').digest()).slice(0, 16);
}

/** ServicePortName.String(): `namespace/name` plus `:portName` when the port is named. */
export function servicePortName(namespace: string, name: string, portName: string): string {
  return portName === '' ? `${namespace}/${name}` : `${namespace}/${name}:${portName}`;
}

/** The protocol as kube-proxy spells it in hashes and matches: lower case. */
export function kubeProxyProtocol(protocol: Protocol): string {
  return protocol.toLowerCase();
}

/** KUBE-SVC-<hash>: the per-service-port chain used with the Cluster traffic policy. */
export function serviceChainName(svcPortName: string, protocol: Protocol): string {
  return `KUBE-SVC-${kubeProxyHash(svcPortName + kubeProxyProtocol(protocol))}`;
}

/** KUBE-SVL-<hash>: the per-service-port chain used with the Local traffic policy. */
export function localServiceChainName(svcPortName: string, protocol: Protocol): string {
  return `KUBE-SVL-${kubeProxyHash(svcPortName + kubeProxyProtocol(protocol))}`;
}

/** KUBE-SEP-<hash>: the per-endpoint chain; `endpoint` is `ip:port`. */
export function endpointChainName(svcPortName: string, protocol: Protocol, endpoint: string): string {
  return `KUBE-SEP-${kubeProxyHash(svcPortName + kubeProxyProtocol(protocol) + endpoint)}`;
}
