// status: GET /v1/status — overall state, versions, uptime, the lines cells contribute
// (IStatusLines) and the health tree of every module. `cilia status` prints it.

import os from 'node:os';
import { type HealthRegistry, IHealthRegistry, module, provideInto } from '../../pkg/hive/index.js';
import type { StatusResponse } from '../../pkg/api/index.js';
import { IApiRoutes, route } from '../api-server/types.js';
import { IStatusLines, type StatusLineFn } from './types.js';
import { ciliaVersion } from './version.js';

function status(health: HealthRegistry, lines: readonly StatusLineFn[], startedAt: Date): StatusResponse {
  const root = health.tree('hive');
  // The agent is one top-level module: show it as the root of the tree.
  const tree = root.children.length === 1 ? root.children[0] : root;
  const computed = lines.map((f) => {
    try {
      return f();
    } catch (err) {
      return { name: 'status', state: 'Failure' as const, message: err instanceof Error ? err.message : String(err) };
    }
  });
  const degraded: string[] = [];
  const walk = (n: typeof tree, path: string[]): void => {
    if (n.level === 'Degraded' && n.children.every((c) => c.level !== 'Degraded')) degraded.push(`${[...path, n.name].slice(1).join('.')}: ${n.message}${n.error ? ` (${n.error})` : ''}`);
    for (const c of n.children) walk(c, [...path, n.name]);
  };
  walk(tree, []);
  const failing = computed.filter((l) => l.state === 'Failure');
  const state = failing.length ? 'Failure' : degraded.length ? 'Warning' : 'Ok';
  const message = failing.length ? failing.map((l) => `${l.name}: ${l.message}`).join('; ') : degraded.length ? degraded.join('; ') : 'all modules healthy';
  return {
    cilia: { state, message },
    version: ciliaVersion(),
    node: { versions: { node: process.version, kernel: os.release() } },
    startedAt: startedAt.toISOString(),
    uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    lines: computed,
    health: tree,
  };
}

export const StatusCell = module(
  'status',
  'Agent status: health tree, versions, uptime and lines from cells',
  provideInto(IApiRoutes, {
    deps: [IHealthRegistry, IStatusLines],
    factory: (health, lines) => {
      const startedAt = new Date();
      return [route('GET', '/v1/status', 'Agent status: health tree, versions, uptime', () => status(health, lines, startedAt))];
    },
  }),
);
