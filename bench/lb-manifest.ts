// The services of the load-balancing benchmark, written the ways each side consumes them: the
// Kubernetes YAML (and `kubectl get -o json` List) a user hands to `cilia apply`, the request of
// `PUT /v1/service`, and the model Services that pkg/lb/iptables renders into kube-proxy's ruleset.
// Both sides get the same services: ClusterIP VIP:80/TCP → the same backends on 8080.

import { backendsFromEndpointSlices, serviceFromK8s, type K8sEndpointSlice, type K8sService } from '../pkg/lb/k8s/index.js';
import type { Service } from '../pkg/lb/model/index.js';
import type { ServiceUpsertRequest } from '../cells/service-lb/types.js';

/** Namespace of every benchmark service (and of the Cilia endpoints, so their netns are `bl-*`). */
export const BENCH_NAMESPACE = 'bl';
/** The service port clients connect to. */
export const SERVICE_PORT = 80;
/** The port the backends listen on (targetPort). */
export const TARGET_PORT = 8080;

/** The /24s of 10.96.0.0/16 the VIPs come from: 10.96.104.0 up, without apply-scale's 10.96.120.0/22. */
const FIRST_NET = 104;
const SKIPPED_NETS = { from: 120, to: 123 };
const LAST_NET = 251; // 10.96.252.0/22 belongs to pkg/datapath's tests

/**
 * The i-th service VIP (0-based): consecutive addresses 10.96.<net>.1–254 (no .0 or .255, 254 per /24)
 * from 10.96.104.1, skipping 10.96.120.0/22, so 10,000 services end in 10.96.147.x (test/lib/ranges.md).
 * @throws RangeError past 10.96.251.254 (about 35,000 VIPs).
 */
export function vipOf(i: number): string {
  let net = FIRST_NET + Math.floor(i / 254);
  if (net >= SKIPPED_NETS.from) net += SKIPPED_NETS.to - SKIPPED_NETS.from + 1;
  if (net > LAST_NET) throw new RangeError(`service index ${i} is outside the benchmark's VIP range`);
  return `10.96.${net}.${1 + (i % 254)}`;
}

/** Name of the i-th service: `svc-00000`, …; extras added later use their own prefix. */
export function serviceName(i: number, prefix = 'svc'): string {
  return `${prefix}-${String(i).padStart(5, '0')}`;
}

/** One benchmark service: a Service and the EndpointSlice that gives it its backends. */
export interface BenchService {
  readonly name: string;
  readonly vip: string;
  readonly service: K8sService;
  readonly slice: K8sEndpointSlice;
}

/** A Service `name` at `vip` (port 80 → targetPort 8080) and its slice listing `backends` (ready). */
export function benchService(name: string, vip: string, backends: readonly string[]): BenchService {
  const service: K8sService = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: BENCH_NAMESPACE },
    spec: { type: 'ClusterIP', clusterIP: vip, ports: [{ name: 'http', protocol: 'TCP', port: SERVICE_PORT, targetPort: TARGET_PORT }] },
  };
  const slice: K8sEndpointSlice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-x7k2p`, namespace: BENCH_NAMESPACE, labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: [{ name: 'http', protocol: 'TCP', port: TARGET_PORT }],
    endpoints: backends.map((address) => ({ addresses: [address], conditions: { ready: true } })),
  };
  return { name, vip, service, slice };
}

/** The `n` services of a run: `svc-<i>` at vipOf(i), each with all `backends`. */
export function benchServices(n: number, backends: readonly string[]): BenchService[] {
  return Array.from({ length: n }, (_, i) => benchService(serviceName(i), vipOf(i), backends));
}

function yamlService(s: BenchService): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${s.name}
  namespace: ${BENCH_NAMESPACE}
spec:
  type: ClusterIP
  clusterIP: ${s.vip}
  ports:
  - name: http
    protocol: TCP
    port: ${SERVICE_PORT}
    targetPort: ${TARGET_PORT}
`;
}

function yamlSlice(s: BenchService): string {
  const endpoints = (s.slice.endpoints ?? []).map((e) => `- addresses:\n  - ${e.addresses![0]}\n  conditions:\n    ready: true\n`).join('');
  return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${s.slice.metadata!.name}
  namespace: ${BENCH_NAMESPACE}
  labels:
    kubernetes.io/service-name: ${s.name}
addressType: IPv4
ports:
- name: http
  protocol: TCP
  port: ${TARGET_PORT}
endpoints:
${endpoints}`;
}

/**
 * The manifest as a user keeps it: block-style YAML, one document per object (`---`), each Service
 * followed by its EndpointSlice.
 */
export function manifestYaml(services: readonly BenchService[]): string {
  return services.map((s) => `${yamlService(s)}---\n${yamlSlice(s)}`).join('---\n');
}

/** The same objects as one JSON `List` (what `kubectl get svc,endpointslices -o json` prints). */
export function manifestJson(services: readonly BenchService[]): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items: services.flatMap((s) => [s.service, s.slice]) });
}

/** `PUT /v1/service` for the same service. */
export function upsertRequest(s: BenchService): ServiceUpsertRequest {
  return {
    name: s.name,
    namespace: BENCH_NAMESPACE,
    frontends: [{ address: s.vip, port: SERVICE_PORT, protocol: 'TCP', portName: 'http' }],
    backends: (s.slice.endpoints ?? []).map((e) => ({ address: e.addresses![0], port: TARGET_PORT, protocol: 'TCP', portName: 'http' })),
  };
}

/** The model Service kube-proxy would build from the Service and its EndpointSlice. */
export function modelService(s: BenchService): Service {
  return serviceFromK8s(s.service, backendsFromEndpointSlices(s.service, [s.slice]));
}
