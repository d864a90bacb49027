/** The operations' real dependencies pointed at a test lab: its API server (kubeconfig) and its nodes' sshd. */
import { depsFromEnv, envForLab } from '../../src/cli/deps.ts';
import type { OperationDeps } from '../../src/ops/deps.ts';

export async function labDeps(lab: string): Promise<OperationDeps & { close(): Promise<void> }> {
  const env = await envForLab(lab, { K8SNET_CAPTURE_SECONDS: '2' });
  return depsFromEnv(env);
}
