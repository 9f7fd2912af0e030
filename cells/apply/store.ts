// The local backend's object store: every object applied through `cilia apply` (or `policy import`),
// as its source document, persisted so that a restarted agent applies the same objects again. An
// append-only journal (<state-dir>/objects.jsonl): applying one object to a store of 20,000 appends one
// line instead of rewriting megabytes.

import { JsonLinesStore } from '../../pkg/statefile/index.js';
import type { ObjectKey } from './types.js';

/** One stored object. */
export interface StoredObject {
  readonly key: ObjectKey;
  readonly source: Readonly<Record<string, unknown>>;
  readonly appliedAt: string;
}

const id = (k: ObjectKey): string => `${k.kind}/${k.namespace}/${k.name}`;

export class ObjectStore {
  private readonly journal: JsonLinesStore<StoredObject>;

  constructor(file: string) {
    this.journal = new JsonLinesStore<StoredObject>(file);
  }

  /** Loads the persisted objects (in the order they were first applied). */
  load(): StoredObject[] {
    return [...this.journal.load().values()];
  }

  upsert(entries: readonly { key: ObjectKey; source?: Readonly<Record<string, unknown>> }[]): void {
    const now = new Date().toISOString();
    for (const e of entries) if (e.source) this.journal.set(id(e.key), { key: e.key, source: e.source, appliedAt: now });
    this.journal.flush();
  }

  delete(keys: readonly ObjectKey[]): void {
    for (const k of keys) this.journal.delete(id(k));
    this.journal.flush();
  }

  list(): StoredObject[] {
    return [...this.journal.entries().values()];
  }
}
