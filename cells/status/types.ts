// Public types of the status cell: cells add lines to `cilia status` by contributing to IStatusLines.

import { groupToken } from '../../pkg/hive/index.js';
import type { StatusLine } from '../../pkg/api/index.js';

/** A function returning one status line, evaluated on every GET /v1/status. */
export type StatusLineFn = () => StatusLine;

/** Status lines contributed by cells (e.g. IPAM usage, datapath mode). */
export const IStatusLines = groupToken<StatusLineFn>('StatusLines');
