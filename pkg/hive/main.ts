// The entry point shared by the agent and the operator: `PROGRAM [flags]` runs the hive until
// SIGTERM/SIGINT, `PROGRAM hive [flags]` prints it, `PROGRAM --help` lists every flag by module.
// Exit codes: 0 clean stop, 1 failure, 2 bad configuration (the message names the flag).

import { ConfigError } from './config.js';
import type { Cell } from './cell.js';
import { Hive } from './hive.js';

/**
 * Runs a hive program and returns its exit code. `cells(flags)` may load extra cells named by flags; a
 * program with subcommands of its own dispatches them before calling this and lists them in `opts`.
 */
export async function runHiveMain(
  program: string,
  argv: readonly string[],
  cells: (flags: readonly string[]) => Promise<Cell[]> | Cell[],
  opts: { /** Lines for the program's own subcommands in `--help`. */ readonly subcommandHelp?: string } = {},
): Promise<number> {
  const sub = argv[0] === 'hive' ? 'hive' : undefined;
  const flags = sub ? argv.slice(1) : argv;
  try {
    const wantsHelp = flags.includes('--help') || flags.includes('-h');
    const hive = new Hive(await cells(flags), { argv: wantsHelp ? [] : flags, env: wantsHelp ? {} : process.env });
    if (wantsHelp) {
      process.stdout.write(hive.helpText(program) + '\nSubcommands:\n  hive    print modules, providers, invokes, hooks and flags\n' + (opts.subcommandHelp ?? ''));
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
      process.stderr.write(`${program}: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`${program}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

/** Sets the exit code and, should a stray handle keep the event loop alive after a clean stop, exits anyway. */
export function exitWith(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2000).unref();
}
