// Public types of the namespaces cell: Kubernetes-style namespaces and their labels.

import { token } from '../../pkg/hive/index.js';
import type { Table } from '../../pkg/statedb/index.js';

/** A namespace with the labels its Namespace object carries (not including kubernetes.io/metadata.name). */
export interface Namespace {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * Namespaces known to the agent. Every namespace exists implicitly (with no labels) even before a
 * Namespace object is applied; endpoint identities carry `kubernetes.io/metadata.name=<name>` anyway.
 */
export interface Namespaces {
  readonly table: Table<Namespace>;
  /** The labels of a namespace (empty when no Namespace object was applied). */
  labelsOf(name: string): Readonly<Record<string, string>>;
  /** Creates or replaces namespaces (their labels). Returns the table revision. */
  upsert(namespaces: readonly Namespace[]): number;
  /** Forgets namespaces (their labels go back to none). Returns the table revision. */
  delete(names: readonly string[]): number;
}
export const INamespaces = token<Namespaces>('Namespaces');

/** Kubernetes' rule for namespace names (RFC 1123 label). */
export const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
