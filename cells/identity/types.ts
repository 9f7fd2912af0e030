// Public types of the identity cell: numeric security identities for label sets.

import { token } from '../../pkg/hive/index.js';
import type { LabelSet } from '../../pkg/labels/index.js';
import type { Table } from '../../pkg/statedb/index.js';

/** What kind of identity a number is. */
export type IdentityKind = 'reserved' | 'endpoint' | 'cidr';

/** One allocated identity, as held in the `identities` table. */
export interface Identity {
  readonly id: number;
  readonly labels: LabelSet;
  readonly kind: IdentityKind;
  /** How many holders (endpoints, policies) use it; reserved identities are never released. */
  readonly refs: number;
}

/**
 * Allocates numeric identities for label sets, as Cilium: reserved ones (host 1, world 2, unmanaged 3,
 * health 4, init 5, remote-node 6, kube-apiserver 7), endpoint identities from 256, CIDR identities in
 * the local scope (1<<24 | n). Reference counted; the number of a label set survives restarts.
 */
export interface IdentityAllocator {
  /** The identity of `labels`, allocated if new; takes one reference. */
  acquire(labels: LabelSet, kind: 'endpoint' | 'cidr'): Identity;
  /** Drops one reference; the identity is freed at zero. Returns false for unknown or reserved ids. */
  release(id: number): boolean;
  /** The identity with this number, if allocated. */
  get(id: number): Identity | undefined;
  /** The identity of these labels, if allocated (no reference taken). */
  lookup(labels: LabelSet): Identity | undefined;
  /** Read-only table of every identity; the selector cache follows its changes. */
  readonly table: Table<Identity>;
}
export const IIdentityAllocator = token<IdentityAllocator>('IdentityAllocator');

/** Wire form of an identity (GET /v1/identity, `cilia identity list --json`). */
export interface IdentityJSON {
  readonly id: number;
  readonly labels: string[];
  readonly kind: IdentityKind;
  readonly refs: number;
}
