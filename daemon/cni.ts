#!/usr/bin/env node
// cilia-cni: the CNI 1.0.0 plugin (ADD, DEL, CHECK, VERSION). Container runtimes execute it with CNI_*
// environment variables and the network configuration on stdin. It is a thin client: the agent creates
// the veth, moves one end into CNI_NETNS as CNI_IFNAME, assigns the address and routes, attaches the
// datapath and enforces policy before ADD returns. Errors are CNI error JSON on stdout with the spec's
// codes. Kept free of heavy imports: it starts on every pod creation.

import { AgentUnreachableError, ApiClient, ApiClientError, DEFAULT_SOCKET, type EndpointJSON } from '../pkg/api/index.js';
import { CniCode, CniError, type CniRequest, type CniResult, SUPPORTED_VERSIONS, parseCommand, parseRequest } from '../pkg/cni/index.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The CNI result for an endpoint, in the configuration's version. */
function result(req: CniRequest, ep: EndpointJSON & { gateway?: string }): CniResult {
  const v1 = req.conf.cniVersion === '1.0.0';
  return {
    cniVersion: req.conf.cniVersion,
    interfaces: [{ name: ep.hostIfName, mac: ep.hostMac }, { name: ep.ifName, mac: ep.mac, sandbox: req.netns }],
    ips: [{ ...(v1 ? {} : { version: '4' }), address: `${ep.ipv4}/32`, ...(ep.gateway ? { gateway: ep.gateway } : {}), interface: 1 }],
    routes: [{ dst: '0.0.0.0/0', ...(ep.gateway ? { gw: ep.gateway } : {}) }],
    dns: {},
  };
}

function podName(req: CniRequest): string {
  const n = req.cniArgs.K8S_POD_NAME;
  if (n) return n.toLowerCase();
  return `container-${req.containerId.slice(0, 12).toLowerCase().replace(/[^a-z0-9-]/g, '-')}`;
}

/** Maps an agent error to a CNI error. */
function fromApi(err: unknown, what: string): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof AgentUnreachableError) return new CniError(CniCode.TryAgainLater, err.message);
  if (err instanceof ApiClientError) {
    if (err.status === 404) return new CniError(CniCode.UnknownContainer, err.message);
    if (err.status === 400) return new CniError(CniCode.EndpointRejected, `${what}: ${err.message}`, err.field ? `field: ${err.field}` : '');
    return new CniError(CniCode.AgentFailure, `${what}: ${err.message}`);
  }
  return new CniError(CniCode.AgentFailure, `${what}: ${err instanceof Error ? err.message : String(err)}`);
}

async function main(): Promise<number> {
  const env = process.env;
  let cniVersion = '1.0.0';
  try {
    const command = parseCommand(env);
    const stdin = await readStdin();
    if (command === 'VERSION') {
      try {
        const v = (JSON.parse(stdin || '{}') as { cniVersion?: string }).cniVersion;
        if (v) cniVersion = v;
      } catch {
        /* VERSION works without a valid config */
      }
      process.stdout.write(JSON.stringify({ cniVersion, supportedVersions: SUPPORTED_VERSIONS }) + '\n');
      return 0;
    }
    const req = parseRequest(env, stdin);
    cniVersion = req.conf.cniVersion;
    const client = new ApiClient(req.conf.socket ?? env.CILIA_SOCKET ?? DEFAULT_SOCKET, 120_000);
    switch (req.command) {
      case 'ADD': {
        const cni = req.conf.args?.cni ?? {};
        let ep: EndpointJSON;
        try {
          ep = await client.put<EndpointJSON>('/v1/endpoint', {
            name: podName(req),
            namespace: req.cniArgs.K8S_POD_NAMESPACE ?? cni.namespace ?? 'default',
            labels: cni.labels ?? {},
            namedPorts: cni.ports ?? [],
            netns: req.netns,
            ifName: req.ifName,
            containerId: req.containerId,
            mtu: req.conf.mtu,
          });
        } catch (err) {
          throw fromApi(err, 'ADD');
        }
        process.stdout.write(JSON.stringify(result(req, ep)) + '\n');
        return 0;
      }
      case 'DEL': {
        try {
          await client.delete(`/v1/endpoint?containerId=${encodeURIComponent(req.containerId)}&ifName=${encodeURIComponent(req.ifName)}`);
        } catch (err) {
          throw fromApi(err, 'DEL');
        }
        return 0;
      }
      case 'CHECK': {
        try {
          await client.post('/v1/endpoint/check', { containerId: req.containerId, ifName: req.ifName, netns: req.netns });
        } catch (err) {
          throw fromApi(err, 'CHECK');
        }
        return 0;
      }
    }
    return 0;
  } catch (err) {
    const e = err instanceof CniError ? err : new CniError(CniCode.AgentFailure, err instanceof Error ? err.message : String(err));
    process.stdout.write(JSON.stringify(e.toJSON(cniVersion)) + '\n');
    return 1;
  }
}

process.exitCode = await main();
