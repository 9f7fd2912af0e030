// Validation of endpoint requests: every problem is a 400 naming the field, and nothing changes.

import { type EndpointCreateRequest, type NamedPortJSON, badRequest } from '../../pkg/api/index.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const PORT_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/** Checks a Kubernetes label key (`[prefix/]name`). Returns the problem, or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) return `label key ${JSON.stringify(key)}: the prefix must be a DNS subdomain`;
  if (!name || name.length > 63 || !LABEL_NAME.test(name)) return `label key ${JSON.stringify(key)}: the name must be 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`;
  return undefined;
}

/** Checks a Kubernetes label value. */
export function labelValueProblem(key: string, value: string): string | undefined {
  if (value.length > 63 || !LABEL_VALUE.test(value)) return `label ${key}: value ${JSON.stringify(value)} must be at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`;
  return undefined;
}

/** Validates a label map; throws 400 naming `field`. */
export function checkLabels(labels: unknown, field: string): Record<string, string> {
  if (labels === undefined) return {};
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) throw badRequest(`${field} must be an object of label values`, field);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    if (typeof v !== 'string') throw badRequest(`${field}.${k}: label values must be strings`, `${field}.${k}`);
    const p = labelKeyProblem(k) ?? labelValueProblem(k, v);
    if (p) throw badRequest(p, `${field}.${k}`);
    out[k] = v;
  }
  return out;
}

/** Parses "name=PORT/PROTO" (protocol default TCP). */
export function parseNamedPort(text: string, field: string): NamedPortJSON {
  const m = /^([^=]+)=(\d+)(?:\/([A-Za-z]+))?$/.exec(text.trim());
  if (!m) throw badRequest(`${field}: ${JSON.stringify(text)} is not NAME=PORT[/TCP|UDP|SCTP]`, field);
  return checkNamedPort({ name: m[1], port: Number(m[2]), protocol: (m[3] ?? 'TCP').toUpperCase() }, field);
}

function checkNamedPort(p: Record<string, unknown>, field: string): NamedPortJSON {
  const name = p.name;
  if (typeof name !== 'string' || name.length > 15 || !PORT_NAME.test(name) || !/[a-z]/.test(name) || name.includes('--')) {
    throw badRequest(`${field}: port name ${JSON.stringify(name)} must be 1-15 lowercase letters, digits and '-', with at least one letter (IANA service name)`, `${field}.name`);
  }
  const port = p.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) throw badRequest(`${field}: port ${JSON.stringify(port)} must be 1-65535`, `${field}.port`);
  const protocol = p.protocol ?? 'TCP';
  if (protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP') throw badRequest(`${field}: protocol ${JSON.stringify(protocol)} must be TCP, UDP or SCTP`, `${field}.protocol`);
  return { name, port, protocol };
}

/** A validated create request with defaults filled in. */
export interface ValidCreate {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly namedPorts: NamedPortJSON[];
  readonly netns?: string;
  readonly ifName: string;
  readonly containerId?: string;
  readonly mtu?: number;
}

/** Validates PUT /v1/endpoint. Throws ApiError 400 naming the field. */
export function validateCreate(body: unknown): ValidCreate {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the request body must be a JSON object');
  const r = body as Partial<Record<keyof EndpointCreateRequest, unknown>>;
  const known = new Set(['name', 'namespace', 'labels', 'namedPorts', 'netns', 'ifName', 'containerId', 'mtu']);
  for (const k of Object.keys(r)) if (!known.has(k)) throw badRequest(`unknown field ${JSON.stringify(k)}`, k);
  if (typeof r.name !== 'string' || !r.name) throw badRequest('name is required', 'name');
  if (r.name.length > 253 || !DNS1123_SUBDOMAIN.test(r.name)) throw badRequest(`name ${JSON.stringify(r.name)} must be a DNS subdomain (lowercase letters, digits, '-' and '.')`, 'name');
  const namespace = r.namespace ?? 'default';
  if (typeof namespace !== 'string' || namespace.length > 63 || !DNS1123_LABEL.test(namespace)) throw badRequest(`namespace ${JSON.stringify(namespace)} must be a DNS label (lowercase letters, digits and '-')`, 'namespace');
  const labels = checkLabels(r.labels, 'labels');
  const ports: NamedPortJSON[] = [];
  if (r.namedPorts !== undefined) {
    if (!Array.isArray(r.namedPorts)) throw badRequest('namedPorts must be a list', 'namedPorts');
    r.namedPorts.forEach((p: unknown, i) => {
      const field = `namedPorts[${i}]`;
      const np = typeof p === 'string' ? parseNamedPort(p, field) : typeof p === 'object' && p !== null ? checkNamedPort(p as Record<string, unknown>, field) : undefined;
      if (!np) throw badRequest(`${field} must be "NAME=PORT/PROTO" or {name, port, protocol}`, field);
      if (ports.some((q) => q.name === np.name)) throw badRequest(`${field}: port name ${np.name} is declared twice`, field);
      ports.push(np);
    });
  }
  if (r.netns !== undefined && (typeof r.netns !== 'string' || !r.netns)) throw badRequest('netns must be a path or a name under /run/netns', 'netns');
  const ifName = r.ifName ?? 'eth0';
  if (typeof ifName !== 'string' || !ifName || ifName.length > 15 || /[/\s:]/.test(ifName)) throw badRequest(`ifName ${JSON.stringify(ifName)} is not a valid interface name`, 'ifName');
  if (r.containerId !== undefined && (typeof r.containerId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(r.containerId))) {
    throw badRequest(`containerId ${JSON.stringify(r.containerId)} must be alphanumeric with '_', '.' or '-'`, 'containerId');
  }
  if (r.mtu !== undefined && (typeof r.mtu !== 'number' || !Number.isInteger(r.mtu) || r.mtu < 576 || r.mtu > 65535)) throw badRequest('mtu must be an integer from 576 to 65535', 'mtu');
  return { name: r.name, namespace, labels, namedPorts: ports, netns: r.netns, ifName, containerId: r.containerId, mtu: r.mtu };
}
