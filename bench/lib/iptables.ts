// Timed iptables-restore runs inside a benchmark's network namespace: the kube-proxy baselines of
// lb-scale and apply-scale. Commands enter the namespace with `nsenter --net=` (setns only, no mount
// namespace, unlike `ip netns exec`), so the root namespace's iptables are never touched.

import { spawn } from 'node:child_process';

/** Which iptables-restore to run: `nft` = the system's `iptables-restore` (1.8.9, nf_tables); `legacy` = iptables-legacy-restore. */
export type IptablesBackend = 'nft' | 'legacy';

const RESTORE_BINARY: Readonly<Record<IptablesBackend, string>> = { nft: 'iptables-restore', legacy: 'iptables-legacy-restore' };

/**
 * What `iptables-restore` without --noflush does to the tables it names: flush every chain and delete
 * the user chains. Used to start each full restore from empty tables, as on a fresh node.
 */
export const EMPTY_TABLES = '*filter\nCOMMIT\n*nat\nCOMMIT\n';

/** Outcome of one timed iptables-restore. */
export interface RestoreTiming {
  /** Spawn until exit of `nsenter … iptables-restore`, ms. */
  readonly ms: number;
  /** Lines fed on stdin. */
  readonly lines: number;
}

/**
 * Feeds `rules` to iptables-restore in the namespace `netns` (a name under /run/netns) and times it
 * from spawn to exit. @throws Error with iptables-restore's stderr if it fails.
 */
export function timedRestore(netns: string, rules: string, opts: { noflush: boolean; backend?: IptablesBackend }): Promise<RestoreTiming> {
  const cmd = ['nsenter', `--net=/run/netns/${netns}`, RESTORE_BINARY[opts.backend ?? 'nft'], ...(opts.noflush ? ['--noflush'] : [])];
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const p = spawn(cmd[0], cmd.slice(1), { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (code === 0) resolve({ ms, lines: rules.split('\n').length - 1 });
      else reject(new Error(`${cmd.join(' ')} exited ${code}: ${stderr.slice(0, 2000)}`));
    });
    p.stdin.end(rules);
  });
}
