import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { REPO } from '../test/lib/agent.js';
import { commands, runCli } from './cli.js';
import { resourcePath } from './cli/command.js';
import { cliReference } from './cli/doc.js';

describe('cilia CLI', () => {
  test('resource paths put the namespace query after the sub-resource', () => {
    assert.equal(resourcePath('/v1/endpoint', 'web/1', 'prod', '/labels'), '/v1/endpoint/web%2F1/labels?namespace=prod');
    assert.equal(resourcePath('/v1/service', 'db', undefined), '/v1/service/db');
  });

  test('docs/cli.md is generated from the commands and up to date', () => {
    assert.equal(fs.readFileSync(`${REPO}/docs/cli.md`, 'utf8'), cliReference(commands), 'run: node dist/daemon/cli.js gen-docs > docs/cli.md');
  });

  test('usage errors exit 2 and name the problem', async () => {
    let err = '';
    const code = await runCli(['endpoint', 'create'], () => {}, (s) => (err += s));
    assert.equal(code, 2);
    assert.match(err, /--name is required/);
    err = '';
    assert.equal(await runCli(['endpoint', 'get'], () => {}, (s) => (err += s)), 2);
    assert.match(err, /missing argument NAME\|ID/);
    err = '';
    assert.equal(await runCli(['bpf'], (s) => (err += s), () => {}), 2);
    assert.match(err, /Subcommands of bpf:/);
  });

  test('every command has a summary and unique name', () => {
    const names = commands.map((c) => c.name);
    assert.equal(new Set(names).size, names.length);
    for (const c of commands) assert.ok(c.summary.length > 10, c.name);
  });
});
