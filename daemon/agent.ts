#!/usr/bin/env node
// cilia-agent: the node agent. `cilia-agent [flags]` runs it; `cilia-agent hive [flags]` prints its
// modules, providers, invokes, hooks and flags; `cilia-agent --help` lists every flag by module.
// SIGTERM/SIGINT stop it cleanly (exit 0); a bad flag exits 2 naming the flag.

import 'reflect-metadata';
import { exitWith, runHiveMain } from '../pkg/hive/index.js';
import { agentCells } from './cells.js';
import { extraModulePaths, loadExtraModules } from './extensions.js';

exitWith(await runHiveMain('cilia-agent', process.argv.slice(2), async (flags) => agentCells(await loadExtraModules(extraModulePaths(flags, process.env)))));
