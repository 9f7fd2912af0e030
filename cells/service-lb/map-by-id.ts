// Opening a map by kernel id (Maglev inner maps).
// This belongs in pkg/bpf too (BpfMap.openById); it lives here until it moves there.

import { BpfError } from '../../pkg/bpf/index.js';
import { libbpf } from '../../pkg/bpf/libbpf.js';

/** An fd of the map with kernel id `id` (close it with closeFd). Throws BpfError (ENOENT when it is gone). */
export function mapFdById(id: number): number {
  const fd = libbpf().bpf_map_get_fd_by_id(id);
  if (fd < 0) throw new BpfError(`bpf_map_get_fd_by_id(${id})`, -fd);
  return fd;
}
