// Owns TestCluster: a small in-memory cluster (namespaces, pods, external addresses, CIDR
// identities) for policy tests, which checks verdicts the way the datapath will.
import {
  LabelSet, ReservedIdentity, cidrLabels, localIdentity, parsePrefix, podIdentityLabels, prefixContains, reservedIdentities,
} from '../../labels/index.js';
import { parsePolicies, type ParseOptions } from '../parse/index.js';
import { Repository } from '../repository/index.js';
import { type EnforcementMode, type LookupVerdict, type NamedPort, type ResolvedPolicy, lookupVerdict, resolve } from '../resolve/index.js';
import { SelectorCache } from '../selectorcache/index.js';

/** A pod of the test cluster. */
export interface TestPod {
  readonly name: string;
  readonly namespace: string;
  readonly ip: string;
  readonly identity: number;
  readonly labels: LabelSet;
  readonly namedPorts: readonly NamedPort[];
}

/** A peer: a pod name, `host`, or an outside address `ip:<address>`. */
export type TestPeer = string;

/** The verdict of a connection in both directions. */
export interface ConnectionVerdict {
  /** The source's egress verdict (always allowed for non-pods). */
  readonly egress: LookupVerdict;
  /** The destination's ingress verdict (always allowed for non-pods). */
  readonly ingress: LookupVerdict;
  readonly allowed: boolean;
}

/**
 * A cluster in memory: identities are allocated per distinct label set (from 256), CIDR
 * identities per referenced prefix (local scope), and verdicts are computed by resolve() +
 * lookupVerdict(), with each peer looked up under its own identity and the CIDR identity of the
 * longest referenced prefix containing its address — the datapath's contract.
 */
export class TestCluster {
  readonly cache = new SelectorCache(reservedIdentities());
  readonly repo = new Repository({ selectorCache: this.cache });
  readonly pods = new Map<string, TestPod>();
  readonly #namespaces = new Map<string, Record<string, string>>();
  readonly #identityByKey = new Map<string, number>();
  readonly #cidrIdentities = new Map<string, number>();
  #nextIdentity = 256;
  #nextLocal = 1;

  constructor(readonly opts: { enforcementMode?: EnforcementMode } & ParseOptions = {}) {}

  /** Declares a namespace's labels (before adding its pods). */
  namespace(name: string, labels: Record<string, string> = {}): this {
    this.#namespaces.set(name, labels);
    return this;
  }

  /** Adds a pod; pods with the same labels share an identity. */
  pod(name: string, spec: { namespace?: string; labels?: Record<string, string>; ip: string; namedPorts?: NamedPort[] }): TestPod {
    const namespace = spec.namespace ?? 'default';
    const labels = podIdentityLabels({ namespace, labels: spec.labels ?? {}, namespaceLabels: this.#namespaces.get(namespace) ?? {} });
    let identity = this.#identityByKey.get(labels.key);
    if (identity === undefined) {
      identity = this.#nextIdentity++;
      this.#identityByKey.set(labels.key, identity);
      this.cache.upsertIdentity(identity, labels);
    }
    const pod = { name, namespace, ip: spec.ip, identity, labels, namedPorts: spec.namedPorts ?? [] };
    this.pods.set(name, pod);
    return pod;
  }

  /** Parses and applies policy text, then allocates the CIDR identities it needs. Returns the revision. */
  apply(text: string): number {
    const { policies } = parsePolicies(text, this.opts);
    const rev = this.repo.upsert(...policies);
    this.syncCidrIdentities();
    return rev;
  }

  /** Allocates a CIDR identity for every referenced prefix that has none yet. */
  syncCidrIdentities(): void {
    for (const p of this.repo.referencedPrefixes()) {
      if (this.#cidrIdentities.has(p)) continue;
      const id = localIdentity(this.#nextLocal++);
      this.#cidrIdentities.set(p, id);
      this.cache.upsertIdentity(id, cidrLabels(p));
    }
  }

  /** The CIDR identity allocated for a prefix. */
  cidrIdentity(prefix: string): number | undefined {
    return this.#cidrIdentities.get(prefix);
  }

  /** The resolved policy of a pod. */
  policyOf(podName: string): ResolvedPolicy {
    const pod = this.#pod(podName);
    return resolve(
      { id: pod.identity, identity: pod.identity, labels: pod.labels, namedPorts: new Map(pod.namedPorts.map((p) => [p.name, p])) },
      this.repo,
      this.cache,
      {
        ...(this.opts.enforcementMode ? { enforcementMode: this.opts.enforcementMode } : {}),
        namedPortsOf: (id) => [...this.pods.values()].filter((p) => p.identity === id).flatMap((p) => p.namedPorts),
      },
    );
  }

  /** The identities the datapath looks a peer up under. */
  identitiesOf(peer: TestPeer): number[] {
    if (peer === 'host') return [ReservedIdentity.Host];
    const pod = this.pods.get(peer);
    const ip = pod ? pod.ip : peer.startsWith('ip:') ? peer.slice(3) : undefined;
    if (ip === undefined) throw new Error(`unknown peer ${peer}`);
    const own = pod ? pod.identity : ReservedIdentity.World;
    const addr = parsePrefix(ip, { allowBareAddress: true });
    let best: { len: number; id: number } | undefined;
    for (const [p, id] of this.#cidrIdentities) {
      const prefix = parsePrefix(p);
      if (prefixContains(prefix, addr) && (!best || prefix.length > best.len)) best = { len: prefix.length, id };
    }
    return best ? [own, best.id] : [own];
  }

  /** The label sets of the identities of identitiesOf(peer), for trace(). */
  labelSetsOf(peer: TestPeer): LabelSet[] {
    return this.identitiesOf(peer).map((id) => {
      const l = this.cache.labelsOf(id);
      if (!l) throw new Error(`identity ${id} has no labels`);
      return l;
    });
  }

  /** The verdict of a new connection from `src` to `dst` on protocol/port. */
  verdict(src: TestPeer, dst: TestPeer, port: number, protocol: 'TCP' | 'UDP' | 'SCTP' | 'ICMP' = 'TCP'): ConnectionVerdict {
    const proto = { TCP: 6, UDP: 17, SCTP: 132, ICMP: 1 }[protocol];
    const egress: LookupVerdict = this.pods.has(src)
      ? lookupVerdict(this.policyOf(src), { direction: 'egress', identities: this.identitiesOf(dst), protocol: proto, port })
      : 'allowed';
    const ingress: LookupVerdict = this.pods.has(dst)
      ? lookupVerdict(this.policyOf(dst), { direction: 'ingress', identities: this.identitiesOf(src), protocol: proto, port })
      : 'allowed';
    return { egress, ingress, allowed: egress === 'allowed' && ingress === 'allowed' };
  }

  /** Shorthand: whether the connection is allowed. */
  allowed(src: TestPeer, dst: TestPeer, port: number, protocol: 'TCP' | 'UDP' | 'SCTP' | 'ICMP' = 'TCP'): boolean {
    return this.verdict(src, dst, port, protocol).allowed;
  }

  #pod(name: string): TestPod {
    const pod = this.pods.get(name);
    if (!pod) throw new Error(`unknown pod ${name}`);
    return pod;
  }
}
