import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { ApiClient, type StatusResponse } from '../pkg/api/index.js';
import { Hive, MemorySink } from '../pkg/hive/index.js';
import { operatorCells } from './cells.js';

describe('operator', () => {
  test('its whole hive populates with defaults', () => {
    const h = new Hive(operatorCells(), { env: {}, logSink: new MemorySink() });
    h.populate();
    assert.match(h.describe(), /module operator: Cilia operator/);
  });

  test('runs as a process, serves its API on its own socket, stops on SIGTERM with exit 0', { timeout: 30_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cilia-op-'));
    const socket = path.join(dir, 'op.sock');
    const main = fileURLToPath(new URL('./main.js', import.meta.url));
    const p = spawn(process.execPath, [main, `--api-socket=${socket}`], { stdio: 'ignore' });
    try {
      const c = new ApiClient(socket);
      let s: StatusResponse | undefined;
      for (let i = 0; i < 200 && !s; i++) {
        s = await c.get<StatusResponse>('/v1/status').catch(() => undefined);
        if (!s) await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(s?.health.name, 'operator');
      const exit = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
      p.kill('SIGTERM');
      assert.equal(await exit, 0);
    } finally {
      p.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
