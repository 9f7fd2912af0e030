#!/usr/bin/env node
// cilia: the command-line client of the agent (like cilium-dbg). Talks to the agent's REST API on
// its unix socket (--socket, CILIA_SOCKET). Exit codes: 0 ok, 1 the agent reported an error or is
// unreachable, 2 bad command line or input.

import { ApiClient, ApiClientError, AgentUnreachableError, DEFAULT_SOCKET } from '../pkg/api/index.js';
import { type Command, UsageError, parseCommand, usage } from './cli/command.js';
import { bpfCommands } from './cli/bpf.js';
import { cliReference } from './cli/doc.js';
import { endpointCommands } from './cli/endpoint.js';
import { policyCommands } from './cli/policy.js';
import { serviceCommands } from './cli/service.js';
import { statusCommands } from './cli/status.js';

/** Every command, in help order. */
export const commands: Command[] = [...statusCommands, ...endpointCommands, ...policyCommands, ...serviceCommands, ...bpfCommands];

function overview(): string {
  const lines = ['Usage: cilia [--socket PATH] COMMAND [flags] [args]', '', 'Commands:'];
  for (const c of commands) lines.push(`  ${c.name.padEnd(28)} ${c.summary}`);
  lines.push('', 'Run `cilia COMMAND --help` for the flags of a command.');
  return lines.join('\n') + '\n';
}

/** Splits off global flags (--socket) that may appear anywhere. */
function globalFlags(argv: string[]): { socket?: string; rest: string[] } {
  const rest: string[] = [];
  let socket: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--socket') {
      socket = argv[++i];
      if (!socket) throw new UsageError('--socket needs a path');
    } else if (a.startsWith('--socket=')) socket = a.slice('--socket='.length);
    else rest.push(a);
  }
  return { socket, rest };
}

/** Finds the command named by the longest run of leading words. */
function findCommand(words: string[]): { cmd?: Command; rest: string[] } {
  for (let n = Math.min(words.length, 4); n > 0; n--) {
    const name = words.slice(0, n).join(' ');
    const cmd = commands.find((c) => c.name === name);
    if (cmd) return { cmd, rest: words.slice(n) };
  }
  return { rest: words };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs the CLI; returns the exit code. Exported for tests. */
export async function runCli(argv: string[], out: (s: string) => void = (s) => void process.stdout.write(s), err: (s: string) => void = (s) => void process.stderr.write(s)): Promise<number> {
  let cmd: Command | undefined;
  try {
    const { socket, rest } = globalFlags(argv);
    if (rest[0] === 'gen-docs') {
      out(cliReference(commands));
      return 0;
    }
    if (!rest.length || rest[0] === '--help' || rest[0] === '-h' || rest[0] === 'help') {
      out(overview());
      return rest.length ? 0 : 2;
    }
    const found = findCommand(rest);
    cmd = found.cmd;
    if (!cmd) {
      const prefix = rest.filter((w) => !w.startsWith('-')).join(' ');
      const subs = commands.filter((c) => c.name.startsWith(prefix + ' '));
      if (subs.length) {
        out(`Subcommands of ${prefix}:\n${subs.map((c) => `  cilia ${c.name.padEnd(26)} ${c.summary}`).join('\n')}\n`);
        return 2;
      }
      throw new UsageError(`unknown command ${JSON.stringify(rest.join(' '))}; run cilia --help`);
    }
    if (found.rest.includes('--help') || found.rest.includes('-h')) {
      out(usage(cmd));
      return 0;
    }
    const { args, opts } = parseCommand(cmd, found.rest);
    const client = new ApiClient(socket ?? process.env.CILIA_SOCKET ?? DEFAULT_SOCKET);
    const code = await cmd.run({ args, opts, client, out, stdin: readStdin });
    return typeof code === 'number' ? code : 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`cilia: ${e.message}\n${cmd ? '\n' + usage(cmd) : ''}`);
      return 2;
    }
    if (e instanceof ApiClientError) {
      err(`cilia: ${e.message}${e.field ? ` (field ${e.field})` : ''}\n`);
      return e.status >= 400 && e.status < 500 ? 2 : 1;
    }
    if (e instanceof AgentUnreachableError) {
      err(`cilia: ${e.message}\n`);
      return 1;
    }
    err(`cilia: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/cilia') || process.argv[1]?.endsWith('/cli.js')) {
  process.exitCode = await runCli(process.argv.slice(2));
}
