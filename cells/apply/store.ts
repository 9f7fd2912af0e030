// The local backend's object store: every object applied through `cilia apply` (or `policy import`),
// as its source document, persisted in <state-dir>/objects.json so that a restarted agent applies the
// same objects again.

import { readJson, writeJsonAtomic } from '../../pkg/statefile/index.js';
import type { ObjectKey } from './types.js';

/** One stored object. */
export interface StoredObject {
  readonly key: ObjectKey;
  readonly source: Readonly<Record<string, unknown>>;
  readonly appliedAt: string;
}

const id = (k: ObjectKey): string => `${k.kind}/${k.namespace}/${k.name}`;

export class ObjectStore {
  private readonly objects = new Map<string, StoredObject>();

  constructor(private readonly file: string) {}

  /** Loads the persisted objects (in the order they were first applied). */
  load(): StoredObject[] {
    const list = readJson<StoredObject[]>(this.file) ?? [];
    for (const o of list) this.objects.set(id(o.key), o);
    return list;
  }

  upsert(entries: readonly { key: ObjectKey; source?: Readonly<Record<string, unknown>> }[]): void {
    const now = new Date().toISOString();
    for (const e of entries) if (e.source) this.objects.set(id(e.key), { key: e.key, source: e.source, appliedAt: now });
    this.save();
  }

  delete(keys: readonly ObjectKey[]): void {
    for (const k of keys) this.objects.delete(id(k));
    this.save();
  }

  list(): StoredObject[] {
    return [...this.objects.values()];
  }

  private save(): void {
    writeJsonAtomic(this.file, this.list());
  }
}
