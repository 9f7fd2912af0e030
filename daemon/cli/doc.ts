// Generates docs/cli.md from the commands themselves, so the reference never drifts from the CLI.

import { type Command, usage } from './command.js';

/** The markdown CLI reference for `commands`. */
export function cliReference(commands: readonly Command[]): string {
  let out =
    '# CLI reference\n\n' +
    '<!-- Generated from daemon/cli/*.ts by `node dist/daemon/cli.js gen-docs > docs/cli.md`; a test checks it is current. -->\n\n' +
    '`cilia` talks to the agent over its unix socket (`--socket PATH`, env `CILIA_SOCKET`, default `/var/run/cilia/cilia.sock`).\n' +
    'Exit codes: 0 success, 1 the agent failed or is unreachable, 2 bad command line or input (the message names the field).\n\n';
  for (const c of commands) out += `## cilia ${c.name}\n\n\`\`\`\n${usage(c).replace(/\nGlobal flags:[\s\S]*$/, '').trimEnd()}\n\`\`\`\n\n`;
  return out;
}
