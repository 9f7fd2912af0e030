// The Service and EndpointSlice kinds of `cilia apply` / `cilia delete`: every object is parsed and
// every affected service validated (and checked for conflicts) before anything changes; `--wait`
// returns once the LB maps hold the result.

import { badRequest } from '../../pkg/api/index.js';
import { SERVICE_NAME_LABEL } from '../../pkg/lb/k8s/index.js';
import type { Revision } from '../../pkg/statedb/index.js';
import type { ApplyHandler, ApplyItem, ObjectKey, PreparedChange } from '../apply/types.js';
import { type K8sServiceSource, parseService, parseSlice } from './k8s-source.js';
import { serviceKey } from './tables.js';

/** The kinds this handler takes. */
export const SERVICE_KINDS = ['Service', 'EndpointSlice'] as const;

/** Name of an object for its ObjectKey (validated by the parsers; here only read). */
function nameOf(object: Readonly<Record<string, unknown>>): string {
  const meta = object.metadata as { name?: unknown } | undefined;
  return typeof meta?.name === 'string' ? meta.name : '';
}

/** The ApplyHandler of Services and EndpointSlices. `waitProgrammed` is the service LB's (see ServiceLb). */
export function serviceApplyHandler(source: K8sServiceSource, waitProgrammed: (rev: Revision, signal?: AbortSignal, keys?: readonly string[]) => Promise<void>): ApplyHandler {
  const parse = (items: readonly ApplyItem[], defaultNamespace: string) => {
    const services = new Map<string, ReturnType<typeof parseService>>();
    const slices = new Map<string, ReturnType<typeof parseSlice>>();
    const objects: { key: ObjectKey; source: Readonly<Record<string, unknown>>; item?: ApplyItem }[] = [];
    for (const item of items) {
      if (item.kind === 'Service') {
        const s = parseService(item.object, item.where, defaultNamespace);
        const key = serviceKey(s.spec.namespace, s.spec.name);
        if (services.has(key)) throw badRequest(`${item.where}: Service ${key} is defined twice in the input`, `${item.where}: metadata.name`);
        services.set(key, s);
        objects.push({ key: { kind: 'Service', namespace: s.spec.namespace, name: s.spec.name }, source: s.object as Record<string, unknown>, item: s.object === item.object ? item : undefined });
      } else {
        const s = parseSlice(item.object, item.where, defaultNamespace);
        const ns = s.object.metadata!.namespace!;
        const key = serviceKey(ns, nameOf(item.object));
        if (slices.has(key)) throw badRequest(`${item.where}: EndpointSlice ${key} is defined twice in the input`, `${item.where}: metadata.name`);
        slices.set(key, s);
        objects.push({ key: { kind: 'EndpointSlice', namespace: ns, name: nameOf(item.object) }, source: s.object as Record<string, unknown>, item: s.object === item.object ? item : undefined });
      }
    }
    // Where a service came from, for messages: the first object of the input that makes it (its
    // Service, else one of its slices). Looked up only when there is something to report.
    const where = (key: string): string => {
      for (const item of items) {
        const meta = item.object.metadata as { namespace?: unknown } | undefined;
        const ns = typeof meta?.namespace === 'string' && meta.namespace ? meta.namespace : defaultNamespace;
        const named = item.kind === 'Service' ? nameOf(item.object) : (item.object.metadata as { labels?: Record<string, unknown> } | undefined)?.labels?.[SERVICE_NAME_LABEL];
        if (serviceKey(ns, String(named)) === key) return item.where;
      }
      return `service ${key}`;
    };
    return { services, slices, where, objects };
  };

  const prepared = (objects: PreparedChange['objects'], change: { commit(): Revision; upserts: readonly { service: { namespace: string; name: string } }[] }): PreparedChange => {
    let rev = 0;
    const keys = change.upserts.map((u) => serviceKey(u.service.namespace, u.service.name));
    return { objects, commit: () => (rev = change.commit()), wait: (signal) => waitProgrammed(rev, signal, keys) };
  };

  return {
    kinds: SERVICE_KINDS,
    prepareApply(items, defaultNamespace) {
      const p = parse(items, defaultNamespace);
      const change = source.prepare({ services: p.services, slices: p.slices }, { services: [], slices: [] }, p.where);
      return prepared(p.objects, change);
    },
    prepareDelete(keys) {
      const mine = keys.filter((k) => k.kind === 'Service' || k.kind === 'EndpointSlice');
      const removals = {
        services: mine.filter((k) => k.kind === 'Service').map((k) => serviceKey(k.namespace, k.name)),
        slices: mine.filter((k) => k.kind === 'EndpointSlice').map((k) => serviceKey(k.namespace, k.name)),
      };
      const change = source.prepare({ services: new Map(), slices: new Map() }, removals, (key) => `service ${key}`);
      return prepared(mine.map((key) => ({ key })), change);
    },
    keysOf(items, defaultNamespace) {
      // Deleting needs only the names: an object that would no longer validate can still be deleted.
      return items.map((i) => {
        const meta = i.object.metadata as { namespace?: unknown } | undefined;
        const namespace = typeof meta?.namespace === 'string' && meta.namespace ? meta.namespace : defaultNamespace;
        const name = nameOf(i.object);
        if (!name) throw badRequest(`${i.where}: metadata.name is required`, `${i.where}: metadata.name`);
        return { kind: i.kind, namespace, name };
      });
    },
  };
}
