// A faithful rendering of kube-proxy's iptables mode (syncProxyRules, Kubernetes 1.28+) for
// ClusterIP services, in iptables-restore format: the baseline that benchmarks compare against.
import { formatIPv4Cidr, parseIPv4Cidr, type Backend, type Frontend, type Protocol, type Service } from '../model/index.js';
import { endpointChainName, kubeProxyProtocol, localServiceChainName, serviceChainName, servicePortName } from './names.js';

/** kube-proxy settings that change the rules it writes. */
export interface KubeProxyOptions {
  /**
   * `--cluster-cidr` (the ClusterCIDR local-traffic detector): traffic to a cluster IP from
   * outside this range is marked for masquerade (`! -s CIDR -j KUBE-MARK-MASQ`). Default
   * 10.244.0.0/16; `false` = no detector (kube-proxy then writes no such rule).
   */
  readonly clusterCidr?: string | false;
  /** `--masquerade-all`: masquerade all cluster-IP traffic. Default false. */
  readonly masqueradeAll?: boolean;
  /** `--iptables-masquerade-bit`: the fwmark bit for SNAT. Default 14 (mark 0x00004000). */
  readonly masqueradeBit?: number;
  /** Append `--random-fully` to MASQUERADE (iptables >= 1.6.2 has it). Default true. */
  readonly randomFully?: boolean;
  /** This node's name, for services with the Local traffic policy. */
  readonly nodeName?: string;
  /**
   * Above this many endpoints in total kube-proxy enters "large cluster mode" and drops the
   * per-endpoint comments to shrink the ruleset. Default 1000 (kube-proxy's constant).
   */
  readonly largeClusterEndpointsThreshold?: number;
  /**
   * Also render the filter table kube-proxy writes in the same restore (REJECT for services
   * without endpoints, KUBE-FORWARD, KUBE-FIREWALL). Default false: nat only.
   */
  readonly filterTable?: boolean;
}

/** The service key kube-proxy tracks changes by: `namespace/name`. */
export function serviceKey(service: Pick<Service, 'namespace' | 'name'>): string {
  return `${service.namespace}/${service.name}`;
}

/** One kube-proxy "service port": frontends sharing a port name and protocol, and their backends. */
interface ServicePort {
  readonly service: Service;
  readonly name: string;
  readonly protocol: Protocol;
  readonly frontends: readonly Frontend[];
  /** All backends of the port (any state), sorted as kube-proxy sorts endpoints ("ip:port" strings). */
  readonly backends: readonly Backend[];
}

function servicePorts(service: Service): ServicePort[] {
  const groups = new Map<string, ServicePort>();
  for (const frontend of service.frontends) {
    const key = `${frontend.portName}/${frontend.protocol}`;
    const known = groups.get(key);
    if (known !== undefined) {
      groups.set(key, { ...known, frontends: [...known.frontends, frontend] });
      continue;
    }
    const backends = service.backends
      .filter((b) => b.portName === frontend.portName && b.protocol === frontend.protocol)
      .sort((a, b) => (endpointString(a) < endpointString(b) ? -1 : endpointString(a) > endpointString(b) ? 1 : 0));
    groups.set(key, {
      service,
      name: servicePortName(service.namespace, service.name, frontend.portName),
      protocol: frontend.protocol,
      frontends: [frontend],
      backends,
    });
  }
  return [...groups.values()];
}

function endpointString(backend: Backend): string {
  return `${backend.address}:${backend.port}`;
}

// kube-proxy's CategorizeEndpoints for ready/serving/terminating: ready endpoints, or, if there
// are none, serving-terminating ones. Our `active` = ready; weight 0 = not ready for new traffic.
function usable(backends: readonly Backend[]): Backend[] {
  const ready = backends.filter((b) => b.state === 'active' && b.weight > 0);
  return ready.length > 0 ? ready : backends.filter((b) => b.state === 'terminating' && b.weight > 0);
}

// Go's fmt.Sprintf("%#08x", 1 << bit): the zero padding covers 8 digits, "0x" comes on top.
function masqueradeMark(bit: number): string {
  return `0x${(2 ** bit).toString(16).padStart(8, '0')}`;
}

// kube-proxy's probability(n): fmt.Sprintf("%0.10f", 1.0/float64(n)).
function probability(n: number): string {
  return (1 / n).toFixed(10);
}

interface Buffers {
  readonly filterChains: string[];
  readonly filterRules: string[];
  readonly natChains: string[];
  readonly natRules: string[];
}

/** Options of `renderKubeProxyRules`. */
export interface RenderOptions extends KubeProxyOptions {
  /**
   * Partial sync (kube-proxy >= 1.27, MinimizeIPTablesRestore): only the services whose key
   * (`namespace/name`) is listed get their KUBE-SVC/SVL/SEP chains rewritten; the top-level chains
   * (KUBE-SERVICES with a rule per service, KUBE-POSTROUTING, KUBE-MARK-MASQ, KUBE-NODEPORTS) are
   * always rewritten in full. Undefined = full sync.
   */
  readonly changedServices?: ReadonlySet<string>;
}

/**
 * Renders what kube-proxy's syncProxyRules feeds to `iptables-restore --noflush` for these
 * ClusterIP services (IPv4): `*nat` (and `*filter` with `filterTable`) sections with chain
 * declarations (`:CHAIN - [0:0]`, which flush the chain under --noflush) followed by rules, each
 * ending in COMMIT.
 *
 * Per service port (one per distinct frontend portName/protocol, named `ns/name[:port]`):
 * `-A KUBE-SERVICES -m comment --comment "<name> cluster IP" -m tcp -p tcp -d <VIP> --dport <P> -j KUBE-SVC-<hash>`;
 * in KUBE-SVC-<hash> the masquerade rule (`! -s <clusterCidr> -j KUBE-MARK-MASQ`), ClientIP affinity
 * `-m recent --rcheck` rules, then one jump per endpoint with
 * `-m statistic --mode random --probability 1/n, 1/(n-1), …` (the last unconditional); per endpoint
 * KUBE-SEP-<hash> with the hairpin `-s <IP> -j KUBE-MARK-MASQ` and
 * `-j DNAT --to-destination <IP:PORT>`. Endpoints: active backends with weight > 0 (kube-proxy has
 * no weights), falling back to terminating ones, sorted by "IP:PORT". A service port without
 * endpoints gets no nat rules (with `filterTable`, a REJECT rule). Internal traffic policy Local
 * uses KUBE-SVL-<hash> with the endpoints on `nodeName`. Chain names hash like kube-proxy's, so
 * they match a real cluster's (default/kubernetes:https → KUBE-SVC-NPX46M4PTMTKRN6Y).
 *
 * Not rendered: NodePort/LoadBalancer/externalIPs chains, topology hints, the jump rules from the
 * built-in chains (see renderKubeProxyJumpRules), deletion of stale chains.
 */
export function renderKubeProxyRules(services: readonly Service[], options: RenderOptions = {}): string {
  const clusterCidr = options.clusterCidr === undefined ? '10.244.0.0/16' : options.clusterCidr;
  const localCidr = clusterCidr === false ? undefined : formatIPv4Cidr(parseIPv4Cidr(clusterCidr, 'clusterCidr'));
  const mark = masqueradeMark(options.masqueradeBit ?? 14);
  const ports = services.flatMap(servicePorts);
  const totalEndpoints = ports.reduce((sum, p) => sum + p.backends.length, 0);
  const largeClusterMode = totalEndpoints > (options.largeClusterEndpointsThreshold ?? 1000);
  const comment = (text: string): string[] => (largeClusterMode ? [] : ['-m', 'comment', '--comment', text]);

  const out: Buffers = { filterChains: [], filterRules: [], natChains: [], natRules: [] };
  for (const chain of ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FORWARD', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL']) {
    out.filterChains.push(`:${chain} - [0:0]`);
  }
  for (const chain of ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ']) out.natChains.push(`:${chain} - [0:0]`);
  out.natRules.push(`-A KUBE-POSTROUTING -m mark ! --mark ${mark}/${mark} -j RETURN`);
  out.natRules.push(`-A KUBE-POSTROUTING -j MARK --xor-mark ${mark}`);
  out.natRules.push(
    `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${options.randomFully === false ? '' : ' --random-fully'}`,
  );
  out.natRules.push(`-A KUBE-MARK-MASQ -j MARK --or-mark ${mark}`);
  // kubelet's anti-martian rule, duplicated by kube-proxy when localhost NodePorts are on (default).
  out.filterChains.push(':KUBE-FIREWALL - [0:0]');
  out.filterRules.push(
    '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
  );

  for (const port of ports) {
    const proto = kubeProxyProtocol(port.protocol);
    const local = port.service.trafficPolicy === 'Local';
    const clusterEndpoints = usable(port.backends);
    const hasEndpoints = clusterEndpoints.length > 0;
    const policyEndpoints = local
      ? usable(port.backends.filter((b) => options.nodeName !== undefined && b.nodeName === options.nodeName))
      : clusterEndpoints;
    const hasInternalEndpoints = policyEndpoints.length > 0;
    const chain = local ? localServiceChainName(port.name, port.protocol) : serviceChainName(port.name, port.protocol);

    for (const f of port.frontends) {
      const match = `-m ${proto} -p ${proto} -d ${f.address} --dport ${f.port}`;
      if (hasInternalEndpoints) {
        out.natRules.push(`-A KUBE-SERVICES -m comment --comment "${port.name} cluster IP" ${match} -j ${chain}`);
      } else {
        const [why, target] = hasEndpoints ? ['has no local endpoints', 'DROP'] : ['has no endpoints', 'REJECT'];
        out.filterRules.push(`-A KUBE-SERVICES -m comment --comment "${port.name} ${why}" ${match} -j ${target}`);
      }
    }
    // Partial sync: an unchanged service's own chains are neither declared (that would flush them)
    // nor rewritten; they stay as the previous restore left them.
    if (options.changedServices !== undefined && !options.changedServices.has(serviceKey(port.service))) continue;
    if (!hasInternalEndpoints) continue;

    if (options.masqueradeAll || localCidr !== undefined) {
      const notLocal = options.masqueradeAll ? '' : ` ! -s ${localCidr}`;
      for (const f of port.frontends) {
        out.natRules.push(
          `-A ${chain} -m comment --comment "${port.name} cluster IP" -m ${proto} -p ${proto} -d ${f.address} --dport ${f.port}${notLocal} -j KUBE-MARK-MASQ`,
        );
      }
    }
    out.natChains.push(`:${chain} - [0:0]`);
    const sepChains = policyEndpoints.map((b) => endpointChainName(port.name, port.protocol, endpointString(b)));
    const affinity = port.service.sessionAffinity;
    if (affinity !== undefined) {
      policyEndpoints.forEach((b, i) => {
        const args = [`-A ${chain}`, ...comment(`"${port.name} -> ${endpointString(b)}"`)];
        args.push(`-m recent --name ${sepChains[i]} --rcheck --seconds ${affinity.timeoutSeconds} --reap -j ${sepChains[i]}`);
        out.natRules.push(args.join(' '));
      });
    }
    policyEndpoints.forEach((b, i) => {
      const args = [`-A ${chain}`, ...comment(`"${port.name} -> ${endpointString(b)}"`)];
      if (i < policyEndpoints.length - 1) args.push(`-m statistic --mode random --probability ${probability(policyEndpoints.length - i)}`);
      args.push(`-j ${sepChains[i]}`);
      out.natRules.push(args.join(' '));
    });
    policyEndpoints.forEach((b, i) => {
      const sep = sepChains[i];
      out.natChains.push(`:${sep} - [0:0]`);
      const head = [`-A ${sep}`, ...comment(port.name)].join(' ');
      out.natRules.push(`${head} -s ${b.address} -j KUBE-MARK-MASQ`);
      const recent = affinity === undefined ? '' : ` -m recent --name ${sep} --set`;
      out.natRules.push(`${head}${recent} -m ${proto} -p ${proto} -j DNAT --to-destination ${endpointString(b)}`);
    });
  }

  out.natRules.push(
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
  );
  out.filterRules.push('-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP');
  out.filterRules.push(`-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`);
  out.filterRules.push('-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT');

  const nat = ['*nat', ...out.natChains, ...out.natRules, 'COMMIT'];
  const filter = options.filterTable ? ['*filter', ...out.filterChains, ...out.filterRules, 'COMMIT'] : [];
  return [...filter, ...nat].join('\n') + '\n';
}

/**
 * The full ruleset of a kube-proxy full sync for `services`, for `iptables-restore --noflush`.
 * Same as renderKubeProxyRules without `changedServices`.
 */
export function renderKubeProxyFullSync(services: readonly Service[], options: KubeProxyOptions = {}): string {
  return renderKubeProxyRules(services, { ...options, changedServices: undefined });
}

/**
 * What kube-proxy's partial sync writes after `added` appears next to `existing` (applied with
 * `iptables-restore --noflush` on top of the full sync of `existing`): the rewritten top-level
 * chains (KUBE-SERVICES holds a rule per service, so this grows with the cluster) plus the new
 * service's own chains. Unchanged services' chains are left alone.
 */
export function renderKubeProxyServiceAddition(existing: readonly Service[], added: Service, options: KubeProxyOptions = {}): string {
  return renderKubeProxyRules([...existing, added], { ...options, changedServices: new Set([serviceKey(added)]) });
}

/**
 * The jump rules kube-proxy installs once from the built-in chains into its own (it uses
 * `iptables -I`, never a restore, to leave other rules alone), rendered for a one-time
 * `iptables-restore --noflush` after the first full sync (the target chains must exist).
 * nat: PREROUTING and OUTPUT → KUBE-SERVICES, POSTROUTING → KUBE-POSTROUTING; with `filterTable`
 * also the filter-table jumps (KUBE-EXTERNAL-SERVICES, KUBE-NODEPORTS, KUBE-SERVICES, KUBE-FORWARD,
 * KUBE-PROXY-FIREWALL, KUBE-FIREWALL).
 */
export function renderKubeProxyJumpRules(options: Pick<KubeProxyOptions, 'filterTable'> = {}): string {
  const newConn = '-m conntrack --ctstate NEW ';
  const filter = [
    '*filter',
    `-I INPUT ${newConn}-m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES`,
    `-I FORWARD ${newConn}-m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES`,
    '-I INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
    `-I FORWARD ${newConn}-m comment --comment "kubernetes service portals" -j KUBE-SERVICES`,
    `-I OUTPUT ${newConn}-m comment --comment "kubernetes service portals" -j KUBE-SERVICES`,
    '-I FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
    `-I INPUT ${newConn}-m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL`,
    `-I OUTPUT ${newConn}-m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL`,
    `-I FORWARD ${newConn}-m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL`,
    '-I INPUT -j KUBE-FIREWALL',
    '-I OUTPUT -j KUBE-FIREWALL',
    'COMMIT',
  ];
  const nat = [
    '*nat',
    '-I OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-I PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-I POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    'COMMIT',
  ];
  return [...(options.filterTable ? filter : []), ...nat].join('\n') + '\n';
}
