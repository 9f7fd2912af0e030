// pkg/statefile: atomic JSON state files.
export { readJson, removeFile, writeJsonAtomic } from './statefile.js';
export { JournalCorruptError, JsonLinesStore, readJournal } from './journal.js';
