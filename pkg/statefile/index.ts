// pkg/statefile: atomic JSON state files.
export { readJson, removeFile, writeJsonAtomic } from './statefile.js';
export { JournalCorruptError, JsonLinesStore } from './journal.js';
