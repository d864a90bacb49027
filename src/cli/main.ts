/**
 * `k8snet` command line: picks the sub-command and hands it the rest of argv.
 * Each sub-command module exports `run(argv): Promise<number>` (the exit status) and a one-line summary.
 */
import { cliSettings } from '../config.ts';
import { K8snetError, describeError, isK8snetError } from '../errors.ts';

export interface CliCommand {
  summary: string;
  run(argv: string[]): Promise<number>;
}

type CommandLoader = () => Promise<CliCommand>;

/** The lab and the demo are not in the image (.dockerignore): a clear word instead of a module-not-found trace. */
async function sourceCheckoutOnly<T>(loading: Promise<T>, name: string): Promise<T> {
  try {
    return await loading;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND')
      throw new K8snetError(
        'lab',
        `\`k8snet ${name}\` needs a source checkout of k8snet; this installation (the container image) has only bot, worker and the inspection commands`,
      );
    throw err;
  }
}

const COMMANDS: Record<string, CommandLoader> = {
  lab: async () => (await sourceCheckoutOnly(import('./lab-command.ts'), 'lab')).labCommand,
  pcap: async () => (await import('./pcap-command.ts')).pcapCommand,
  trace: async () => (await import('./inspect-command.ts')).inspectCommand('trace', 'why pod A cannot talk to pod B'),
  nodeport: async () => (await import('./inspect-command.ts')).inspectCommand('nodeport', 'a NodePort on every node'),
  svc: async () => (await import('./inspect-command.ts')).inspectCommand('svc', 'a ClusterIP Service'),
  pod: async () => (await import('./inspect-command.ts')).inspectCommand('pod', "a pod's sandbox network namespace"),
  policy: async () =>
    (await import('./inspect-command.ts')).inspectCommand(
      'policy',
      'every network policy that selects a pod, rule by rule',
    ),
  routes: async () => (await import('./inspect-command.ts')).inspectCommand('routes', "a node's routes, labelled"),
  report: async () => (await import('./inspect-command.ts')).inspectCommand('report', "the cluster's network health"),
  bot: async () => (await import('./service-command.ts')).botCommand,
  worker: async () => (await import('./service-command.ts')).workerCommand,
  audit: async () => (await import('./service-command.ts')).auditCommand,
  demo: async () => (await sourceCheckoutOnly(import('./demo-command.ts'), 'demo')).demoCommand,
};

export function usage(): string {
  return [
    "k8snet — why can't pod A talk to pod B? Network inspection for Kubernetes clusters on Calico.",
    '',
    'Usage: k8snet <command> [options]',
    '',
    'Commands:',
    '  trace     SRC-POD DST-POD: the pod-to-pod path (routes, tunnels, BGP, both pods inside, MTUs, host firewall),',
    '            every hop captured at once, and where the packets stop',
    '  nodeport  PORT: the Service behind a NodePort and its kube-proxy rules and listener on every node',
    '  svc       NAME: a ClusterIP Service: KUBE-SVC → KUBE-SEP → endpoints, with a capture',
    "  pod       NAME: the pod's sandbox netns, the containers sharing it, ip addr / ip route inside, cali and route",
    '  policy    POD: every network policy that selects the pod, ingress and egress, rule by rule in evaluation order',
    "  routes    NODE: the node's route table, every route labelled (and BIRD's BGP sessions where BGP routes)",
    "  report    the cluster's network health: routes to every block, tunnels, NodePort rules, endpoints, BGP",
    "            sessions and Calico's configuration",
    '  pcap      FILE: summarize a capture file: flows, tunnels, handshakes',
    '  lab       build, inspect and tear down the local lab cluster',
    '  bot       the Slack bot process (/k8snet over HTTP or Socket Mode → the queue)',
    '  worker    a queue worker process (runs the inspections, answers in the thread)',
    '  audit     the audit trail: who asked what, and every command run on a node',
    '  demo      the whole pipeline here, without Slack: lab, Redis, stand-in, bot, worker, a signed trace',
    '',
    'Every inspection command takes --cluster NAME (a cluster of $K8SNET_CLUSTERS_FILE) and --bundle FILE (the evidence',
    'bundle: every node command with its output, the Kubernetes objects read, the captures, result and findings).',
    '',
    "Run `k8snet <command> --help` for a command's options.",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`k8snet: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  try {
    return await (await load()).run(rest);
  } catch (err) {
    console.error(`k8snet ${name}: ${describeError(err)}`);
    if (!isK8snetError(err) && cliSettings(process.env).debug) console.error(err);
    return 1;
  }
}
