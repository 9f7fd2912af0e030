#!/usr/bin/env node
// cilia-agent: the node agent. `cilia-agent [flags]` runs it; `cilia-agent hive [flags]` prints its
// modules, providers, invokes, hooks and flags; `cilia-agent --help` lists every flag by module.
// SIGTERM/SIGINT stop it cleanly (exit 0); a bad flag exits 2 naming the flag.

import 'reflect-metadata';
import { ConfigError, Hive } from '../pkg/hive/index.js';
import { agentCells } from './cells.js';
import { extraModulePaths, loadExtraModules } from './extensions.js';

async function main(argv: string[]): Promise<number> {
  const sub = argv[0] === 'hive' ? 'hive' : undefined;
  const flags = sub ? argv.slice(1) : argv;
  try {
    const extra = await loadExtraModules(extraModulePaths(flags, process.env));
    const wantsHelp = flags.includes('--help') || flags.includes('-h');
    const hive = new Hive(agentCells(extra), { argv: wantsHelp ? [] : flags, env: wantsHelp ? {} : process.env });
    if (wantsHelp) {
      process.stdout.write(hive.helpText('cilia-agent') + '\nSubcommands:\n  hive    print modules, providers, invokes, hooks and flags\n');
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
      process.stderr.write(`cilia-agent: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`cilia-agent: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Everything was stopped; should a stray handle keep the loop alive, do not hang forever.
setTimeout(() => process.exit(code), 2000).unref();
