/**
 * `k8snet trace|nodeport|svc|pod|routes|report …`: the inspection operations in a terminal. Every argument is
 * validated (Kubernetes name rules, port range, capture bounds) before anything connects anywhere.
 */
import { K8snetError } from '../errors.ts';
import { captureSettings } from '../config.ts';
import { createOperationRunner } from '../ops/run-operation.ts';
import { parseInspectArgs, usage, type Op } from '../command/grammar.ts';
import { depsFromEnv, envForCluster, envForLab } from './deps.ts';
import { printOutcome, stepPrinter } from './output.ts';
import { writeFile } from 'node:fs/promises';
import { auditedShell, type NodeCommandEvidence } from '../audit/audited-shell.ts';
import { buildEvidenceBundle } from '../audit/evidence-bundle.ts';
import { recordingCluster, type ClusterRead } from '../ops/recording-cluster.ts';
import { commandText } from '../command/command-text.ts';
import { describeError } from '../errors.ts';
import type { OperationOutcome } from '../ops/types.ts';
import { bundleSecrets, type Env } from '../config.ts';
import { userInfo } from 'node:os';
import type { CliCommand } from './main.ts';

/** Writes the bundle (a failed run's too: what ran before it failed is evidence); says where on stderr. */
async function writeBundle(
  file: string,
  env: Env,
  job: Parameters<typeof buildEvidenceBundle>[0]['job'],
  commands: NodeCommandEvidence[],
  reads: ClusterRead[],
  outcome: OperationOutcome | null,
): Promise<void> {
  const secrets = bundleSecrets(env);
  const bundle = await buildEvidenceBundle({
    job,
    commands,
    reads,
    result: outcome?.result ?? null,
    report: outcome?.report ?? null,
    secrets,
  });
  await writeFile(file, bundle, { mode: 0o600 });
  console.error(
    `evidence bundle: ${file} (${bundle.length} bytes, ${commands.length} node commands, ${reads.length} Kubernetes reads)`,
  );
}

export function inspectCommand(op: Op, summary: string): CliCommand {
  return {
    summary,
    async run(argv) {
      let parsed;
      try {
        parsed = parseInspectArgs(op, argv, captureSettings(process.env));
        // A cluster's own capture limits bound its commands.
        if (parsed.cluster !== undefined)
          parsed = parseInspectArgs(op, argv, captureSettings(await envForCluster(parsed.cluster)));
      } catch (err) {
        if (err instanceof K8snetError && err.code === 'invalid_input') {
          console.error(`k8snet ${op}: ${err.message}\n\n${usage(op)}`);
          return 2;
        }
        throw err;
      }
      if (parsed.help) {
        console.log(usage(op));
        return 0;
      }
      const env = await envForCluster(parsed.cluster, await envForLab(parsed.lab));
      const deps = depsFromEnv(env);
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      // --bundle: every node command and Kubernetes read is recorded on the way, as the worker does for Slack.
      const commands: NodeCommandEvidence[] = [];
      const reads: ClusterRead[] = [];
      const recorded =
        parsed.bundle === undefined
          ? deps
          : {
              ...deps,
              cluster: recordingCluster(deps.cluster, (r) => reads.push(r)),
              shell: auditedShell(deps.shell, (c) => commands.push(c)),
            };
      const startedAt = new Date().toISOString();
      let outcome: OperationOutcome | null = null;
      let failure = '';
      try {
        outcome = await createOperationRunner(recorded)(parsed.command, {
          onStep: stepPrinter(parsed.quiet || parsed.json),
          signal: abort.signal,
        });
        return printOutcome(outcome, parsed.json);
      } catch (err) {
        failure = describeError(err);
        throw err;
      } finally {
        if (parsed.bundle !== undefined)
          await writeBundle(
            parsed.bundle,
            env,
            {
              jobId: 'terminal',
              command: commandText(parsed.command, parsed.cluster),
              user: userInfo().username,
              channel: 'terminal',
              startedAt,
              finishedAt: new Date().toISOString(),
              outcome: outcome ? 'done' : `failed: ${failure || 'interrupted'}`,
            },
            commands,
            reads,
            outcome,
          );
        process.off('SIGINT', onSignal);
        await deps.close();
      }
    },
  };
}
