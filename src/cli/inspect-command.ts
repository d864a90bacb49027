/**
 * `k8snet trace|nodeport|svc|pod|routes|report …`: the inspection operations in a terminal. Every argument is
 * validated (Kubernetes name rules, port range, capture bounds) before anything connects anywhere.
 */
import { parseArgs } from 'node:util';
import { InvalidInputError, K8snetError } from '../errors.ts';
import { validateIntegerInRange, validateNamespace, validateNodeName, validateNodePort, validatePodName, validateServiceName } from '../validate.ts';
import { captureSettings } from '../config.ts';
import { createOperationRunner, type OperationCommand } from '../ops/run-operation.ts';
import { validateLabName } from '../lab/plan.ts';
import { depsFromEnv, envForLab } from './deps.ts';
import { printOutcome, stepPrinter } from './output.ts';
import type { CliCommand } from './main.ts';

type Op = Exclude<OperationCommand['op'], never>;

const SYNOPSIS: Record<Op, string> = {
  trace: 'k8snet trace SRC-POD DST-POD [-n NS] [--capture-seconds N | --no-capture]',
  nodeport: 'k8snet nodeport PORT [--capture-seconds N | --no-capture]',
  svc: 'k8snet svc NAME [-n NS] [--capture-seconds N | --no-capture]',
  pod: 'k8snet pod NAME [-n NS]',
  routes: 'k8snet routes NODE',
  report: 'k8snet report',
};

const COMMON = `Options:
  -n, --namespace NS       namespace of the pods or Service (default: default); DST may also be NS/POD
  --capture-seconds N      capture window in seconds (default $K8SNET_CAPTURE_SECONDS or 5, at most $K8SNET_CAPTURE_MAX_SECONDS)
  --no-capture             skip the packet capture
  --json                   print the structured result as JSON (fields documented in the README)
  --lab NAME               use a local lab's kubeconfig and SSH settings (see \`k8snet lab env\`)
  -q, --quiet              no progress lines on stderr
  -h, --help               show this help

Kubeconfig, SSH user/key/known_hosts and capture bounds come from the environment (see .env.example).`;

export function usage(op: Op): string {
  return `Usage: ${SYNOPSIS[op]}\n\n${COMMON}`;
}

function arity(op: Op, positionals: string[], expected: number): void {
  if (positionals.length !== expected) throw new InvalidInputError('arguments', `\`${op}\` takes ${expected === 0 ? 'no arguments' : `${expected} argument${expected > 1 ? 's' : ''}`}, got ${positionals.length}: ${SYNOPSIS[op]}`);
}

/** argv → a validated operation command, or an InvalidInputError saying what was wrong. Pure. */
export function parseInspectArgs(op: Op, argv: readonly string[], env: Record<string, string | undefined> = {}): { command: OperationCommand; json: boolean; quiet: boolean; lab: string | undefined; help: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        'capture-seconds': { type: 'string' },
        'no-capture': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        lab: { type: 'string' },
        quiet: { type: 'boolean', short: 'q', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new InvalidInputError('arguments', (err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const { values, positionals } = parsed;
  const flags = { json: values.json, quiet: values.quiet, help: values.help, lab: values.lab === undefined ? undefined : validateLabName(values.lab) };
  if (values.help) return { ...flags, command: { op: 'report' } };
  const bounds = captureSettings(env);
  const seconds = values['capture-seconds'] === undefined ? bounds.defaultSeconds : validateIntegerInRange('--capture-seconds', values['capture-seconds'], 1, bounds.maxSeconds);
  const capture = { enabled: !values['no-capture'], seconds };
  const namespace = validateNamespace(values.namespace ?? 'default', '--namespace');
  let command: OperationCommand;
  switch (op) {
    case 'trace': {
      arity(op, positionals, 2);
      const [src, dstArg] = positionals as [string, string];
      const [dstNamespace, dst] = dstArg.includes('/') ? (dstArg.split('/', 2) as [string, string]) : [undefined, dstArg];
      command = { op, namespace, src: validatePodName(src, 'SRC-POD'), dst: validatePodName(dst, 'DST-POD'), ...(dstNamespace ? { dstNamespace: validateNamespace(dstNamespace, 'DST-POD namespace') } : {}), capture };
      break;
    }
    case 'nodeport':
      arity(op, positionals, 1);
      command = { op, port: validateNodePort(positionals[0], 'PORT'), capture };
      break;
    case 'svc':
      arity(op, positionals, 1);
      command = { op, namespace, name: validateServiceName(positionals[0], 'NAME'), capture };
      break;
    case 'pod':
      arity(op, positionals, 1);
      command = { op, namespace, name: validatePodName(positionals[0], 'NAME') };
      break;
    case 'routes':
      arity(op, positionals, 1);
      command = { op, node: validateNodeName(positionals[0], 'NODE') };
      break;
    case 'report':
      arity(op, positionals, 0);
      command = { op };
      break;
  }
  return { ...flags, command };
}

export function inspectCommand(op: Op, summary: string): CliCommand {
  return {
    summary,
    async run(argv) {
      let parsed;
      try {
        parsed = parseInspectArgs(op, argv, process.env);
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
