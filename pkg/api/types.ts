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
