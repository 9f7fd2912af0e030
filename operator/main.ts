#!/usr/bin/env node
// cilia-operator: cluster-wide chores, one active per cluster. `cilia-operator hive` prints its cells;
// `--help` its flags. SIGTERM/SIGINT stop it cleanly; a bad flag exits 2.

import 'reflect-metadata';
import { ConfigError, Hive } from '../pkg/hive/index.js';
import { operatorCells } from './cells.js';

async function main(argv: string[]): Promise<number> {
  const sub = argv[0] === 'hive' ? 'hive' : undefined;
  const flags = sub ? argv.slice(1) : argv;
  try {
    const wantsHelp = flags.includes('--help') || flags.includes('-h');
    const hive = new Hive(operatorCells(), { argv: wantsHelp ? [] : flags, env: wantsHelp ? {} : process.env });
    if (wantsHelp) {
      process.stdout.write(hive.helpText('cilia-operator') + '\nSubcommands:\n  hive    print modules, providers, invokes, hooks and flags\n');
      return 0;
    }
    if (sub === 'hive') {
      hive.populate();
      process.stdout.write(hive.describe());
      return 0;
    }
    await hive.run();
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`cilia-operator: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`cilia-operator: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
setTimeout(() => process.exit(code), 2000).unref();
