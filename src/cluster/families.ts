/** A node's and the pools' IP family views, for the checks a dual-stack cluster runs once per family. Pure. */
import { isIP } from 'node:net';
import type { IpPoolInfo, NodeInfo } from './types.ts';

/** The node's InternalIP of that family (status.addresses), or null. */
export function nodeInternalIP(node: NodeInfo | undefined, family: 4 | 6): string | null {
  return node?.addresses.find((a) => a.type === 'InternalIP' && isIP(a.address) === family)?.address ?? null;
}

/** The enabled pools of that family, in the cluster's order (the first decides the family's encapsulation). */
export function enabledPools(pools: readonly IpPoolInfo[], family: 4 | 6): IpPoolInfo[] {
  return pools.filter((p) => !p.disabled && (p.cidr.includes(':') ? 6 : 4) === family);
}
