// Reading Services and EndpointSlices out of YAML/JSON manifest text (kubectl-style files).
import { YamlSyntaxError, parseDocuments } from '../../manifest/index.js';
import { LbValidationError } from '../model/index.js';
import type { K8sEndpointSlice, K8sService } from './types.js';

/** The objects of a manifest that load balancing reads. */
export interface K8sManifests {
  readonly services: K8sService[];
  readonly endpointSlices: K8sEndpointSlice[];
}

/**
 * Parses one or more YAML (or JSON) documents separated by `---` and collects `kind: Service`
 * (apiVersion v1) and `kind: EndpointSlice` (discovery.k8s.io/v1) objects, also inside
 * `kind: List` items. Other kinds are ignored. Objects are returned as parsed, not validated
 * (use parseK8sService / parseEndpointSlice).
 * @throws LbValidationError (`manifest[i]`) for YAML syntax errors in document i
 */
export function parseK8sManifests(text: string): K8sManifests {
  const result: K8sManifests = { services: [], endpointSlices: [] };
  const collect = (object: unknown): void => {
    if (typeof object !== 'object' || object === null) return;
    const { kind, apiVersion, items } = object as { kind?: unknown; apiVersion?: unknown; items?: unknown };
    if (kind === 'List' && Array.isArray(items)) items.forEach(collect);
    else if (kind === 'Service' && apiVersion === 'v1') result.services.push(object);
    else if (kind === 'EndpointSlice' && apiVersion === 'discovery.k8s.io/v1') result.endpointSlices.push(object);
  };
  let docs: unknown[];
  try {
    docs = parseDocuments(text);
  } catch (err) {
    if (err instanceof YamlSyntaxError) throw new LbValidationError(`manifest[${err.document}]`, err.message);
    throw err;
  }
  docs.forEach(collect);
  return result;
}
