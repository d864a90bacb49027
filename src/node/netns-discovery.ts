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
import { crictlInspectp, crictlPods, crictlPs, dockerInspect, ipAddr, ipNetnsList, listNetnsDir, validateNetnsRef } from './catalogue.ts';
import type { NodeCommand, NodeShell, NodeTarget } from './types.ts';

/** kubelet's default maxPods is 110; a node with more namespaces than this is scanned no further. */
export const MAX_SCANNED_NETNS = 256;
/** Namespaces asked at once while scanning: well under the pool's channel slots, so other steps still get a turn. */
const SCAN_CONCURRENCY = 4;
/** A shell's "command not found". */
const EXIT_NOT_FOUND = 127;

export interface PodSandboxContainer {
  id: string;
  name: string;
  state: string;
}

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

// ---- parsers (pure) ----
// TODO(src/parse): move these to the shared parsers (crictl/docker JSON, ip netns list, ip -o addr) once they land.

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

interface CrictlPodsJson {
  items?: { id?: string; state?: string; metadata?: { name?: string; namespace?: string; uid?: string } }[];
}

/** Sandbox ids for exactly this pod from `crictl pods -o json` (its --name filter is a regex), ready ones first. */
export function sandboxIdsFromCrictlPods(json: string, pod: Pick<PodRef, 'name' | 'namespace' | 'uid'>): string[] {
  const items = (parseJson(json) as CrictlPodsJson | null)?.items ?? [];
  return items
    .filter((i) => i.metadata?.name === pod.name && i.metadata.namespace === pod.namespace && (!pod.uid || !i.metadata.uid || i.metadata.uid === pod.uid))
    .sort((a, b) => Number(b.state === 'SANDBOX_READY') - Number(a.state === 'SANDBOX_READY'))
    .map((i) => i.id ?? '')
    .filter((id) => /^[0-9a-f]{12,64}$/.test(id));
}

interface CrictlInspectpJson {
  status?: { id?: string; network?: { ip?: string } };
  info?: { pid?: number; runtimeSpec?: { linux?: { namespaces?: { type?: string; path?: string }[] } } };
}

/** The sandbox's network namespace from `crictl inspectp -o json`: the spec's path, else the sandbox process's. */
export function netnsFromCrictlInspectp(json: string): { netns: string; sandboxId: string | null; ip: string | null } | null {
  const parsed = parseJson(json) as CrictlInspectpJson | null;
  if (!parsed) return null;
  const path = parsed.info?.runtimeSpec?.linux?.namespaces?.find((n) => n.type === 'network')?.path;
  const pid = parsed.info?.pid;
  const candidate = path || (Number.isInteger(pid) && pid! > 0 ? `/proc/${pid}/ns/net` : null);
  const netns = candidate ? netnsRefOrNull(candidate) : null;
  return netns ? { netns, sandboxId: parsed.status?.id ?? null, ip: parsed.status?.network?.ip || null } : null;
}

interface CrictlPsJson {
  containers?: { id?: string; state?: string; metadata?: { name?: string } }[];
}

export function containersFromCrictlPs(json: string): PodSandboxContainer[] {
  return ((parseJson(json) as CrictlPsJson | null)?.containers ?? []).map((c) => ({ id: c.id ?? '', name: c.metadata?.name ?? '', state: c.state ?? '' }));
}

export interface DockerContainerSummary {
  id: string;
  name: string;
  networkMode: string;
  sandboxKey: string | null;
  pid: number | null;
}

interface DockerInspectJson {
  Id?: string;
  Name?: string;
  HostConfig?: { NetworkMode?: string };
  NetworkSettings?: { SandboxKey?: string };
  State?: { Pid?: number };
}

/** `docker inspect ID` (a JSON array). */
export function dockerInspectSummary(json: string): DockerContainerSummary | null {
  const parsed = parseJson(json);
  const c = (Array.isArray(parsed) ? parsed[0] : null) as DockerInspectJson | null;
  if (!c?.Id) return null;
  return {
    id: c.Id,
    name: (c.Name ?? '').replace(/^\//, ''),
    networkMode: c.HostConfig?.NetworkMode ?? '',
    sandboxKey: c.NetworkSettings?.SandboxKey || null,
    pid: c.State?.Pid && c.State.Pid > 0 ? c.State.Pid : null,
  };
}

/** Names from `ip netns list` ("cni-1b2c (id: 0)" per line) or `ip -j netns list`; odd lines are skipped. */
export function netnsNamesFromList(text: string): string[] {
  const trimmed = text.trim();
  const names = trimmed.startsWith('[')
    ? ((parseJson(trimmed) as { name?: string }[] | null) ?? []).map((n) => n.name ?? '')
    : trimmed.split('\n').map((l) => /^(?<name>\S+)(?:\s+\(id: \d+\))?\s*$/.exec(l.trim())?.groups?.name ?? '');
  return names.filter((n) => n && netnsRefOrNull(n) !== null);
}

/** Paths from `find /var/run/netns /var/run/docker/netns -mindepth 1 -maxdepth 1`, as namespace refs. */
export function netnsRefsFromDir(text: string): string[] {
  return text.split('\n').map((l) => netnsRefOrNull(l.trim())).filter((r): r is string => r !== null);
}

/** Addresses in `ip -o addr show` output ("2: eth0    inet 10.244.1.5/32 scope global eth0\ …"). */
export function addressesFromIpOneLine(text: string): { ifname: string; ip: string; prefix: number }[] {
  const out: { ifname: string; ip: string; prefix: number }[] = [];
  for (const m of text.matchAll(/^\d+:\s+(?<ifname>[^\s:]+)\s+inet6?\s+(?<ip>[0-9a-fA-F.:]+)\/(?<prefix>\d+)/gm)) {
    out.push({ ifname: m.groups!.ifname!.replace(/@.*$/, ''), ip: m.groups!.ip!, prefix: Number(m.groups!.prefix) });
  }
  return out;
}

function netnsRefOrNull(value: string): string | null {
  try {
    return validateNetnsRef(value);
  } catch {
    return null;
  }
}

// ---- discovery ----

async function runText(shell: NodeShell, node: NodeTarget, command: NodeCommand, signal?: AbortSignal): Promise<{ ok: true; stdout: string } | { ok: false; why: string }> {
  try {
    const r = await shell.run(node, command, signal);
    if (r.exitCode === 0) return { ok: true, stdout: r.stdout };
    if (r.exitCode === EXIT_NOT_FOUND) return { ok: false, why: 'not installed' };
    if (r.timedOut) return { ok: false, why: `no answer within ${command.timeoutSeconds} s` };
    return { ok: false, why: `exit ${r.exitCode ?? r.signal ?? '?'}: ${r.stderr.trim().split('\n').at(-1) ?? ''}`.trim() };
  } catch (err) {
    if (err instanceof K8snetError && err.code !== 'invalid_input' && err.code !== 'ssh_command') throw err;
    return { ok: false, why: describeError(err) };
  }
}

function containerIds(pod: PodRef, runtime: 'docker' | 'containerd' | 'cri-o'): string[] {
  const prefix = `${runtime}://`;
  return pod.containers.map((c) => c.containerID).filter((id): id is string => !!id?.startsWith(prefix)).map((id) => id.slice(prefix.length));
}

async function viaCrictl(shell: NodeShell, node: NodeTarget, pod: PodRef, steps: string[], signal?: AbortSignal): Promise<PodNetns | null> {
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
      steps.push(`crictl inspectp ${id.slice(0, 13)}: ${inspect.ok ? 'no network namespace in its spec' : inspect.why}`);
      continue;
    }
    const ps = await runText(shell, node, crictlPs({ podId: id }), signal);
    steps.push(`crictl inspectp ${id.slice(0, 13)}: ${found.netns}`);
    return { netns: found.netns, foundBy: 'crictl', sandboxId: found.sandboxId ?? id, containers: ps.ok ? containersFromCrictlPs(ps.stdout) : null };
  }
  return null;
}

async function viaDocker(shell: NodeShell, node: NodeTarget, pod: PodRef, steps: string[], signal?: AbortSignal): Promise<PodNetns | null> {
  for (const id of containerIds(pod, 'docker')) {
    const inspect = async (ref: string) => {
      const r = await runText(shell, node, dockerInspect(ref), signal);
      if (!r.ok) steps.push(`docker inspect ${ref.slice(0, 12)}: ${r.why}`);
      return r.ok ? dockerInspectSummary(r.stdout) : null;
    };
    const app = await inspect(id);
    if (!app) continue;
    // App containers join the pause container's namespace; the pause container holds the SandboxKey.
    const sandbox = app.networkMode.startsWith('container:') ? await inspect(app.networkMode.slice('container:'.length)) : app;
    if (!sandbox) continue;
    const netns = netnsRefOrNull(sandbox.sandboxKey ?? '') ?? (sandbox.pid ? netnsRefOrNull(`/proc/${sandbox.pid}/ns/net`) : null);
    steps.push(`docker inspect ${sandbox.id.slice(0, 12)}: ${netns ?? 'no SandboxKey'}`);
    if (netns) return { netns, foundBy: 'docker', sandboxId: sandbox.id, containers: null };
  }
  return null;
}

async function holdsIp(shell: NodeShell, node: NodeTarget, netns: string, ip: string, signal?: AbortSignal): Promise<boolean> {
  const r = await runText(shell, node, ipAddr({ netns, family: ipFamily(ip) }), signal);
  return r.ok && addressesFromIpOneLine(r.stdout).some((a) => a.ip === ip);
}

async function viaScan(shell: NodeShell, node: NodeTarget, podIP: string, steps: string[], signal?: AbortSignal): Promise<PodNetns | null> {
  const [listed, dir] = await Promise.all([runText(shell, node, ipNetnsList(), signal), runText(shell, node, listNetnsDir(), signal)]);
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
  const capped = candidates.length > MAX_SCANNED_NETNS ? ` (stopped after ${MAX_SCANNED_NETNS} of ${candidates.length})` : '';
  steps.push(`scanned ${scanned.length} namespaces${capped}: none holds ${podIP}`);
  return null;
}

/**
 * Finds the pod's sandbox network namespace on `node`: the runtime first (docker when the pod's containers are
 * docker://, else crictl), then the scan by pod IP.
 */
export async function discoverPodNetns(shell: NodeShell, node: NodeTarget, pod: PodRef, signal?: AbortSignal): Promise<NetnsDiscovery> {
  const steps: string[] = [];
  const docker = containerIds(pod, 'docker').length > 0;
  const runtime = docker ? await viaDocker(shell, node, pod, steps, signal) : await viaCrictl(shell, node, pod, steps, signal);
  if (runtime) return { found: runtime, steps };
  if (!pod.podIP) {
    steps.push('the pod has no IP yet: nothing to scan for');
    return { found: null, steps };
  }
  const found = await viaScan(shell, node, validateIp(pod.podIP, 'pod IP'), steps, signal);
  return { found, steps };
}
