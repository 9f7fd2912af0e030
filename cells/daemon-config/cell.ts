// daemon-config: the agent-wide flags (--state-dir, --bpf-root, --backend, --node-name,
// --extra-modules). Its start hook creates the state directory and makes sure bpffs is mounted.

import fs from 'node:fs';
import os from 'node:os';
import { ConfigError, ILifecycle, ILogger, type Lifecycle, type Logger, config, invoke, module } from '../../pkg/hive/index.js';
import { ensureBpffsFor } from './bpffs.js';
import { IDaemonConfig } from './types.js';

const AVAILABLE_BACKENDS = new Set(['local']);

export const DaemonConfigCell = module(
  'daemon-config',
  'Agent-wide settings: state directory, bpffs root, backend, node name',
  config(IDaemonConfig, {
    stateDir: { doc: 'Directory of persisted agent state', format: 'abs-path', default: '/var/lib/cilia' },
    bpfRoot: { doc: 'bpffs directory for pinned maps (bpffs is mounted at /sys/fs/bpf if missing)', format: 'abs-path', default: '/sys/fs/bpf/cilia' },
    backend: { doc: 'Control-plane backend: local (embedded), etcd or kubernetes', format: ['local', 'etcd', 'kubernetes'], default: 'local' as const },
    nodeName: { doc: 'Name of this node (default: the hostname)', format: String, default: os.hostname() },
    extraModules: { doc: 'Comma-separated module files whose exported cells join the agent', format: 'string-list', default: [] as readonly string[] },
  }),
  invoke('prepare-directories', [IDaemonConfig, ILifecycle, ILogger], (cfg, lc: Lifecycle, log: Logger) => {
    if (!AVAILABLE_BACKENDS.has(cfg.backend)) {
      throw new ConfigError(`invalid value for --backend: "${cfg.backend}" is not available in this version (available: ${[...AVAILABLE_BACKENDS].join(', ')})`);
    }
    lc.append({
      name: 'state-dir',
      onStart: () => {
        fs.mkdirSync(cfg.stateDir, { recursive: true, mode: 0o700 });
        ensureBpffsFor(cfg.bpfRoot, log);
      },
    });
  }),
);
