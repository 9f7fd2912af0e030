// REST routes of the endpoint manager (`cilia endpoint …`, the CNI plugin).

import { type EndpointCreateRequest, type EndpointJSON, badRequest, notFound } from '../../pkg/api/index.js';
import { Netlink } from '../../pkg/netlink/index.js';
import { netnsExists, netnsPath } from '../../pkg/netns/index.js';
import { type ApiRequest, type ApiRoute, respond, route } from '../api-server/types.js';
import type { Endpoint, EndpointManager, EndpointRef } from './types.js';

/** The wire form of an endpoint. */
export function endpointJSON(ep: Endpoint, hostIfindex?: number, gateway?: string): EndpointJSON {
  const netns = ep.netnsPath.startsWith('/run/netns/') ? ep.netnsPath.slice('/run/netns/'.length) : ep.netnsPath;
  const state = ep.status.kind === 'Error' ? 'not-ready' : !ep.policy ? 'waiting-for-policy' : ep.status.kind === 'Done' ? 'ready' : 'regenerating';
  return {
    id: ep.id,
    name: ep.name,
    namespace: ep.namespace,
    containerId: ep.containerId,
    labels: ep.labels,
    identityLabels: ep.identityLabels.toStrings(),
    identity: ep.identity,
    ipv4: ep.ipv4,
    mac: ep.mac,
    ifName: ep.ifName,
    netns,
    netnsPath: ep.netnsPath,
    hostIfName: ep.hostIfName,
    hostIfindex,
    hostMac: ep.hostMac,
    gateway,
    namedPorts: [...ep.namedPorts],
    state,
    policy: ep.policy,
    status: { kind: ep.status.kind, error: ep.status.error, updatedAt: ep.status.updatedAt },
    createdAt: ep.createdAt,
  };
}

/** An endpoint reference from a path parameter (`12`, `ns/name`, `name`) plus an optional namespace query. */
export function parseRef(text: string, namespace: string | null): EndpointRef {
  if (/^\d+$/.test(text)) return { id: Number(text) };
  const slash = text.indexOf('/');
  if (slash > 0) return { namespace: text.slice(0, slash), name: text.slice(slash + 1) };
  return { namespace: namespace ?? 'default', name: text };
}

function refFromQuery(req: ApiRequest): EndpointRef {
  const q = req.query;
  if (q.get('containerId')) return { containerId: q.get('containerId')!, ifName: q.get('ifName') ?? 'eth0' };
  if (q.get('name')) return { namespace: q.get('namespace') ?? 'default', name: q.get('name')! };
  throw badRequest('name the endpoint with ?containerId=&ifName= or ?name=&namespace=');
}

/**
 * CNI CHECK: the endpoint exists, its host veth is up, and inside the pod netns the interface holds the
 * endpoint's address and a default route. Throws 404 (unknown container) or 409 naming what is wrong.
 */
function check(mgr: EndpointManager, containerId: string, ifName: string, netns: string): Endpoint {
  const ep = mgr.get({ containerId, ifName });
  if (!ep) throw notFound(`no endpoint for container ${containerId} interface ${ifName}`);
  const problems: string[] = [];
  if (netnsPath(netns) !== ep.netnsPath) problems.push(`endpoint lives in ${ep.netnsPath}, not ${netns}`);
  if (!netnsExists(ep.netnsPath)) problems.push(`network namespace ${ep.netnsPath} does not exist`);
  else {
    const host = Netlink.open();
    try {
      const link = host.getLink(ep.hostIfName);
      if (!link) problems.push(`host veth ${ep.hostIfName} is missing`);
      else if (!link.up) problems.push(`host veth ${ep.hostIfName} is down`);
    } finally {
      host.close();
    }
    const pod = Netlink.open({ netns: ep.netnsPath });
    try {
      const link = pod.getLink(ifName);
      if (!link) problems.push(`interface ${ifName} is missing in the pod`);
      else {
        if (!link.up) problems.push(`interface ${ifName} is down in the pod`);
        const addrs = pod.listAddresses({ dev: link.index, family: 'inet' }).map((a) => a.address);
        if (!addrs.includes(ep.ipv4)) problems.push(`interface ${ifName} does not hold ${ep.ipv4} (has ${addrs.join(', ') || 'none'})`);
        if (!pod.listRoutes({}).some((r) => r.dst === 'default' || r.dst === '0.0.0.0/0')) problems.push('the pod has no default route');
      }
    } finally {
      pod.close();
    }
  }
  if (ep.status.kind !== 'Done') problems.push(`endpoint datapath is ${ep.status.kind}${ep.status.error ? `: ${ep.status.error}` : ''}`);
  if (problems.length) throw Object.assign(new Error(`CHECK failed for endpoint ${ep.id}: ${problems.join('; ')}`), { statusCode: 409 });
  return ep;
}

export function endpointRoutes(mgr: EndpointManager, gateway: string): ApiRoute[] {
  const json = (ep: Endpoint) => endpointJSON(ep, mgr.hostIfindex(ep.id), gateway);
  return [
    route('PUT', '/v1/endpoint', 'Create an endpoint (as CNI ADD); returns once traffic can flow', async (req) => {
      const ep = await mgr.create(req.body as EndpointCreateRequest, req.signal);
      return respond(201, json(ep));
    }),
    route('GET', '/v1/endpoint', 'Every endpoint', () => mgr.list().map(json)),
    route('GET', '/v1/endpoint/{ref}', 'One endpoint by id, NAME or NAMESPACE/NAME (with ?namespace=)', (req) => {
      const ep = mgr.get(parseRef(req.params.ref, req.query.get('namespace')));
      if (!ep) throw notFound(`no such endpoint ${req.params.ref}`);
      return json(ep);
    }),
    route('DELETE', '/v1/endpoint/{ref}', 'Delete an endpoint by id or name', async (req) => {
      const ok = await mgr.delete(parseRef(req.params.ref, req.query.get('namespace')));
      if (!ok) throw notFound(`no such endpoint ${req.params.ref}`);
      return { deleted: true };
    }),
    route('DELETE', '/v1/endpoint', 'Delete an endpoint by ?containerId=&ifName= (CNI DEL; idempotent) or ?name=&namespace=', async (req) => ({ deleted: await mgr.delete(refFromQuery(req)) })),
    route('PATCH', '/v1/endpoint/{ref}/labels', 'Add ({"add": {k: v}}) and delete ({"delete": [k]}) pod labels', async (req) => {
      const body = (req.body ?? {}) as { add?: unknown; delete?: unknown };
      if (body.delete !== undefined && (!Array.isArray(body.delete) || body.delete.some((k) => typeof k !== 'string'))) throw badRequest('delete must be a list of label keys', 'delete');
      const ep = await mgr.updateLabels(parseRef(req.params.ref, req.query.get('namespace')), (body.add ?? {}) as Record<string, string>, (body.delete ?? []) as string[], req.signal);
      return json(ep);
    }),
    route('POST', '/v1/endpoint/check', 'CNI CHECK: {containerId, ifName, netns}', (req) => {
      const b = (req.body ?? {}) as { containerId?: unknown; ifName?: unknown; netns?: unknown };
      if (typeof b.containerId !== 'string' || typeof b.ifName !== 'string' || typeof b.netns !== 'string') throw badRequest('containerId, ifName and netns are required strings');
      return json(check(mgr, b.containerId, b.ifName, b.netns));
    }),
  ];
}
