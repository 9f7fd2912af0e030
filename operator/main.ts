#!/usr/bin/env node
// cilia-operator: cluster-wide chores, one active per cluster. `cilia-operator hive` prints its cells;
// `--help` its flags. SIGTERM/SIGINT stop it cleanly; a bad flag exits 2.

import 'reflect-metadata';
import { exitWith, runHiveMain } from '../pkg/hive/index.js';
import { operatorCells } from './cells.js';

exitWith(await runHiveMain('cilia-operator', process.argv.slice(2), () => operatorCells()));
