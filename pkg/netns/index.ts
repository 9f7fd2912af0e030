// pkg/netns: named Linux network namespaces and running synchronous code inside one.
export { createNetns, deleteNetns, netnsExists, listNetns } from './netns.js';
export { withNetns, openNetns, currentNetnsInode, setns, ifindexOf, CLONE_NEWNET } from './with-netns.js';
export { NETNS_RUN_DIR, THREAD_NETNS_PATH, netnsPath, validateNetnsName, type NetnsRef } from './paths.js';
export { SyscallError, errnoName, strerror } from './libc.js';
