// pkg/ipam: IPv4 arithmetic and the host-scope address allocator.
export { type AllocatorSnapshot, HostScopeAllocator, IpamConflictError, IpamExhaustedError } from './allocator.js';
export { type Cidr4, cidrContains, ipToNum, isIPv4, numToIp, parseCidr4 } from './ipv4.js';
