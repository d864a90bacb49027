/**
 * Test helper: brings a lab up once per test file under its own name (so files never share one) and always
 * takes it down again, also when the file fails half-way.
 */
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { labUp } from '../../src/lab/lab-up.ts';
import { labDown } from '../../src/lab/lab-down.ts';
import type { LabState } from '../../src/lab/state.ts';
import { labPaths } from '../../src/lab/state.ts';

export const TOPOLOGIES = {
  default: fileURLToPath(new URL('../../src/lab/topologies/default.yaml', import.meta.url)),
  threeNode: fileURLToPath(new URL('../../src/lab/topologies/three-node.yaml', import.meta.url)),
  ipip: fileURLToPath(new URL('../../src/lab/topologies/ipip.yaml', import.meta.url)),
  policy: fileURLToPath(new URL('../../src/lab/topologies/policy.yaml', import.meta.url)),
  nftables: fileURLToPath(new URL('../../src/lab/topologies/nftables.yaml', import.meta.url)),
  dualStack: fileURLToPath(new URL('../../src/lab/topologies/dual-stack.yaml', import.meta.url)),
  dualStackBgp: fileURLToPath(new URL('../../src/lab/topologies/dual-stack-bgp.yaml', import.meta.url)),
};

export async function startLab(lab: string, topologyPath = TOPOLOGIES.default): Promise<LabState> {
  await labDown({ lab });
  return labUp({ lab, topologyPath });
}

export async function stopLab(lab: string): Promise<void> {
  await labDown({ lab });
}

export function labClientSettings(lab: string) {
  const paths = labPaths(lab);
  return { kubeconfig: paths.kubeconfig, sshKey: paths.clientKey, knownHosts: paths.knownHosts, sshUser: 'root' };
}

const exec = promisify(execFile);

/** Runs argv (never a shell line) and returns stdout, stderr and the exit code instead of throwing. */
export async function run(
  argv: string[],
  timeoutMs = 20_000,
): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await exec(argv[0]!, argv.slice(1), { timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
  }
}

export function inNetns(netns: string, argv: string[]): string[] {
  return ['ip', 'netns', 'exec', netns, ...argv];
}
