/**
 * What operations are given: the cluster and node adapters (as interfaces), capture bounds, and optional hooks
 * the worker supplies (capture locks across workers). Operations construct no clients themselves.
 */
import type { ClusterReader, NodeInfo } from '../cluster/types.ts';
import type { NodeShell, NodeTarget } from '../node/types.ts';
import type { CaptureSettings } from '../config.ts';
import { K8snetError } from '../errors.ts';
import { validateIp, validateNodeName } from '../validate.ts';

/** Serialises captures on one node interface across jobs and workers ("one capture at a time per node interface"). */
export interface CaptureLocks {
  /** Resolves with a release function once `key` is held; rejects with a retryable error if it stays busy. */
  acquire(key: string, ttlMs: number): Promise<() => Promise<void>>;
}

export interface OperationDeps {
  cluster: ClusterReader;
  shell: NodeShell;
  capture: CaptureSettings;
  /** SSH address overrides per node name (else the node's InternalIP). */
  nodeAddressOverrides?: Record<string, string>;
  captureLocks?: CaptureLocks;
}

/** Where to SSH for a node: an override, else its InternalIP — validated, since it comes from the cluster. */
export function nodeTarget(deps: Pick<OperationDeps, 'nodeAddressOverrides'>, node: NodeInfo): NodeTarget {
  const name = validateNodeName(node.name);
  const address = deps.nodeAddressOverrides?.[name] ?? node.internalIP;
  if (!address)
    throw new K8snetError(
      'not_found',
      `node ${name} has no InternalIP address to SSH to (set K8SNET_SSH_NODE_OVERRIDES)`,
    );
  return { name, address: validateIp(address, `node ${name} address`) };
}
