// Public entry of the kube-proxy iptables baseline: chain names and iptables-restore rulesets.
export * from './names.js';
export * from './ruleset.js';
