/**
 * One entry for every operation: a parsed command in, the structured result and its neutral Report out.
 * The CLI and the queue worker both call this; the compiler checks every operation has a handler.
 */
import type { Finding } from '../model/report.ts';
import type { OperationDeps } from './deps.ts';
import type { OperationContext, OperationOutcome } from './types.ts';
import { runTrace, type TraceCommand } from './trace.ts';
import { runNodePort, runService, type NodePortCommand, type ServiceCommand } from './service-ops.ts';
import { runPod, type PodCommand } from './pod-op.ts';
import { runRoutes } from './routes-op.ts';
import { runPolicy, type PolicyCommand } from './policy-op.ts';
import { runHealthReport } from './health-report.ts';
import type { ProblemMemory } from './health-diagnosis.ts';

export type OperationCommand =
  | ({ op: 'trace' } & TraceCommand)
  | ({ op: 'nodeport' } & NodePortCommand)
  | ({ op: 'svc' } & ServiceCommand)
  | ({ op: 'pod' } & PodCommand)
  | ({ op: 'policy' } & PolicyCommand)
  | { op: 'routes'; node: string }
  | { op: 'report'; previous?: ProblemMemory | null; tunnelSampleSeconds?: number };

export type OperationName = OperationCommand['op'];

type Handlers = {
  [K in OperationName]: (
    deps: OperationDeps,
    cmd: Extract<OperationCommand, { op: K }>,
    ctx: OperationContext,
  ) => Promise<OperationOutcome & { memory?: ProblemMemory }>;
};

const HANDLERS: Handlers = {
  trace: runTrace,
  nodeport: runNodePort,
  svc: runService,
  pod: runPod,
  policy: runPolicy,
  routes: runRoutes,
  report: (deps, cmd, ctx) =>
    runHealthReport(
      deps,
      ctx,
      cmd.previous ?? null,
      new Date(),
      cmd.tunnelSampleSeconds ? { tunnelSampleSeconds: cmd.tunnelSampleSeconds } : {},
    ),
};

export type OperationRunner = (
  command: OperationCommand,
  ctx: OperationContext,
) => Promise<OperationOutcome<{ findings: Finding[] }> & { memory?: ProblemMemory }>;

export function createOperationRunner(deps: OperationDeps): OperationRunner {
  return (command, ctx) =>
    (
      HANDLERS[command.op] as (
        d: OperationDeps,
        c: OperationCommand,
        x: OperationContext,
      ) => ReturnType<OperationRunner>
    )(deps, command, ctx);
}
