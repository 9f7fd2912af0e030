// Wire types of the agent's REST API: what the CLI's --json prints. Keep them stable.

/** Body of every error response. `field` names the part of the request at fault (e.g. `spec.ingress[0]`). */
export interface ApiErrorBody {
  readonly error: string;
  readonly field?: string;
}

/** A node of the health tree (module → sub-reporters). */
export interface HealthNode {
  readonly name: string;
  readonly id: string;
  readonly level: 'Unknown' | 'OK' | 'Degraded' | 'Stopped';
  readonly message: string;
  readonly error?: string;
  readonly updatedAt?: number;
  readonly children: HealthNode[];
}

/** One line of `cilia status` contributed by a cell (e.g. "IPAM: 3/254 allocated from 10.244.0.0/24"). */
export interface StatusLine {
  readonly name: string;
  readonly state: 'Ok' | 'Warning' | 'Failure' | 'Disabled';
  readonly message: string;
}

/** GET /v1/status */
export interface StatusResponse {
  readonly cilia: { readonly state: 'Ok' | 'Warning' | 'Failure'; readonly message: string };
  readonly version: string;
  readonly node: { readonly versions: Record<string, string> };
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  readonly lines: StatusLine[];
  readonly health: HealthNode;
}

/** GET /v1/statedb/{table} */
export interface StateDBTableDump {
  readonly table: string;
  readonly revision: number;
  readonly initialized: boolean;
  readonly header: readonly string[];
  readonly rows: string[][];
  readonly objects: { readonly revision: number; readonly object: unknown }[];
}

/** GET /v1/statedb */
export interface StateDBTableInfo {
  readonly name: string;
  readonly objects: number;
  readonly revision: number;
  readonly initialized: boolean;
  readonly pendingInitializers: string[];
}

/** A port an endpoint declares by name (Kubernetes containerPort name), for named-port policy and services. */
export interface NamedPortJSON {
  readonly name: string;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
}

/** PUT /v1/endpoint — what `cilia endpoint create` and the CNI plugin send. */
export interface EndpointCreateRequest {
  /** Pod name. */
  readonly name: string;
  /** Pod namespace (default `default`). */
  readonly namespace?: string;
  /** Pod labels (they become `k8s:` identity labels). */
  readonly labels?: Readonly<Record<string, string>>;
  /** Named ports, as objects or "name=PORT/PROTO" strings. */
  readonly namedPorts?: readonly (NamedPortJSON | string)[];
  /** Network namespace: a path (/run/netns/x, /proc/PID/ns/net) or a name under /run/netns. Absent: the agent creates one. */
  readonly netns?: string;
  /** Interface name inside the pod (default eth0). */
  readonly ifName?: string;
  /** Container id (CNI_CONTAINERID); generated when absent. */
  readonly containerId?: string;
  /** MTU of the pod interface (default 1500). */
  readonly mtu?: number;
}

/** An endpoint as the API and `cilia endpoint get --json` show it. */
export interface EndpointJSON {
  readonly id: number;
  readonly name: string;
  readonly namespace: string;
  readonly containerId: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Source-prefixed identity labels, e.g. `k8s:app=web`. */
  readonly identityLabels: string[];
  readonly identity: number;
  readonly ipv4: string;
  readonly mac: string;
  readonly ifName: string;
  /** The netns name under /run/netns, or its path when it is elsewhere. */
  readonly netns: string;
  readonly netnsPath: string;
  readonly hostIfName: string;
  readonly hostIfindex?: number;
  readonly hostMac: string;
  /** The pod's gateway (the node's router IP). */
  readonly gateway?: string;
  readonly namedPorts: NamedPortJSON[];
  /** creating | waiting-for-policy | ready | not-ready (see status) */
  readonly state: string;
  readonly policy?: { readonly ingressEnforced: boolean; readonly egressEnforced: boolean; readonly revision: number };
  readonly status: { readonly kind: string; readonly error?: string; readonly updatedAt: number };
  readonly createdAt: string;
}
