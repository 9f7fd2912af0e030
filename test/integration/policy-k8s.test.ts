// Kubernetes NetworkPolicy truth table on a real agent: three namespaces × three pods, each pod serving
// TCP and UDP on ports 80 and 81; after each step of a series of policy (and label) changes, every pair
// is probed on every port and compared with what the Kubernetes semantics say — computed by a small
// evaluator written here from the NetworkPolicy API documentation, independent of pkg/policy.
// A mismatch prints the whole matrix with the wrong cells marked.
//
// Isolation (test/lib/ranges.md): namespaces tqk-*, prefix tqk, pod CIDR 10.244.21.0/24.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { EndpointJSON } from '../../pkg/api/index.js';
import { type TestAgent, startAgent } from '../lib/agent.js';
import { PodProcess, type ProbeOutcome } from '../lib/pod-process.js';

const POD_CIDR = '10.244.21.0/24';
const NAMESPACES = ['tqk-x', 'tqk-y', 'tqk-z'] as const;
const PODS = ['a', 'b', 'c'] as const;
const PORTS = [80, 81] as const;
const PROTOCOLS = ['TCP', 'UDP'] as const;
type Protocol = (typeof PROTOCOLS)[number];

// --- the Kubernetes model: objects as the API defines them, and an evaluator of their semantics ----------

type Labels = Record<string, string>;
interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}
interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}
interface NetworkPolicyPort {
  protocol?: Protocol;
  port?: number | string;
  endPort?: number;
}
interface NetworkPolicyRule {
  from?: NetworkPolicyPeer[];
  to?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}
interface NetworkPolicy {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  metadata: { name: string; namespace: string };
  spec: {
    podSelector: LabelSelector;
    policyTypes?: ('Ingress' | 'Egress')[];
    ingress?: NetworkPolicyRule[];
    egress?: NetworkPolicyRule[];
  };
}
interface NamedPort {
  name: string;
  port: number;
  protocol: Protocol;
}
interface ModelPod {
  namespace: string;
  name: string;
  labels: Labels;
  ip: string;
  namedPorts: NamedPort[];
}

/** The cluster as the test believes it is: namespace labels, pods, policies in force. */
class Cluster {
  readonly namespaceLabels = new Map<string, Labels>();
  readonly pods: ModelPod[] = [];
  readonly policies = new Map<string, NetworkPolicy>();

  /** Label selector semantics (metav1.LabelSelector): all requirements ANDed, `{}` selects everything. */
  static selects(sel: LabelSelector, labels: Labels): boolean {
    for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
    for (const e of sel.matchExpressions ?? []) {
      const has = Object.hasOwn(labels, e.key);
      const inValues = has && (e.values ?? []).includes(labels[e.key]);
      if (e.operator === 'In' && !inValues) return false;
      if (e.operator === 'NotIn' && inValues) return false;
      if (e.operator === 'Exists' && !has) return false;
      if (e.operator === 'DoesNotExist' && has) return false;
    }
    return true;
  }

  static ipInCidr(ip: string, cidr: string): boolean {
    const toInt = (a: string) => a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    const [base, bits] = cidr.split('/');
    const size = 2 ** (32 - Number(bits));
    return Math.floor(toInt(ip) / size) === Math.floor(toInt(base) / size);
  }

  /** A namespace's labels as selectors see them: the API server adds kubernetes.io/metadata.name. */
  labelsOfNamespace(ns: string): Labels {
    return { ...this.namespaceLabels.get(ns), 'kubernetes.io/metadata.name': ns };
  }

  /** policyTypes, defaulted as the API server does: Ingress, plus Egress when there are egress rules. */
  static policyTypes(p: NetworkPolicy): string[] {
    return p.spec.policyTypes ?? ['Ingress', ...(p.spec.egress?.length ? ['Egress'] : [])];
  }

  /** A peer of a policy in namespace `policyNs` matches pod `pod`. */
  private peerMatches(peer: NetworkPolicyPeer, policyNs: string, pod: ModelPod): boolean {
    if (peer.ipBlock) return Cluster.ipInCidr(pod.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((e) => Cluster.ipInCidr(pod.ip, e));
    const nsOk = peer.namespaceSelector ? Cluster.selects(peer.namespaceSelector, this.labelsOfNamespace(pod.namespace)) : pod.namespace === policyNs;
    const podOk = peer.podSelector ? Cluster.selects(peer.podSelector, pod.labels) : true;
    return nsOk && podOk;
  }

  /** The rule's ports allow `proto`/`port` on the destination pod `dst` (named ports are dst's). */
  private static portMatches(ports: NetworkPolicyPort[] | undefined, dst: ModelPod, proto: Protocol, port: number): boolean {
    if (!ports?.length) return true;
    return ports.some((p) => {
      if ((p.protocol ?? 'TCP') !== proto) return false;
      if (p.port === undefined) return true;
      if (typeof p.port === 'number') return port >= p.port && port <= (p.endPort ?? p.port);
      return dst.namedPorts.some((n) => n.name === p.port && n.protocol === proto && n.port === port);
    });
  }

  /** One direction: is `self` isolated in it, and if so does some rule admit `peer`? */
  private directionAllows(dir: 'Ingress' | 'Egress', self: ModelPod, peer: ModelPod, dst: ModelPod, proto: Protocol, port: number): boolean {
    const selecting = [...this.policies.values()].filter((p) => p.metadata.namespace === self.namespace && Cluster.selects(p.spec.podSelector, self.labels) && Cluster.policyTypes(p).includes(dir));
    if (!selecting.length) return true;
    return selecting.some((p) =>
      ((dir === 'Ingress' ? p.spec.ingress : p.spec.egress) ?? []).some((rule) => {
        const peers = dir === 'Ingress' ? rule.from : rule.to;
        return (!peers?.length || peers.some((x) => this.peerMatches(x, p.metadata.namespace, peer))) && Cluster.portMatches(rule.ports, dst, proto, port);
      }),
    );
  }

  /** A new connection from `src` to `dst`: the sender's egress and the receiver's ingress must allow it. */
  allowed(src: ModelPod, dst: ModelPod, proto: Protocol, port: number): boolean {
    // A pod reaching its own address stays on its loopback (Kubernetes' e2e "AllowLoopback").
    if (src === dst) return true;
    return this.directionAllows('Egress', src, dst, dst, proto, port) && this.directionAllows('Ingress', dst, src, dst, proto, port);
  }
}

// --- helpers -------------------------------------------------------------------------------------

function np(namespace: string, name: string, spec: NetworkPolicy['spec']): NetworkPolicy {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
}

const short = (ns: string) => ns.slice('tqk-'.length);
const podId = (p: ModelPod) => `${short(p.namespace)}/${p.name}`;

/** One column per (protocol, port): t80 t81 u80 u81. */
const COLUMNS = PROTOCOLS.flatMap((proto) => PORTS.map((port) => ({ proto, port, label: `${proto[0].toLowerCase()}${port}` })));

/**
 * The matrix of a step: rows = sources, columns = destinations, each cell one character per column in
 * COLUMNS order: '.' reached, 'x' blocked — upper-case 'A' (reached, expected blocked), 'B' (blocked,
 * expected reached) or '?' (refused, error, or an answer from another pod) where the datapath and the expectation differ.
 */
function formatMatrix(pods: readonly ModelPod[], cell: (src: ModelPod, dst: ModelPod) => string): string {
  const w = COLUMNS.length;
  const head = ['src\\dst'.padEnd(8), ...pods.map((p) => podId(p).padEnd(w))].join(' ');
  const rows = pods.map((s) => [podId(s).padEnd(8), ...pods.map((d) => cell(s, d))].join(' '));
  return [`cells: ${COLUMNS.map((c) => c.label).join(' ')} ('.' reached, 'x' blocked; A = reached but expected blocked, B = blocked but expected reached, ? = other)`, head, ...rows].join('\n');
}

// --- the steps -----------------------------------------------------------------------------------

/** One change of the cluster followed by a full probe round. */
interface Step {
  readonly name: string;
  /** Policies to create or replace (`cilia apply -f`). */
  readonly apply?: NetworkPolicy[];
  /** Policies to delete, as NAMESPACE/NAME. */
  readonly delete?: string[];
  /** New labels of a namespace (`cilia apply -f` of a Namespace). */
  readonly namespaceLabels?: { readonly namespace: string; readonly labels: Labels };
  /** New labels of a pod (`cilia endpoint labels`). */
  readonly podLabels?: { readonly namespace: string; readonly pod: string; readonly labels: Labels };
  /** Delete the step's policies again after probing, so later steps stay clean. */
  readonly revert?: boolean;
}

const ALL_PODS_CIDR = POD_CIDR;

/** Filled in once the pods have addresses (ipBlock rules name pod addresses). */
function steps(ipOf: (ns: string, pod: string) => string): Step[] {
  return [
    { name: 'no policy: everything reaches everything' },
    { name: 'default deny ingress in x', apply: [np('tqk-x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] })] },
    { name: 'allow ingress from the same namespace in x', apply: [np('tqk-x', 'allow-same-ns', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })] },
    {
      name: 'namespaceSelector: y/a only from namespaces with tier=back',
      apply: [np('tqk-y', 'from-back', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { tier: 'back' } } }] }] })],
    },
    {
      name: 'podSelector+namespaceSelector in one peer (AND) vs in two peers (OR)',
      apply: [
        np('tqk-z', 'and-peer', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } }, podSelector: { matchLabels: { pod: 'b' } } }] }] }),
        np('tqk-z', 'or-peers', { podSelector: { matchLabels: { pod: 'b' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } } }, { podSelector: { matchLabels: { pod: 'c' } } }] }] }),
      ],
    },
    {
      name: 'ingress ipBlock over the pod network, except one pod address, TCP 80 only',
      apply: [np('tqk-y', 'ipblock-in', { podSelector: { matchLabels: { pod: 'b' } }, ingress: [{ from: [{ ipBlock: { cidr: ALL_PODS_CIDR, except: [`${ipOf('tqk-x', 'a')}/32`] } }], ports: [{ port: 80 }] }] })],
      revert: true,
    },
    {
      name: 'endPort ranges: x/c open to all on TCP 80-81 and UDP 81-90',
      apply: [np('tqk-x', 'endport', { podSelector: { matchLabels: { pod: 'c' } }, ingress: [{ ports: [{ protocol: 'TCP', port: 80, endPort: 81 }, { protocol: 'UDP', port: 81, endPort: 90 }] }] })],
    },
    {
      name: 'named ports: y/c from every namespace on serve-81-tcp and UDP serve-80-udp (a TCP serve-80-udp matches nothing)',
      apply: [
        np('tqk-y', 'named', {
          podSelector: { matchLabels: { pod: 'c' } },
          ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ port: 'serve-81-tcp' }, { protocol: 'UDP', port: 'serve-80-udp' }, { port: 'serve-80-udp' }] }],
        }),
      ],
    },
    {
      name: 'egress with policyTypes: x/b may send only to y on TCP 80; z/c lists only Ingress so its egress rules do nothing',
      apply: [
        np('tqk-x', 'egress-to-y', { podSelector: { matchLabels: { pod: 'b' } }, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ port: 80 }] }] }),
        np('tqk-z', 'ingress-type-only', {
          podSelector: { matchLabels: { pod: 'c' } },
          policyTypes: ['Ingress'],
          ingress: [{}],
          egress: [{ to: [{ podSelector: { matchLabels: { pod: 'nobody' } } }] }],
        }),
      ],
    },
    {
      name: 'egress without policyTypes defaults to Ingress+Egress: y/a sends only within y and takes nothing new',
      apply: [np('tqk-y', 'egress-default-types', { podSelector: { matchLabels: { pod: 'a' } }, egress: [{ to: [{ podSelector: {} }] }] })],
    },
    {
      name: 'egress ipBlock: z/c may send to the pod network except y/c',
      apply: [np('tqk-z', 'egress-ipblock', { podSelector: { matchLabels: { pod: 'c' } }, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: ALL_PODS_CIDR, except: [`${ipOf('tqk-y', 'c')}/32`] } }] }] })],
    },
    { name: 'default deny egress in z', apply: [np('tqk-z', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] })] },
    { name: 'namespace label change: z leaves tier=back', namespaceLabels: { namespace: 'tqk-z', labels: { ns: 'z', tier: 'front' } } },
    { name: 'pod label change: x/b becomes pod=bb', podLabels: { namespace: 'tqk-x', pod: 'b', labels: { pod: 'bb', role: 'db' } } },
    { name: 'removing x/deny-ingress changes nothing (x/allow-same-ns still isolates x)', delete: ['tqk-x/deny-ingress'] },
    { name: 'removing x/allow-same-ns opens x/a and x/b again', delete: ['tqk-x/allow-same-ns'] },
    {
      name: 'everything removed',
      delete: ['tqk-y/from-back', 'tqk-z/and-peer', 'tqk-z/or-peers', 'tqk-x/endport', 'tqk-y/named', 'tqk-x/egress-to-y', 'tqk-z/ingress-type-only', 'tqk-y/egress-default-types', 'tqk-z/egress-ipblock', 'tqk-z/deny-egress'],
    },
  ];
}

// --- the test ------------------------------------------------------------------------------------

const INITIAL_NAMESPACE_LABELS: Record<string, Labels> = {
  'tqk-x': { ns: 'x', tier: 'front' },
  'tqk-y': { ns: 'y', tier: 'back' },
  'tqk-z': { ns: 'z', tier: 'back' },
};
const INITIAL_POD_LABELS: Record<string, Labels> = { a: { pod: 'a', role: 'web' }, b: { pod: 'b', role: 'db' }, c: { pod: 'c', role: 'web' } };
const NAMED_PORTS: NamedPort[] = PROTOCOLS.flatMap((protocol) => PORTS.map((port) => ({ name: `serve-${port}-${protocol.toLowerCase()}`, port, protocol })));

function namespaceObject(name: string, labels: Labels) {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

describe('Kubernetes NetworkPolicy truth table (3 namespaces × 3 pods × TCP/UDP 80/81)', { timeout: 180_000 }, () => {
  let agent: TestAgent;
  const cluster = new Cluster();
  const procs = new Map<ModelPod, PodProcess>();
  let rounds = 0;
  let probes = 0;

  before(async () => {
    agent = await startAgent('tq-k8s', { datapath: { prefix: 'tqk', podCidr: POD_CIDR } });
    await agent.cliOk(['apply', '-f', '-', '--wait'], JSON.stringify(NAMESPACES.map((ns) => namespaceObject(ns, INITIAL_NAMESPACE_LABELS[ns]))));
    for (const ns of NAMESPACES) cluster.namespaceLabels.set(ns, INITIAL_NAMESPACE_LABELS[ns]);
    // Create the nine endpoints two at a time (each waits for its datapath).
    const specs = NAMESPACES.flatMap((ns) => PODS.map((name) => ({ ns, name })));
    for (let i = 0; i < specs.length; i += 2) {
      await Promise.all(
        specs.slice(i, i + 2).map(async ({ ns, name }) => {
          const labels = Object.entries(INITIAL_POD_LABELS[name]).map(([k, v]) => `${k}=${v}`).join(',');
          const ports = NAMED_PORTS.flatMap((p) => ['--port', `${p.name}=${p.port}/${p.protocol}`]);
          const ep = JSON.parse(await agent.cliOk(['endpoint', 'create', '--name', name, '--namespace', ns, '--labels', labels, ...ports])) as EndpointJSON;
          const pod: ModelPod = { namespace: ns, name, labels: { ...INITIAL_POD_LABELS[name] }, ip: ep.ipv4, namedPorts: NAMED_PORTS };
          cluster.pods.push(pod);
          procs.set(pod, await PodProcess.start(ep.netns, { name: `${short(ns)}/${name}`, tcp: [...PORTS], udp: [...PORTS] }));
        }),
      );
    }
    cluster.pods.sort((p, q) => podId(p).localeCompare(podId(q)));
  });

  after(async () => {
    for (const p of procs.values()) await p.stop();
    await agent?.cleanup();
    // The size of the table, for the record.
    console.log(`truth table: ${rounds} rounds × ${cluster.pods.length ** 2 * COLUMNS.length} probes = ${probes} probes`);
  });

  /** Probes every (src, dst, column) in parallel; returns the matrix and its mismatches. */
  async function probeRound(): Promise<{ mismatches: number; matrix: string }> {
    const jobs: { src: ModelPod; dst: ModelPod; col: number; expect: boolean; outcome?: ProbeOutcome }[] = [];
    for (const src of cluster.pods) for (const dst of cluster.pods) COLUMNS.forEach((c, col) => jobs.push({ src, dst, col, expect: cluster.allowed(src, dst, c.proto, c.port) }));
    await Promise.all(
      jobs.map(async (j) => {
        const c = COLUMNS[j.col];
        const r = await procs.get(j.src)!.probe({ proto: c.proto === 'TCP' ? 'tcp' : 'udp', host: j.dst.ip, port: c.port });
        // An answer from another pod than the one probed is no reach: it shows as '?'.
        j.outcome = r.outcome === 'ok' && r.server !== podId(j.dst) ? 'error' : r.outcome;
      }),
    );
    rounds++;
    probes += jobs.length;
    const byKey = new Map(jobs.map((j) => [`${podId(j.src)}>${podId(j.dst)}>${j.col}`, j]));
    let mismatches = 0;
    const matrix = formatMatrix(cluster.pods, (s, d) =>
      COLUMNS.map((_, col) => {
        const j = byKey.get(`${podId(s)}>${podId(d)}>${col}`)!;
        const reached = j.outcome === 'ok';
        const blocked = j.outcome === 'timeout';
        if ((reached && j.expect) || (blocked && !j.expect)) return reached ? '.' : 'x';
        mismatches++;
        return reached ? 'A' : blocked ? 'B' : '?';
      }).join(''),
    );
    return { mismatches, matrix };
  }

  /** Makes the agent (and the model) match the step. */
  async function applyStep(step: Step): Promise<void> {
    if (step.apply?.length) {
      await agent.cliOk(['apply', '-f', '-', '--wait'], JSON.stringify(step.apply));
      for (const p of step.apply) cluster.policies.set(`${p.metadata.namespace}/${p.metadata.name}`, p);
    }
    if (step.delete?.length) {
      await deletePolicies(step.delete);
    }
    if (step.namespaceLabels) {
      const { namespace, labels } = step.namespaceLabels;
      await agent.cliOk(['apply', '-f', '-', '--wait'], JSON.stringify([namespaceObject(namespace, labels)]));
      cluster.namespaceLabels.set(namespace, labels);
    }
    if (step.podLabels) {
      const { namespace, pod, labels } = step.podLabels;
      const model = cluster.pods.find((p) => p.namespace === namespace && p.name === pod)!;
      const removed = Object.keys(model.labels).filter((k) => !(k in labels)).flatMap((k) => ['--delete', k]);
      const added = Object.entries(labels).flatMap(([k, v]) => ['--add', `${k}=${v}`]);
      await agent.cliOk(['endpoint', 'labels', pod, '--namespace', namespace, ...added, ...removed]);
      model.labels = { ...labels };
    }
  }

  async function deletePolicies(refs: readonly string[]): Promise<void> {
    const objects = refs.map((ref) => {
      const p = cluster.policies.get(ref);
      assert.ok(p, `the model has no policy ${ref}`);
      return p;
    });
    await agent.cliOk(['delete', '-f', '-', '--wait'], JSON.stringify(objects));
    for (const ref of refs) cluster.policies.delete(ref);
  }

  // The steps need pod addresses, known only after `before`; addresses are allocated in creation
  // order from the pod CIDR, but the steps read them lazily rather than assume that.
  const ipOf = (ns: string, name: string) => cluster.pods.find((p) => p.namespace === ns && p.name === name)!.ip;
  for (const [i, step] of steps((ns, name) => `\${${ns}/${name}}`).entries()) {
    test(`step ${i}: ${step.name}`, { timeout: 30_000 }, async () => {
      const real = steps(ipOf)[i];
      try {
        await applyStep(real);
        const { mismatches, matrix } = await probeRound();
        // CILIA_TEST_PRINT_MATRIX=1 shows every step's matrix, not only the failing ones.
        if (process.env.CILIA_TEST_PRINT_MATRIX) console.log(`step ${i}: ${step.name}\n${matrix}`);
        assert.equal(mismatches, 0, `step ${i} (${step.name}): ${mismatches} cell(s) differ from the Kubernetes semantics\n${matrix}`);
      } finally {
        if (real.revert && real.apply) await deletePolicies(real.apply.map((p) => `${p.metadata.namespace}/${p.metadata.name}`));
      }
    });
  }
});
