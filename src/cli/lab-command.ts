/**
 * `k8snet lab up|down|status|exec|env`: the local lab cluster (network namespaces as nodes and pods, real sshd,
 * VXLAN overlay, kube-proxy rules and an API server kubectl can talk to).
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { shellQuote } from '../node/remote-command.ts';
import { cliSettings } from '../config.ts';
import { K8snetError } from '../errors.ts';
import { DEFAULT_TOPOLOGY_PATH } from '../lab/topology.ts';
import { DEFAULT_LAB_NAME } from '../lab/plan.ts';
import { validateLabName } from '../validate.ts';
import { labClientEnv, labUp } from '../lab/lab-up.ts';
import { labDown } from '../lab/lab-down.ts';
import { formatLabStatus, labStatus } from '../lab/lab-status.ts';
import { labPaths, readLabState } from '../lab/state.ts';
import { isAlive } from '../lab/processes.ts';
import { validateCidr } from '../validate.ts';
import type { CliCommand } from './main.ts';

const USAGE = `Usage: k8snet lab <up|down|status|exec|env> [options]

  up      build the lab (root): nodes and pods as network namespaces, sshd per node, VXLAN overlay,
          kube-proxy rules, and a Kubernetes API server; writes a kubeconfig
  down    remove everything the lab made (safe to run after a crash, and when nothing is up)
  status  show nodes, pods and services and whether each part is alive
  exec    run a command on a lab node or inside a pod's network namespace:
          k8snet lab exec k8s-node1 -- ip route     k8snet lab exec default/pod-src -- ip addr
  env     print the settings that point k8snet and kubectl at the lab (eval "$(k8snet lab env)")

Options:
  --lab NAME           lab name, 1–6 lower-case letters/digits (default: $K8SNET_LAB or "${DEFAULT_LAB_NAME}")
  --topology FILE      topology YAML for \`up\` (default: the two-node VXLAN lab, ${DEFAULT_TOPOLOGY_PATH})
  --node-subnet CIDR   node subnet for \`up\` (default: the topology's, else a free /24 in 10.254.0.0/16)
  --json               machine-readable output for \`status\` and \`env\`
  -h, --help           show this help`;

function shellExport(name: string, value: string): string {
  return `export ${name}=${shellQuote([value], { always: true })}`;
}

async function execInLab(lab: string, target: string | undefined, command: string[]): Promise<number> {
  if (!target || command.length === 0)
    throw new K8snetError('invalid_input', 'usage: k8snet lab exec <node | [namespace/]pod> -- command [args…]');
  const state = await readLabState(labPaths(lab));
  if (state === null) throw new K8snetError('lab', `lab "${lab}" is not up (run \`k8snet lab up\`)`);
  const node = state.plan.nodes.find((n) => n.name === target);
  let argv: string[];
  if (node) {
    // Enter the node as its sshd sees it (mount namespace with only its pods' netns, hostname), else just its netns.
    const sshd = state.processes.find((p) => p.role === 'sshd' && p.owner === node.name);
    argv =
      sshd && isAlive(sshd.pid)
        ? ['nsenter', '-t', String(sshd.pid), '-m', '-u', '-n', '--', ...command]
        : ['ip', 'netns', 'exec', node.netns, ...command];
  } else {
    const [ns, name] = target.includes('/') ? target.split('/', 2) : [undefined, target];
    const pods = state.plan.pods.filter((p) => p.name === name && (ns === undefined || p.namespace === ns));
    if (pods.length !== 1) {
      const known = [...state.plan.nodes.map((n) => n.name), ...state.plan.pods.map((p) => `${p.namespace}/${p.name}`)];
      throw new K8snetError(
        'invalid_input',
        `${JSON.stringify(target)} is ${pods.length > 1 ? 'ambiguous' : 'not a lab node or pod'}; known: ${known.join(', ')}`,
      );
    }
    argv = ['ip', 'netns', 'exec', pods[0]!.netnsName, ...command];
  }
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(file!, args, { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

export const labCommand: CliCommand = {
  summary: 'build, inspect and tear down the local lab cluster',
  async run(argv) {
    const dashdash = argv.indexOf('--');
    const own = dashdash === -1 ? argv : argv.slice(0, dashdash);
    const rest = dashdash === -1 ? [] : argv.slice(dashdash + 1);
    const { values, positionals } = parseArgs({
      args: own,
      allowPositionals: true,
      options: {
        lab: { type: 'string' },
        topology: { type: 'string' },
        'node-subnet': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    const [action, target] = positionals;
    if (values.help || action === undefined) {
      console.log(USAGE);
      return values.help ? 0 : 2;
    }
    const lab = validateLabName(values.lab ?? cliSettings(process.env).lab ?? DEFAULT_LAB_NAME);
    switch (action) {
      case 'up': {
        const nodeSubnet =
          values['node-subnet'] === undefined ? undefined : validateCidr(values['node-subnet'], '--node-subnet');
        const started = Date.now();
        const state = await labUp({
          lab,
          topologyPath: values.topology ?? DEFAULT_TOPOLOGY_PATH,
          ...(nodeSubnet === undefined ? {} : { nodeSubnet }),
          onStep: (s) => console.error(`lab ${lab}: ${s}`),
        });
        console.error(`lab ${lab}: up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        console.log(formatLabStatus(await labStatus(state.plan.lab)));
        console.log(
          `\nPoint k8snet and kubectl at it:  eval "$(k8snet lab env${lab === DEFAULT_LAB_NAME ? '' : ` --lab ${lab}`})"`,
        );
        return 0;
      }
      case 'down': {
        const { removed } = await labDown({ lab });
        console.log(
          removed.length === 0 ? `lab ${lab}: nothing to remove` : `lab ${lab}: removed ${removed.join(', ')}`,
        );
        return 0;
      }
      case 'status': {
        const status = await labStatus(lab);
        console.log(values.json ? JSON.stringify(status, null, 2) : formatLabStatus(status));
        return status.up ? 0 : 3;
      }
      case 'env': {
        const env = await labClientEnv(lab);
        console.log(
          values.json
            ? JSON.stringify(env, null, 2)
            : Object.entries(env)
                .map(([k, v]) => shellExport(k, v))
                .join('\n'),
        );
        return 0;
      }
      case 'exec':
        return execInLab(lab, target, rest);
      default:
        throw new K8snetError('invalid_input', `unknown lab action ${JSON.stringify(action)}\n\n${USAGE}`);
    }
  },
};
