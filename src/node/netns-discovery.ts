/**
 * Finds a pod's network namespace on its node. The runtime knows best: `crictl inspectp` (containerd / CRI-O: the
 * sandbox's network namespace path) or `docker inspect` (dockershim: the pause container's SandboxKey, which app
 * containers share through NetworkMode container:<pause>). Without either, every namespace `ip netns` lists, and
 * every file in /var/run/netns and /var/run/docker/netns, is asked for its addresses until one holds the pod IP.
 * Each step says what it tried, so a report can explain a pod whose namespace was not found.
 */
import type { PodInfo } from '../cluster/types.ts';
import { K8snetError, describeError } from '../errors.ts';
import { ipFamily, validateIp } from '../validate.ts';
import { crictlInspectp, crictlPods, crictlPs, dockerInspect, ipAddr, ipNetnsList, listNetnsDir } from './catalogue.ts';
import {
  containersFromCrictlPs,
  dockerInspectSummary,
  netnsFromCrictlInspectp,
  netnsRefOrNull,
  sandboxIdsFromCrictlPods,
  type PodSandboxContainer,
} from '../parse/runtime-sandbox.ts';
import { addressesFromIpOneLine, netnsNamesFromList, netnsRefsFromDir } from '../parse/netns-list.ts';
import type { NodeCommand, NodeShell, NodeTarget } from './types.ts';

export type { PodSandboxContainer } from '../parse/runtime-sandbox.ts';

/** kubelet's default maxPods is 110; a node with more namespaces than this is scanned no further. */
export const MAX_SCANNED_NETNS = 256;
/** Namespaces asked at once while scanning: well under the pool's channel slots, so other steps still get a turn. */
const SCAN_CONCURRENCY = 4;
/** A shell's "command not found". */
const EXIT_NOT_FOUND = 127;

export interface PodNetns {
  /** An `ip netns` name or a namespace path (catalogue.validateNetnsRef form), ready for netnsExec. */
  netns: string;
  foundBy: 'crictl' | 'docker' | 'scan';
  sandboxId: string | null;
  /** The containers sharing the sandbox's namespace, when the runtime listed them. */
  containers: PodSandboxContainer[] | null;
}

export interface NetnsDiscovery {
  found: PodNetns | null;
  /** What was tried, in order, in plain words ("crictl: not installed", "scanned 14 namespaces: none holds 10.244.1.5"). */
  steps: string[];
}

export type PodRef = Pick<PodInfo, 'name' | 'namespace' | 'uid' | 'podIP' | 'containers'>;

// ---- discovery ----

async function runText(
  shell: NodeShell,
  node: NodeTarget,
  command: NodeCommand,
  signal?: AbortSignal,
): Promise<{ ok: true; stdout: string } | { ok: false; why: string }> {
  try {
    const r = await shell.run(node, command, signal);
    if (r.exitCode === 0) return { ok: true, stdout: r.stdout };
    if (r.exitCode === EXIT_NOT_FOUND) return { ok: false, why: 'not installed' };
    if (r.timedOut) return { ok: false, why: `no answer within ${command.timeoutSeconds} s` };
    return {
      ok: false,
      why: `exit ${r.exitCode ?? r.signal ?? '?'}: ${r.stderr.trim().split('\n').at(-1) ?? ''}`.trim(),
    };
  } catch (err) {
    if (err instanceof K8snetError && err.code !== 'invalid_input' && err.code !== 'ssh_command') throw err;
    return { ok: false, why: describeError(err) };
  }
}

function containerIds(pod: PodRef, runtime: 'docker' | 'containerd' | 'cri-o'): string[] {
  const prefix = `${runtime}://`;
  return pod.containers
    .map((c) => c.containerID)
    .filter((id): id is string => !!id?.startsWith(prefix))
    .map((id) => id.slice(prefix.length));
}

async function viaCrictl(
  shell: NodeShell,
  node: NodeTarget,
  pod: PodRef,
  steps: string[],
  signal?: AbortSignal,
): Promise<PodNetns | null> {
  const pods = await runText(shell, node, crictlPods(pod), signal);
  if (!pods.ok) {
    steps.push(`crictl pods: ${pods.why}`);
    return null;
  }
  const ids = sandboxIdsFromCrictlPods(pods.stdout, pod);
  if (ids.length === 0) {
    steps.push(`crictl pods: no sandbox for ${pod.namespace}/${pod.name}`);
    return null;
  }
  for (const id of ids) {
    const inspect = await runText(shell, node, crictlInspectp(id), signal);
    const found = inspect.ok ? netnsFromCrictlInspectp(inspect.stdout) : null;
    if (!found) {
      steps.push(
        `crictl inspectp ${id.slice(0, 13)}: ${inspect.ok ? 'no network namespace in its spec' : inspect.why}`,
      );
      continue;
    }
    const ps = await runText(shell, node, crictlPs({ podId: id }), signal);
    steps.push(`crictl inspectp ${id.slice(0, 13)}: ${found.netns}`);
    return {
      netns: found.netns,
      foundBy: 'crictl',
      sandboxId: found.sandboxId ?? id,
      containers: ps.ok ? containersFromCrictlPs(ps.stdout) : null,
    };
  }
  return null;
}

async function viaDocker(
  shell: NodeShell,
  node: NodeTarget,
  pod: PodRef,
  steps: string[],
  signal?: AbortSignal,
): Promise<PodNetns | null> {
  for (const id of containerIds(pod, 'docker')) {
    const inspect = async (ref: string) => {
      const r = await runText(shell, node, dockerInspect(ref), signal);
      if (!r.ok) steps.push(`docker inspect ${ref.slice(0, 12)}: ${r.why}`);
      return r.ok ? dockerInspectSummary(r.stdout) : null;
    };
    const app = await inspect(id);
    if (!app) continue;
    // App containers join the pause container's namespace; the pause container holds the SandboxKey.
    const sandbox = app.networkMode.startsWith('container:')
      ? await inspect(app.networkMode.slice('container:'.length))
      : app;
    if (!sandbox) continue;
    const netns =
      netnsRefOrNull(sandbox.sandboxKey ?? '') ?? (sandbox.pid ? netnsRefOrNull(`/proc/${sandbox.pid}/ns/net`) : null);
    steps.push(`docker inspect ${sandbox.id.slice(0, 12)}: ${netns ?? 'no SandboxKey'}`);
    if (netns) return { netns, foundBy: 'docker', sandboxId: sandbox.id, containers: null };
  }
  return null;
}

async function holdsIp(
  shell: NodeShell,
  node: NodeTarget,
  netns: string,
  ip: string,
  signal?: AbortSignal,
): Promise<boolean> {
  const r = await runText(shell, node, ipAddr({ netns, family: ipFamily(ip) }), signal);
  return r.ok && addressesFromIpOneLine(r.stdout).some((a) => a.ip === ip);
}

async function viaScan(
  shell: NodeShell,
  node: NodeTarget,
  podIP: string,
  steps: string[],
  signal?: AbortSignal,
): Promise<PodNetns | null> {
  const [listed, dir] = await Promise.all([
    runText(shell, node, ipNetnsList(), signal),
    runText(shell, node, listNetnsDir(), signal),
  ]);
  // `find` exits 1 when one of the two directories is missing but still prints the other's entries.
  const fromDir = dir.ok ? netnsRefsFromDir(dir.stdout) : [];
  const candidates = [...new Set([...(listed.ok ? netnsNamesFromList(listed.stdout) : []), ...fromDir])];
  if (!listed.ok) steps.push(`ip netns list: ${listed.why}`);
  const scanned = candidates.slice(0, MAX_SCANNED_NETNS);
  for (let i = 0; i < scanned.length; i += SCAN_CONCURRENCY) {
    const batch = scanned.slice(i, i + SCAN_CONCURRENCY);
    const hits = await Promise.all(batch.map((ns) => holdsIp(shell, node, ns, podIP, signal)));
    const hit = batch[hits.indexOf(true)];
    if (hit !== undefined) {
      steps.push(`scanned ${Math.min(i + batch.length, scanned.length)} namespaces: ${hit} holds ${podIP}`);
      return { netns: hit, foundBy: 'scan', sandboxId: null, containers: null };
    }
  }
  const capped =
    candidates.length > MAX_SCANNED_NETNS ? ` (stopped after ${MAX_SCANNED_NETNS} of ${candidates.length})` : '';
  steps.push(`scanned ${scanned.length} namespaces${capped}: none holds ${podIP}`);
  return null;
}

/**
 * Finds the pod's sandbox network namespace on `node`: the runtime first (docker when the pod's containers are
 * docker://, else crictl), then the scan by pod IP.
 */
export async function discoverPodNetns(
  shell: NodeShell,
  node: NodeTarget,
  pod: PodRef,
  signal?: AbortSignal,
): Promise<NetnsDiscovery> {
  const steps: string[] = [];
  const docker = containerIds(pod, 'docker').length > 0;
  const runtime = docker
    ? await viaDocker(shell, node, pod, steps, signal)
    : await viaCrictl(shell, node, pod, steps, signal);
  if (runtime) return { found: runtime, steps };
  if (!pod.podIP) {
    steps.push('the pod has no IP yet: nothing to scan for');
    return { found: null, steps };
  }
  const found = await viaScan(shell, node, validateIp(pod.podIP, 'pod IP'), steps, signal);
  return { found, steps };
}
