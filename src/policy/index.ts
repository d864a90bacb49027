export * from './limits.ts';
export * from './calico-selector.ts';
export * from './label-selector.ts';
export * from './cidr.ts';
export * from './policy-model.ts';
export * from './evaluate.ts';
export * from './describe-policy.ts';
