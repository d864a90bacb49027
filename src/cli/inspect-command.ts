/**
 * `k8snet trace|nodeport|svc|pod|routes|report …`: the inspection operations in a terminal. Every argument is
 * validated (Kubernetes name rules, port range, capture bounds) before anything connects anywhere.
 */
import { K8snetError } from '../errors.ts';
import { captureSettings } from '../config.ts';
import { createOperationRunner } from '../ops/run-operation.ts';
import { parseInspectArgs, usage, type Op } from '../command/grammar.ts';
import { depsFromEnv, envForLab } from './deps.ts';
import { printOutcome, stepPrinter } from './output.ts';
import type { CliCommand } from './main.ts';

export function inspectCommand(op: Op, summary: string): CliCommand {
  return {
    summary,
    async run(argv) {
      let parsed;
      try {
        parsed = parseInspectArgs(op, argv, captureSettings(process.env));
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
      const deps = depsFromEnv(await envForLab(parsed.lab));
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      try {
        const outcome = await createOperationRunner(deps)(parsed.command, { onStep: stepPrinter(parsed.quiet || parsed.json), signal: abort.signal });
        return printOutcome(outcome, parsed.json);
      } finally {
        process.off('SIGINT', onSignal);
        await deps.close();
      }
    },
  };
}
