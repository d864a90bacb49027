/**
 * Container runtimes' answers about a pod sandbox → our records: `crictl pods|inspectp|ps -o json` (containerd,
 * CRI-O) and `docker inspect` (dockershim). Pure; unreadable JSON gives null or an empty list, never a throw.
 */
import { validateNetnsRef } from '../validate.ts';

export interface PodSandboxContainer {
  id: string;
  name: string;
  state: string;
}

/** A network namespace ref (validateNetnsRef form) or null for anything else. */
export function netnsRefOrNull(value: string): string | null {
  try {
    return validateNetnsRef(value);
  } catch {
    return null;
  }
}

export function parseJsonOrNull(text: string): unknown {
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
export function sandboxIdsFromCrictlPods(
  json: string,
  pod: { name: string; namespace: string; uid?: string | null },
): string[] {
  const items = (parseJsonOrNull(json) as CrictlPodsJson | null)?.items ?? [];
  return items
    .filter(
      (i) =>
        i.metadata?.name === pod.name &&
        i.metadata.namespace === pod.namespace &&
        (!pod.uid || !i.metadata.uid || i.metadata.uid === pod.uid),
    )
    .sort((a, b) => Number(b.state === 'SANDBOX_READY') - Number(a.state === 'SANDBOX_READY'))
    .map((i) => i.id ?? '')
    .filter((id) => /^[0-9a-f]{12,64}$/.test(id));
}

interface CrictlInspectpJson {
  status?: { id?: string; network?: { ip?: string; additionalIps?: { ip?: string }[] } };
  info?: {
    pid?: number;
    /** containerd's CRI plugin before the OCI spec was printed (cri 1.0, 2017): the namespace path itself. */
    netNamespace?: string;
    /** Some runtimes' spelling of the same. */
    netNamespacePath?: string;
    runtimeSpec?: { linux?: { namespaces?: { type?: string; path?: string }[] } };
  };
}

/**
 * The sandbox's network namespace from `crictl inspectp -o json`, from what each runtime version prints: the OCI
 * spec's network namespace path (`info.runtimeSpec.linux.namespaces`, containerd 1.1+ and CRI-O), else
 * `info.netNamespace` / `info.netNamespacePath` (containerd's early CRI plugin names it there, and keeps it while the
 * sandbox process is gone), else the sandbox process's own (`/proc/PID/ns/net`, containerd's sandbox API prints a pid
 * but no path). `status.linux.namespaces` holds only options (POD, NODE), never a path. The IP is status.network's
 * first, then its additionalIps (the other family of a dual-stack pod).
 */
export function netnsFromCrictlInspectp(
  json: string,
): { netns: string; sandboxId: string | null; ip: string | null; ips: string[] } | null {
  const parsed = parseJsonOrNull(json) as CrictlInspectpJson | null;
  if (!parsed || typeof parsed !== 'object') return null;
  const info = parsed.info ?? {};
  const pid = info.pid;
  const candidates = [
    info.runtimeSpec?.linux?.namespaces?.find((n) => n.type === 'network')?.path,
    info.netNamespace,
    info.netNamespacePath,
    Number.isInteger(pid) && pid! > 0 ? `/proc/${pid}/ns/net` : undefined,
  ];
  const netns =
    candidates.map((c) => (typeof c === 'string' && c ? netnsRefOrNull(c) : null)).find((c) => c !== null) ?? null;
  const network = parsed.status?.network;
  const ips = [network?.ip, ...(network?.additionalIps ?? []).map((a) => a.ip)].filter(
    (ip): ip is string => typeof ip === 'string' && ip !== '',
  );
  return netns ? { netns, sandboxId: parsed.status?.id ?? null, ip: ips[0] ?? null, ips } : null;
}

interface CrictlPsJson {
  containers?: { id?: string; state?: string; metadata?: { name?: string } }[];
}

export function containersFromCrictlPs(json: string): PodSandboxContainer[] {
  return ((parseJsonOrNull(json) as CrictlPsJson | null)?.containers ?? []).map((c) => ({
    id: c.id ?? '',
    name: c.metadata?.name ?? '',
    state: c.state ?? '',
  }));
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
  const parsed = parseJsonOrNull(json);
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
