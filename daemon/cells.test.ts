// The whole agent hive populates with its defaults (as Cilium's daemon/cmd/cells_test.go): every
// dependency of every invoke is provided, there is no cycle and no flag is declared twice.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Hive, MemorySink } from '../pkg/hive/index.js';
import { agentCells } from './cells.js';

describe('agent cells', () => {
  test('the whole agent populates', () => {
    const h = new Hive(agentCells(), { env: {}, logSink: new MemorySink(), argv: ['--state-dir=/tmp/cilia-populate', '--bpf-root=/sys/fs/bpf/cilia-populate'] });
    h.populate();
    const flags = h.flags().map((f) => f.flag);
    assert.equal(new Set(flags).size, flags.length);
    for (const f of ['api-socket', 'state-dir', 'bpf-root', 'log-level', 'backend']) assert.ok(flags.includes(f), `flag --${f}`);
  });
});
