// Validation of the plugin's input: CNI_* environment and the network config on stdin. Every problem
// is a CniError naming the variable or field, so the runtime shows a useful message.

import { CniCode, CniError } from './errors.js';
import { type CniCommand, type CniRequest, type NetConf, SUPPORTED_VERSIONS } from './types.js';

const COMMANDS = new Set<CniCommand>(['ADD', 'DEL', 'CHECK', 'VERSION']);

/** Parses CNI_ARGS ("IgnoreUnknown=1;K8S_POD_NAME=x;..."). */
export function parseCniArgs(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const part of raw.split(';')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new CniError(CniCode.InvalidEnvironment, `CNI_ARGS: malformed pair ${JSON.stringify(part)} (want KEY=VALUE)`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

/** The command from CNI_COMMAND. */
export function parseCommand(env: Readonly<Record<string, string | undefined>>): CniCommand {
  const c = env.CNI_COMMAND;
  if (!c) throw new CniError(CniCode.InvalidEnvironment, 'CNI_COMMAND is not set');
  if (!COMMANDS.has(c as CniCommand)) throw new CniError(CniCode.InvalidEnvironment, `CNI_COMMAND: unknown command ${JSON.stringify(c)} (want ADD, DEL, CHECK or VERSION)`);
  return c as CniCommand;
}

/** Parses and validates the network configuration. */
export function parseNetConf(stdin: string): NetConf {
  let v: unknown;
  try {
    v = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(CniCode.DecodeFailure, `network config on stdin is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CniError(CniCode.DecodeFailure, 'network config on stdin must be a JSON object');
  const c = v as Record<string, unknown>;
  if (typeof c.cniVersion !== 'string') throw new CniError(CniCode.InvalidNetworkConfig, 'network config: field cniVersion is missing or not a string');
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(c.cniVersion)) {
    throw new CniError(CniCode.IncompatibleVersion, `network config: cniVersion ${c.cniVersion} is not supported (supported: ${SUPPORTED_VERSIONS.join(', ')})`);
  }
  if (c.name !== undefined && typeof c.name !== 'string') throw new CniError(CniCode.InvalidNetworkConfig, 'network config: field name must be a string');
  if (c.socket !== undefined && (typeof c.socket !== 'string' || !c.socket.startsWith('/'))) throw new CniError(CniCode.InvalidNetworkConfig, 'network config: field socket must be an absolute path');
  if (c.mtu !== undefined && (typeof c.mtu !== 'number' || !Number.isInteger(c.mtu) || c.mtu < 576 || c.mtu > 65535)) throw new CniError(CniCode.InvalidNetworkConfig, 'network config: field mtu must be an integer between 576 and 65535');
  const args = c.args as { cni?: unknown } | undefined;
  if (args !== undefined && (typeof args !== 'object' || args === null)) throw new CniError(CniCode.InvalidNetworkConfig, 'network config: field args must be an object');
  const cni = args?.cni as Record<string, unknown> | undefined;
  if (cni !== undefined) {
    if (typeof cni !== 'object' || cni === null) throw new CniError(CniCode.InvalidNetworkConfig, 'network config: field args.cni must be an object');
    if (cni.labels !== undefined) {
      const l = cni.labels;
      const ok = typeof l === 'object' && l !== null && !Array.isArray(l) && Object.values(l).every((x) => typeof x === 'string');
      if (!ok) throw new CniError(CniCode.InvalidNetworkConfig, 'network config: field args.cni.labels must be an object of string values');
    }
    if (cni.ports !== undefined && (!Array.isArray(cni.ports) || cni.ports.some((p) => typeof p !== 'string'))) {
      throw new CniError(CniCode.InvalidNetworkConfig, 'network config: field args.cni.ports must be a list of "name=PORT/PROTO" strings');
    }
    if (cni.namespace !== undefined && typeof cni.namespace !== 'string') throw new CniError(CniCode.InvalidNetworkConfig, 'network config: field args.cni.namespace must be a string');
  }
  return { ...c, cniVersion: c.cniVersion, name: (c.name) ?? '', type: (c.type as string | undefined) ?? 'cilia-cni' };
}

/** Validates the environment and stdin of a non-VERSION command. */
export function parseRequest(env: Readonly<Record<string, string | undefined>>, stdin: string): CniRequest {
  const command = parseCommand(env);
  const conf = parseNetConf(stdin);
  const containerId = env.CNI_CONTAINERID ?? '';
  if (!containerId) throw new CniError(CniCode.InvalidEnvironment, 'CNI_CONTAINERID is not set');
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(containerId)) throw new CniError(CniCode.InvalidEnvironment, `CNI_CONTAINERID: ${JSON.stringify(containerId)} has characters other than alphanumerics, '_', '.' and '-'`);
  const ifName = env.CNI_IFNAME ?? '';
  if (!ifName) throw new CniError(CniCode.InvalidEnvironment, 'CNI_IFNAME is not set');
  if (ifName.length > 15 || /[/\s:]/.test(ifName) || ifName === '.' || ifName === '..') throw new CniError(CniCode.InvalidEnvironment, `CNI_IFNAME: ${JSON.stringify(ifName)} is not a valid interface name`);
  const netns = env.CNI_NETNS ?? '';
  // DEL must succeed even when the runtime already lost the netns (spec: "should not return an error").
  if (!netns && command !== 'DEL') throw new CniError(CniCode.InvalidEnvironment, 'CNI_NETNS is not set');
  if (netns && !netns.startsWith('/')) throw new CniError(CniCode.InvalidEnvironment, `CNI_NETNS: ${JSON.stringify(netns)} is not an absolute path`);
  return { command, containerId, netns, ifName, cniArgs: parseCniArgs(env.CNI_ARGS), conf };
}
