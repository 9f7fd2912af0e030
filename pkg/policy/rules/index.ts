// Public entry of pkg/policy/rules: the rule model and the translations into it.
export * from './model.js';
export * from './api.js';
export { translateCiliumRule, policyRuleLabels, type CiliumRuleContext } from './cilium.js';
export { translateNetworkPolicy, effectivePolicyTypes, type NetworkPolicyContext } from './kubernetes.js';
