// The iptables inputs of the load-balancing benchmark besides kube-proxy's own (pkg/lb/iptables): the
// smallest `iptables-restore --noflush` that adds one service to a loaded node — its KUBE-SVC and
// KUBE-SEP chains and one rule inserted into KUBE-SERVICES — which is what the issue's "incremental
// restore ≈ 53 ms" baseline measures. kube-proxy itself (partial sync, 1.27+) also rewrites
// KUBE-SERVICES in full, one rule per service; the benchmark times both.

import { renderKubeProxyRules, type KubeProxyOptions } from '../pkg/lb/iptables/index.js';
import type { Service } from '../pkg/lb/model/index.js';

/** kube-proxy's default threshold of "large cluster mode" (no per-endpoint comments). */
const LARGE_CLUSTER_ENDPOINTS = 1000;

/**
 * The minimal `--noflush` input that adds `added` to a node whose KUBE-SERVICES holds
 * `existingServiceRules` service rules followed by kube-proxy's final KUBE-NODEPORTS rule: the new
 * service's chains (declared, so they start empty) and rules, and its KUBE-SERVICES rule inserted at
 * position `existingServiceRules + 1`, before the KUBE-NODEPORTS rule that must stay last. Existing
 * chains are neither declared nor touched. Comments follow the cluster's size as kube-proxy's do
 * (`existingEndpoints` + the new ones above 1,000: none on endpoint rules).
 */
export function minimalServiceAddition(added: Service, existingServiceRules: number, existingEndpoints: number, options: KubeProxyOptions = {}): string {
  const large = existingEndpoints + added.backends.length > LARGE_CLUSTER_ENDPOINTS;
  const rendered = renderKubeProxyRules([added], { ...options, filterTable: false, largeClusterEndpointsThreshold: large ? 0 : Number.MAX_SAFE_INTEGER });
  const out = ['*nat'];
  let position = existingServiceRules + 1;
  for (const line of rendered.split('\n')) {
    if (/^:KUBE-(SVC|SVL|SEP)-/.test(line) || /^-A KUBE-(SVC|SVL|SEP)-/.test(line)) out.push(line);
    else if (line.startsWith('-A KUBE-SERVICES ') && !line.includes('-j KUBE-NODEPORTS')) out.push(line.replace('-A KUBE-SERVICES ', `-I KUBE-SERVICES ${position++} `));
  }
  out.push('COMMIT');
  return out.join('\n') + '\n';
}
