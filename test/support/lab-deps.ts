/** The operations' real dependencies pointed at a test lab: its API server (kubeconfig) and its nodes' sshd. */
import { depsFromEnv, envForLab } from '../../src/cli/deps.ts';
import type { OperationDeps } from '../../src/ops/deps.ts';
import { afterAll, beforeAll } from '@jest/globals';
import type { LabState } from '../../src/lab/state.ts';
import { startLab, stopLab } from './lab.ts';

export async function labDeps(lab: string): Promise<OperationDeps & { close(): Promise<void> }> {
  const env = await envForLab(lab, { K8SNET_CAPTURE_SECONDS: '2' });
  return depsFromEnv(env);
}

/**
 * A lab for one test file, brought up in its beforeAll with the operations' deps pointed at it, and torn down in its
 * afterAll. The getters answer once beforeAll has run.
 */
export function labForFile(
  lab: string,
  topologyPath?: string,
): { state(): LabState; deps(): OperationDeps & { close(): Promise<void> } } {
  let state: LabState | null = null;
  let deps: (OperationDeps & { close(): Promise<void> }) | null = null;
  beforeAll(async () => {
    state = await startLab(lab, topologyPath);
    deps = await labDeps(lab);
  }, 120_000);
  afterAll(async () => {
    await deps?.close();
    await stopLab(lab);
  }, 60_000);
  return { state: () => state!, deps: () => deps! };
}
