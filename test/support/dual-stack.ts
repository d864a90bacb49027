/** What the dual-stack lab tests (plain and nftables) share: svc on dual-stack.yaml's dual-stack Service web46. */
import { runService, type ServiceOpResult } from '../../src/ops/service-ops.ts';
import type { OperationDeps } from '../../src/ops/deps.ts';

/** `svc web46` in the family asked for (absent: its primary), with a 1-second capture or none. */
export async function svcWeb46(
  deps: OperationDeps,
  family: 4 | 6 | undefined,
  capture: boolean,
): Promise<ServiceOpResult> {
  const command = {
    namespace: 'default',
    name: 'web46',
    ...(family ? { family } : {}),
    capture: { enabled: capture, seconds: 1 },
  };
  return (await runService(deps, command, { onStep: () => undefined, signal: AbortSignal.timeout(60_000) })).result;
}
