/**
 * `k8snet` command line: picks the sub-command and hands it the rest of argv.
 * Each sub-command module exports `run(argv): Promise<number>` (the exit status) and a one-line summary.
 */
import { describeError, isK8snetError } from '../errors.ts';

export interface CliCommand {
  summary: string;
  run(argv: string[]): Promise<number>;
}

type CommandLoader = () => Promise<CliCommand>;

const COMMANDS: Record<string, CommandLoader> = {
  lab: async () => (await import('./lab-command.ts')).labCommand,
  pcap: async () => (await import('./pcap-command.ts')).pcapCommand,
};

export function usage(): string {
  return [
    'k8snet — why can\'t pod A talk to pod B? Network inspection for Kubernetes clusters on Calico.',
    '',
    'Usage: k8snet <command> [options]',
    '',
    'Commands:',
    '  lab       build, inspect and tear down the local lab cluster (k8snet lab --help)',
    '  pcap      summarize a capture file: flows, tunnels, handshakes (k8snet pcap --help)',
    '',
    'Run `k8snet <command> --help` for a command\'s options.',
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
    if (!isK8snetError(err) && process.env.K8SNET_DEBUG) console.error(err);
    return 1;
  }
}
