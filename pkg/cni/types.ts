// CNI 1.0.0 types (https://www.cni.dev/docs/spec/): what the runtime gives the plugin and what the
// plugin answers. Only what Cilia uses is modelled; unknown config fields are kept and ignored.

/** Versions this plugin speaks (the result is always written in the config's version). */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] as const;

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'VERSION';

/** Cilia's plugin-specific settings, read from the network config's `args.cni` (CNI conventions). */
export interface CiliaCniArgs {
  /** Pod labels, as an object or a list of "k=v". */
  readonly labels?: Readonly<Record<string, string>>;
  /** Named ports, "name=PORT/PROTO" (as `cilia endpoint create --port`). */
  readonly ports?: readonly string[];
  /** Namespace when the runtime passes no K8S_POD_NAMESPACE. */
  readonly namespace?: string;
}

/** The network configuration on stdin (with prevResult for DEL and CHECK). */
export interface NetConf {
  readonly cniVersion: string;
  readonly name: string;
  readonly type: string;
  /** Agent API socket (default /var/run/cilia/cilia.sock, or CILIA_SOCKET). */
  readonly socket?: string;
  readonly mtu?: number;
  readonly args?: { readonly cni?: CiliaCniArgs };
  readonly prevResult?: CniResult;
  readonly [k: string]: unknown;
}

export interface CniInterface {
  readonly name: string;
  readonly mac?: string;
  readonly sandbox?: string;
}
export interface CniIP {
  readonly address: string;
  readonly gateway?: string;
  readonly interface?: number;
}
export interface CniRoute {
  readonly dst: string;
  readonly gw?: string;
}

/** The result of ADD (and prevResult of DEL/CHECK). */
export interface CniResult {
  readonly cniVersion: string;
  readonly interfaces?: readonly CniInterface[];
  readonly ips?: readonly CniIP[];
  readonly routes?: readonly CniRoute[];
  readonly dns?: Readonly<Record<string, unknown>>;
}

/** Everything a command needs, validated. */
export interface CniRequest {
  readonly command: CniCommand;
  readonly containerId: string;
  readonly netns: string;
  readonly ifName: string;
  readonly cniArgs: Readonly<Record<string, string>>;
  readonly conf: NetConf;
}
