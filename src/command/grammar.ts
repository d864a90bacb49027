/**
 * The one command grammar, shared by the CLI (`k8snet trace pod-src pod-dest --json`) and Slack
 * (`/k8snet trace pod-src pod-dest`). Every argument is validated (Kubernetes name rules, port range, capture bounds)
 * before anything connects anywhere; bad input throws InvalidInputError saying what was wrong. Pure.
 */
import { parseArgs } from 'node:util';
import { InvalidInputError } from '../errors.ts';
import {
  validateDnsLabel,
  validateIntegerInRange,
  validateLabName,
  validateNamespace,
  validatePort,
  validateNodeName,
  validateNodePort,
  validatePodName,
  validateServiceName,
} from '../validate.ts';
import type { OperationCommand } from '../ops/run-operation.ts';
import { DEFAULT_CAPTURE_BOUNDS, type CaptureBounds, type CaptureBoundsFor } from './capture-bounds.ts';
import { parseChannelReference } from './channel-reference.ts';
import {
  DEFAULT_TIME_ZONE,
  validateCron,
  validateSampleSeconds,
  validateScheduleId,
  validateTimeZone,
} from '../schedule/schedule-spec.ts';

export { DEFAULT_CAPTURE_BOUNDS, type CaptureBounds, type CaptureBoundsFor };

/** Only for finding a command's --cluster before its cluster's bounds are known: any window passes. */
const ANY_WINDOW: CaptureBounds = { defaultSeconds: 1, maxSeconds: Number.MAX_SAFE_INTEGER };

export const OPERATIONS = ['trace', 'policy', 'nodeport', 'svc', 'pod', 'routes', 'report'] as const;
export type Op = (typeof OPERATIONS)[number];

export const SYNOPSIS: Record<Op, string> = {
  trace: 'k8snet trace SRC-POD DST-POD [-n NS] [--port P] [-4 | -6] [--capture-seconds N | --no-capture [--no-test]]',
  policy: 'k8snet policy POD [-n NS]',
  nodeport: 'k8snet nodeport PORT [-4 | -6] [--capture-seconds N | --no-capture]',
  svc: 'k8snet svc NAME [-n NS] [-4 | -6] [--capture-seconds N | --no-capture]',
  pod: 'k8snet pod NAME [-n NS]',
  routes: 'k8snet routes NODE',
  report: 'k8snet report [--sample SECONDS]',
};

const COMMON = `Options:
  -c, --cluster NAME       the cluster to inspect, by its name in $K8SNET_CLUSTERS_FILE (default: the environment's
                           kubeconfig and SSH settings; in Slack, the cluster the channel is set to use)
  -n, --namespace NS       namespace of the pods or Service (default: default); DST may also be NS/POD
  --port P                 trace only: the destination port to test and judge (default: the destination's container ports)
  --capture-seconds N      capture window in seconds (default $K8SNET_CAPTURE_SECONDS or 5, at most $K8SNET_CAPTURE_MAX_SECONDS)
  --no-capture             skip the packet capture (trace still runs its bounded test connection; nodeport and svc
                           then make none, so they read no conntrack entry for it)
  --no-test                trace only: no test connection either
  -4, --ipv4 / -6, --ipv6  trace: trace dual-stack pods over that family (default: the pods' primary addresses);
                           svc, nodeport: walk a dual-stack Service's rules and test it in that family (default:
                           its primary ClusterIP's)
  --sample SECONDS         report only: also capture SECONDS (1–30) on every node's tunnel device and summarize the flows
  --json                   print the structured result as JSON (fields documented in the README)
  --bundle FILE            also write the evidence bundle (.tar.gz): every node command with its output, the
                           Kubernetes objects read, the captures, the result and the findings
  --lab NAME               use a local lab's kubeconfig and SSH settings (see \`k8snet lab env\`)
  -q, --quiet              no progress lines on stderr
  -h, --help               show this help

Kubeconfig, SSH user/key/known_hosts and capture bounds come from the environment (see .env.example).`;

export function usage(op: Op): string {
  return `Usage: ${SYNOPSIS[op]}\n\n${COMMON}`;
}

function arity(op: Op, positionals: string[], expected: number): void {
  if (positionals.length !== expected)
    throw new InvalidInputError(
      'arguments',
      `\`${op}\` takes ${expected === 0 ? 'no arguments' : `${expected} argument${expected > 1 ? 's' : ''}`}, got ${positionals.length}: ${SYNOPSIS[op]}`,
    );
}

/** argv → a validated operation command, or an InvalidInputError saying what was wrong. Pure. */
/** A cluster's name in the clusters file: a DNS label (it becomes part of a queue name). */
export function validateClusterName(value: unknown, field = '--cluster'): string {
  return validateDnsLabel(field, value);
}

export function parseInspectArgs(
  op: Op,
  argv: readonly string[],
  bounds: CaptureBounds = DEFAULT_CAPTURE_BOUNDS,
): {
  command: OperationCommand;
  json: boolean;
  quiet: boolean;
  lab: string | undefined;
  help: boolean;
  bundle: string | undefined;
  cluster: string | undefined;
} {
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
        'no-test': { type: 'boolean', default: false },
        ipv4: { type: 'boolean', short: '4', default: false },
        ipv6: { type: 'boolean', short: '6', default: false },
        sample: { type: 'string' },
        port: { type: 'string' },
        json: { type: 'boolean', default: false },
        bundle: { type: 'string' },
        cluster: { type: 'string', short: 'c' },
        lab: { type: 'string' },
        quiet: { type: 'boolean', short: 'q', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new InvalidInputError(
      'arguments',
      (err as Error).message.replace(/\. To specify a positional argument.*$/s, ''),
    );
  }
  const { values, positionals } = parsed;
  if (values['no-test'] && op !== 'trace')
    throw new InvalidInputError('--no-test', `only \`trace\` makes a test connection: ${SYNOPSIS.trace}`);
  if ((values.ipv4 || values.ipv6) && op !== 'trace' && op !== 'svc' && op !== 'nodeport')
    throw new InvalidInputError(
      values.ipv6 ? '--ipv6' : '--ipv4',
      `only \`trace\`, \`svc\` and \`nodeport\` pick a family: ${SYNOPSIS.trace}`,
    );
  if (values.ipv4 && values.ipv6)
    throw new InvalidInputError('--ipv4', '--ipv4 and --ipv6 cannot be given together: pick one family');
  const family = values.ipv4 ? { family: 4 as const } : values.ipv6 ? { family: 6 as const } : {};
  if (values.port !== undefined && op !== 'trace')
    throw new InvalidInputError('--port', `only \`trace\` takes a port: ${SYNOPSIS.trace}`);
  if (values.sample !== undefined && op !== 'report')
    throw new InvalidInputError('--sample', `only \`report\` takes a tunnel sample: ${SYNOPSIS.report}`);
  if (values.bundle !== undefined && (values.bundle === '' || values.bundle.includes('\0')))
    throw new InvalidInputError('--bundle', 'needs a file name');
  const flags = {
    json: values.json,
    quiet: values.quiet,
    help: values.help,
    lab: values.lab === undefined ? undefined : validateLabName(values.lab),
    bundle: values.bundle,
    cluster: values.cluster === undefined ? undefined : validateClusterName(values.cluster),
  };
  if (values.help) return { ...flags, command: { op: 'report' } };
  const asked = values['capture-seconds'];
  if (bounds.owner && asked !== undefined && /^\d+$/.test(asked) && Number(asked) > bounds.maxSeconds)
    throw new InvalidInputError(
      '--capture-seconds',
      `${bounds.owner} captures at most ${bounds.maxSeconds} s; ask for ${bounds.maxSeconds} or fewer`,
    );
  const seconds =
    asked === undefined
      ? bounds.defaultSeconds
      : validateIntegerInRange('--capture-seconds', asked, 1, bounds.maxSeconds);
  const capture = { enabled: !values['no-capture'], seconds };
  const namespace = validateNamespace(values.namespace ?? 'default', '--namespace');
  let command: OperationCommand;
  switch (op) {
    case 'trace': {
      arity(op, positionals, 2);
      const [src, dstArg] = positionals as [string, string];
      const [dstNamespace, dst] = dstArg.includes('/')
        ? (dstArg.split('/', 2) as [string, string])
        : [undefined, dstArg];
      command = {
        op,
        namespace,
        src: validatePodName(src, 'SRC-POD'),
        dst: validatePodName(dst, 'DST-POD'),
        ...(dstNamespace ? { dstNamespace: validateNamespace(dstNamespace, 'DST-POD namespace') } : {}),
        ...(values.port !== undefined ? { port: validatePort(values.port, '--port') } : {}),
        ...(values['no-test'] ? { noTest: true } : {}),
        ...family,
        capture,
      };
      break;
    }
    case 'nodeport':
      arity(op, positionals, 1);
      command = { op, port: validateNodePort(positionals[0], 'PORT'), ...family, capture };
      break;
    case 'svc':
      arity(op, positionals, 1);
      command = { op, namespace, name: validateServiceName(positionals[0], 'NAME'), ...family, capture };
      break;
    case 'pod':
      arity(op, positionals, 1);
      command = { op, namespace, name: validatePodName(positionals[0], 'NAME') };
      break;
    case 'policy':
      arity(op, positionals, 1);
      command = { op, namespace, name: validatePodName(positionals[0], 'POD') };
      break;
    case 'routes':
      arity(op, positionals, 1);
      command = { op, node: validateNodeName(positionals[0], 'NODE') };
      break;
    case 'report':
      arity(op, positionals, 0);
      command =
        values.sample === undefined ? { op } : { op, tunnelSampleSeconds: validateSampleSeconds(values.sample) };
      break;
  }
  return { ...flags, command };
}

/** Splits a Slack command's text into words; "double" or 'single' quotes keep spaces, Slack's smart quotes too. */
export function tokenize(text: string): string[] {
  const normalized = text.replace(/[\u201c\u201d]/g, '"').replace(/[\u2018\u2019]/g, "'");
  const tokens: string[] = [];
  for (const m of normalized.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) tokens.push(m[1] ?? m[2] ?? m[3]!);
  return tokens;
}

export const SCHEDULE_SYNOPSIS =
  'k8snet schedule add "CRON" report [#channel] [--tz Area/City] [--id ID] [--sample SECONDS] [--cluster NAME]';

/** `schedule add "CRON" report [#channel] [--tz …] [--id ID] [--sample SECONDS] [--cluster NAME]`, `schedule list`, `schedule remove ID`. */
function parseScheduleCommand(args: readonly string[]): ScheduleCommand {
  const [action, ...rest] = args;
  const takes = (n: number, what: string) => {
    if (rest.length !== n)
      throw new InvalidInputError(
        'arguments',
        `\`schedule ${action}\` takes ${what}, got ${rest.length} argument${rest.length === 1 ? '' : 's'}`,
      );
  };
  switch (action) {
    case 'list':
      takes(0, 'no arguments');
      return { action };
    case 'remove':
      takes(1, '1 argument (the schedule id, see `schedule list`)');
      return { action, id: validateScheduleId(rest[0]) };
    case 'add':
      break;
    default:
      throw new InvalidInputError('arguments', `\`schedule\` takes add, list or remove: \`/${SCHEDULE_SYNOPSIS}\``);
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: [...rest],
      allowPositionals: true,
      strict: true,
      options: {
        tz: { type: 'string' },
        id: { type: 'string' },
        sample: { type: 'string' },
        cluster: { type: 'string', short: 'c' },
      },
    });
  } catch (err) {
    throw new InvalidInputError(
      'arguments',
      `${(err as Error).message.replace(/\. To specify a positional argument.*$/s, '')}: \`/${SCHEDULE_SYNOPSIS}\``,
    );
  }
  const { positionals, values } = parsed;
  if (positionals.length > 3 && positionals.indexOf('report') > 1)
    throw new InvalidInputError(
      'CRON',
      `put the cron pattern in quotes: \`/k8snet schedule add "${positionals.slice(0, positionals.indexOf('report')).join(' ')}" report\``,
    );
  if (positionals[1] !== 'report')
    throw new InvalidInputError('arguments', `only \`report\` can be scheduled: \`/${SCHEDULE_SYNOPSIS}\``);
  if (positionals.length > 3) throw new InvalidInputError('arguments', `too many arguments: \`/${SCHEDULE_SYNOPSIS}\``);
  return {
    action: 'add',
    cron: validateCron(positionals[0]),
    tz: values.tz === undefined ? DEFAULT_TIME_ZONE : validateTimeZone(values.tz),
    channel: positionals[2] === undefined ? null : parseChannelReference(positionals[2]),
    id: values.id === undefined ? null : validateScheduleId(values.id, '--id'),
    ...(values.sample === undefined ? {} : { sampleSeconds: validateSampleSeconds(values.sample) }),
    ...(values.cluster === undefined ? {} : { cluster: validateClusterName(values.cluster) }),
  };
}

export const SLACK_HELP = [
  "*k8snet* — why can't pod A talk to pod B?",
  ...OPERATIONS.map((op) => `• \`/${SYNOPSIS[op].replace(/^k8snet /, 'k8snet ')}\``),
  "• `/k8snet cancel JOB` — stop a queued or running job (its number is on the job's message)",
  '• `/k8snet clusters` — the clusters k8snet knows, which one this channel uses, and whether a worker runs for each; any command takes `--cluster NAME` (`-c NAME`)',
  `• \`/${SCHEDULE_SYNOPSIS}\` — post a report on a schedule (cron in quotes; default: this channel, ${DEFAULT_TIME_ZONE}, the channel's cluster; \`--sample\` adds a few seconds of every tunnel's flows); \`/k8snet schedule list\`, \`/k8snet schedule remove ID\``,
  '• `/k8snet help`',
].join('\n');

export type ScheduleCommand =
  /** channel null: the channel the command was typed in; id null: the bot picks one; cluster absent: the channel's. */
  | {
      action: 'add';
      cron: string;
      tz: string;
      channel: string | null;
      id: string | null;
      sampleSeconds?: number;
      cluster?: string;
    }
  | { action: 'list' }
  | { action: 'remove'; id: string };

export type ParsedSlackCommand =
  | { kind: 'help' }
  | { kind: 'clusters' }
  /** cluster: as given with --cluster; undefined: the channel's default. */
  | { kind: 'operation'; command: OperationCommand; cluster?: string }
  | { kind: 'cancel'; jobId: string }
  | ({ kind: 'schedule' } & ScheduleCommand);

/** Job ids: `j42` for commands (shown to users as 42), `repeat:…` for scheduled runs. A bare number means `j<number>`. */
export function validateJobId(value: unknown, field = 'JOB'): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9:_-]{1,100}$/.test(value))
    throw new InvalidInputError(field, `${JSON.stringify(String(value).slice(0, 40))} is not a job number`);
  return /^\d{1,15}$/.test(value) ? `j${Number(value)}` : value;
}

/**
 * `/k8snet …` text → a validated command. CLI-only flags (--json, --lab) are refused here. `bounds` may depend on the
 * cluster the command names (a clusters file's own capture limits): then the command is read once for its
 * --cluster, and again within that cluster's bounds.
 */
export function parseSlackCommand(
  text: string,
  bounds: CaptureBounds | CaptureBoundsFor = DEFAULT_CAPTURE_BOUNDS,
): ParsedSlackCommand {
  const [verb, ...rest] = tokenize(text.trim());
  if (verb === undefined || verb === 'help') return { kind: 'help' };
  if (verb === 'cancel') {
    if (rest.length !== 1)
      throw new InvalidInputError('arguments', `\`cancel\` takes 1 argument (the job number), got ${rest.length}`);
    return { kind: 'cancel', jobId: validateJobId(rest[0]) };
  }
  if (verb === 'schedule') return { kind: 'schedule', ...parseScheduleCommand(rest) };
  if (verb === 'clusters') {
    if (rest.length !== 0) throw new InvalidInputError('arguments', '`clusters` takes no arguments');
    return { kind: 'clusters' };
  }
  if (!(OPERATIONS as readonly string[]).includes(verb)) {
    throw new InvalidInputError(
      'command',
      `unknown command ${JSON.stringify(verb.length > 40 ? `${verb.slice(0, 40)}…` : verb)}; try one of ${[...OPERATIONS, 'clusters', 'cancel', 'schedule', 'help'].join(', ')}`,
    );
  }
  for (const flag of ['--json', '--lab', '--bundle', '-q', '--quiet', '-h', '--help']) {
    if (rest.some((r) => r === flag || r.startsWith(`${flag}=`)))
      throw new InvalidInputError('arguments', `${flag} is a terminal option, not available in Slack`);
  }
  const parsed = parseInspectArgs(
    verb as Op,
    rest,
    typeof bounds === 'function' ? bounds(parseInspectArgs(verb as Op, rest, ANY_WINDOW).cluster) : bounds,
  );
  return {
    kind: 'operation',
    command: parsed.command,
    ...(parsed.cluster !== undefined ? { cluster: parsed.cluster } : {}),
  };
}
