// The policy kinds of `cilia apply` / `cilia delete` / `cilia policy import`: CiliumNetworkPolicy,
// CiliumClusterwideNetworkPolicy, NetworkPolicy and bare Cilium rules.

import { ApiError } from '../../pkg/api/index.js';
import { type PolicyObject, PolicyParseError, formatRuleRef, parsePolicies } from '../../pkg/policy/index.js';
import { type ApplyHandler, type ApplyItem, CILIUM_RULES, type ObjectKey, type PreparedChange } from '../apply/types.js';
import type { PolicyEngine } from './types.js';

export const POLICY_KINDS = ['CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy', 'NetworkPolicy', CILIUM_RULES] as const;

interface Parsed {
  readonly policy: PolicyObject;
  readonly source: Readonly<Record<string, unknown>>;
}

/** Parses one item; errors carry where the item was and the field path inside it. */
function parseItem(item: ApplyItem, defaultNamespace: string): Parsed[] {
  const run = (value: unknown): PolicyObject[] => {
    try {
      return parsePolicies(JSON.stringify(value), { defaultNamespace }).policies;
    } catch (err) {
      if (err instanceof PolicyParseError) {
        const first = err.errors[0];
        const msg = err.errors.map((e) => `${item.where}: ${e.message}`).join('\n');
        throw new ApiError(400, err.errors.length === 1 ? `invalid policy: ${msg}` : `invalid policy (${err.errors.length} errors):\n${msg}`, `${item.where}: ${first.path}`);
      }
      throw err;
    }
  };
  if (item.kind !== CILIUM_RULES) return run(item.object).map((policy) => ({ policy, source: item.object }));
  // Bare rules: each group of rules with the same labels becomes one object; keep its own rules as source.
  const rules = (item.object.rules as unknown[]) ?? [];
  const byName = new Map<string, { policy?: PolicyObject; rules: unknown[] }>();
  for (const r of rules) {
    const [p] = run([r]);
    if (!p) continue;
    const entry = byName.get(p.name) ?? { rules: [] };
    entry.rules.push(r);
    byName.set(p.name, entry);
  }
  const all = run(rules);
  return all.map((policy) => ({ policy, source: { rules: byName.get(policy.name)?.rules ?? [] } }));
}

const keyOf = (p: PolicyObject): ObjectKey => ({ kind: p.kind, namespace: p.namespace, name: p.name });

export function policyApplyHandler(engine: PolicyEngine): ApplyHandler {
  return {
    kinds: POLICY_KINDS,
    prepareApply(items, defaultNamespace): PreparedChange {
      const parsed = items.flatMap((i) => parseItem(i, defaultNamespace));
      const seen = new Map<string, string>();
      for (const p of parsed) {
        const id = formatRuleRef(p.policy);
        if (seen.has(id)) throw new ApiError(400, `${id} is defined twice in the input`, 'metadata.name');
        seen.set(id, id);
      }
      let rev = 0;
      return {
        objects: parsed.map((p) => ({ key: keyOf(p.policy), source: p.source })),
        commit: () => (rev = parsed.length ? engine.upsert(parsed.map((p) => p.policy)) : engine.revision()),
        wait: (signal) => engine.waitEnforced(rev, signal),
      };
    },
    prepareDelete(keys): PreparedChange {
      const mine = keys.filter((k) => (POLICY_KINDS as readonly string[]).includes(k.kind));
      let rev = 0;
      return {
        objects: mine.map((key) => ({ key })),
        commit: () => (rev = mine.length ? engine.delete(mine as never) : engine.revision()),
        wait: (signal) => engine.waitEnforced(rev, signal),
      };
    },
    keysOf(items, defaultNamespace) {
      return items.flatMap((i) => parseItem(i, defaultNamespace)).map((p) => keyOf(p.policy));
    },
  };
}
