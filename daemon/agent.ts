#!/usr/bin/env node
// cilia-agent: the node agent. `cilia-agent [flags]` runs it; `cilia-agent hive [flags]` prints its
// modules, providers, invokes, hooks and flags; `cilia-agent --help` lists every flag by module;
// `cilia-agent cleanup [--dry-run] [flags]` removes what a stopped agent left on the node (cleanup.ts).
// SIGTERM/SIGINT stop it cleanly (exit 0); a bad flag exits 2 naming the flag.

import 'reflect-metadata';
import { exitWith, runHiveMain } from '../pkg/hive/index.js';
import { agentCells } from './cells.js';
import { CLEANUP_SUMMARY, runCleanup } from './cleanup.js';
import { extraModulePaths, loadExtraModules } from './extensions.js';

const argv = process.argv.slice(2);
const cells = async (flags: readonly string[]) => agentCells(await loadExtraModules(extraModulePaths(flags, process.env)));
exitWith(argv[0] === 'cleanup' ? await runCleanup(argv.slice(1), cells) : await runHiveMain('cilia-agent', argv, cells, { subcommandHelp: CLEANUP_SUMMARY }));
