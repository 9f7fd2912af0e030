// Public types of the ipcache cell: which security identity each IP prefix has.

import { token } from '../../pkg/hive/index.js';
import type { Table } from '../../pkg/statedb/index.js';
import type { Status } from '../../pkg/statedb/reconciler/index.js';

/** One desired cilia_ipcache entry. */
export interface IpcacheEntry {
  /** `a.b.c.d/n`. */
  readonly prefix: string;
  /** The prefix's own identity: an endpoint's, host, or world for CIDR prefixes. */
  readonly identity: number;
  /** Identity of the longest policy-referenced CIDR containing the prefix (0: none). */
  readonly cidrIdentity: number;
  /** Where the identity came from. */
  readonly source: 'endpoint' | 'host' | 'cidr';
  readonly status: Status;
}

/** The ipcache: IP → identity, reconciled into the cilia_ipcache LPM map. */
export interface Ipcache {
  readonly table: Table<IpcacheEntry>;
  /**
   * Sets the CIDR prefixes policy refers to and their CIDR identities (prefix → identity). Entries for
   * them are added (identity world, so `toEntities: world` still matches), others removed, and every
   * entry's `cidrIdentity` recomputed. Returns the table revision.
   */
  setCidrIdentities(prefixes: ReadonlyMap<string, number>): number;
  /** Resolves once the datapath map holds every change up to `rev`. */
  waitSynced(rev: number, signal?: AbortSignal): Promise<void>;
  /** The identities a peer address has, as the datapath sees it (own, CIDR). */
  lookup(ip: string): { identity: number; cidrIdentity: number };
}
export const IIpcache = token<Ipcache>('Ipcache');
