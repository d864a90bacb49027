/**
 * The clusters file (K8SNET_CLUSTERS_FILE): the clusters one k8snet answers for, by name —
 *
 *   clusters:
 *     prod-eu:
 *       kubeconfig: /secrets/prod-eu/kubeconfig   # or inCluster: true (the worker's service account)
 *       context: prod-eu                          # optional: a context inside the kubeconfig
 *       ssh:                                      # optional; unset fields keep the environment's K8SNET_SSH_*
 *         user: ops
 *         key: /secrets/prod-eu/id_ed25519
 *         knownHosts: /secrets/prod-eu/known_hosts
 *         port: 22
 *         jumpHost: ops@bastion.prod-eu:22
 *         strictHostKeys: true
 *       capture:                                  # optional; unset fields keep K8SNET_CAPTURE_*
 *         defaultSeconds: 5
 *         maxSeconds: 20
 *         maxPackets: 2000
 *         snapLength: 128
 *       channels: [C0PRODEU]                      # channels whose commands go to this cluster unless --cluster says
 *
 * Each cluster has its own queue; `k8snet worker --cluster NAME` runs that cluster's jobs with its settings, laid
 * over the environment as environment variables (so they are validated as the environment is, one reader of
 * settings: config.ts). A bad file stops start-up naming the cluster and the field. Parsing is pure.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type Env } from '../config.ts';
import { validateClusterName, type CaptureBounds } from '../command/grammar.ts';
import { describeError } from '../errors.ts';

const VARIABLE = 'K8SNET_CLUSTERS_FILE';
/** Far more than anyone runs from one chat-ops bot; bounds the file's cost and the /k8snet clusters answer. */
export const MAX_CLUSTERS = 50;

export interface ClusterEntry {
  name: string;
  kubeconfig: string | null;
  context: string | null;
  inCluster: boolean;
  ssh: { user?: string; key?: string; knownHosts?: string; port?: number; jumpHost?: string; strictHostKeys?: boolean };
  capture: { defaultSeconds?: number; maxSeconds?: number; maxPackets?: number; snapLength?: number };
  channels: string[];
}

export interface ClustersFile {
  clusters: ClusterEntry[];
}

const KEYS = ['kubeconfig', 'context', 'inCluster', 'ssh', 'capture', 'channels'];
const SSH_KEYS = {
  user: 'string',
  key: 'string',
  knownHosts: 'string',
  port: 'number',
  jumpHost: 'string',
  strictHostKeys: 'boolean',
} as const;
const CAPTURE_KEYS = {
  defaultSeconds: 'number',
  maxSeconds: 'number',
  maxPackets: 'number',
  snapLength: 'number',
} as const;
const CHANNEL_ID = /^[CGD][A-Z0-9]{1,20}$/;

function mapping(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigError(VARIABLE, `${where}: must be a mapping`);
  return value as Record<string, unknown>;
}

function fields<T extends Record<string, 'string' | 'number' | 'boolean'>>(
  value: unknown,
  kinds: T,
  where: string,
): Partial<Record<keyof T, string | number | boolean>> {
  if (value === undefined) return {};
  const m = mapping(value, where);
  const out: Partial<Record<keyof T, string | number | boolean>> = {};
  for (const [k, v] of Object.entries(m)) {
    if (v === undefined) continue;
    const kind = kinds[k];
    if (!kind)
      throw new ConfigError(
        VARIABLE,
        `${where}: unknown field ${JSON.stringify(k.slice(0, 40))} (fields: ${Object.keys(kinds).join(', ')})`,
      );
    if (typeof v !== kind || (kind === 'string' && (v as string).trim() === ''))
      throw new ConfigError(VARIABLE, `${where}.${k}: must be a ${kind === 'string' ? 'non-empty string' : kind}`);
    out[k as keyof T] = v as string | number | boolean;
  }
  return out;
}

/** YAML text → validated clusters; a ConfigError names the file, the cluster and the field. Pure. */
export function parseClustersFile(text: string, source = 'clusters file'): ClustersFile {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(VARIABLE, `${source} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const top = mapping(doc ?? {}, source);
  const extra = Object.keys(top).filter((k) => k !== 'clusters');
  if (extra.length > 0)
    throw new ConfigError(
      VARIABLE,
      `${source}: unknown field ${JSON.stringify(extra[0]!.slice(0, 40))} (the file holds \`clusters:\`)`,
    );
  const entries = Object.entries(mapping(top.clusters ?? {}, `${source}: clusters`));
  if (entries.length > MAX_CLUSTERS)
    throw new ConfigError(VARIABLE, `${source} declares ${entries.length} clusters; at most ${MAX_CLUSTERS}`);
  const channelOwner = new Map<string, string>();
  const clusters = entries.map(([name, raw]): ClusterEntry => {
    const where = `${source}, cluster ${JSON.stringify(name.slice(0, 64))}`;
    try {
      validateClusterName(name, 'name');
    } catch (err) {
      throw new ConfigError(VARIABLE, `${where}: ${describeError(err)}`);
    }
    const r = mapping(raw, where);
    const unknown = Object.keys(r).filter((k) => !KEYS.includes(k));
    if (unknown.length > 0)
      throw new ConfigError(
        VARIABLE,
        `${where}: unknown field ${JSON.stringify(unknown[0]!.slice(0, 40))} (fields: ${KEYS.join(', ')})`,
      );
    const top = fields(
      { kubeconfig: r.kubeconfig, context: r.context, inCluster: r.inCluster },
      { kubeconfig: 'string', context: 'string', inCluster: 'boolean' },
      where,
    );
    if (top.inCluster === true && top.kubeconfig !== undefined)
      throw new ConfigError(VARIABLE, `${where}: kubeconfig and inCluster: true exclude each other`);
    if (top.inCluster !== true && top.kubeconfig === undefined)
      throw new ConfigError(VARIABLE, `${where}: needs kubeconfig (a path) or inCluster: true`);
    const channels = r.channels === undefined ? [] : r.channels;
    if (!Array.isArray(channels) || channels.some((c) => typeof c !== 'string' || !CHANNEL_ID.test(c)))
      throw new ConfigError(VARIABLE, `${where}.channels: must be a list of channel IDs (C…, G… or D…)`);
    for (const c of channels as string[]) {
      const other = channelOwner.get(c);
      if (other)
        throw new ConfigError(VARIABLE, `${where}.channels: ${c} already uses cluster ${JSON.stringify(other)}`);
      channelOwner.set(c, name);
    }
    return {
      name,
      kubeconfig: (top.kubeconfig as string | undefined) ?? null,
      context: (top.context as string | undefined) ?? null,
      inCluster: top.inCluster === true,
      ssh: fields(r.ssh, SSH_KEYS, `${where}.ssh`) as ClusterEntry['ssh'],
      capture: fields(r.capture, CAPTURE_KEYS, `${where}.capture`) as ClusterEntry['capture'],
      channels: channels as string[],
    };
  });
  return { clusters };
}

export async function readClustersFile(path: string): Promise<ClustersFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      VARIABLE,
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? describeError(err)}`,
    );
  }
  return parseClustersFile(text, path);
}

export function findCluster(file: ClustersFile, name: string): ClusterEntry | null {
  return file.clusters.find((c) => c.name === name) ?? null;
}

/** The cluster a channel's commands go to when they name none; null: the environment's own (default queue). */
export function clusterForChannel(file: ClustersFile | null, channel: string): string | null {
  return file?.clusters.find((c) => c.channels.includes(channel))?.name ?? null;
}

/**
 * The capture window a command for this cluster may ask for: its own default and ceiling, else `base` (the
 * deployment's) — what its workers get from clusterEnv. Pure.
 */
export function clusterCaptureBounds(entry: ClusterEntry, base: CaptureBounds): CaptureBounds {
  return {
    defaultSeconds: entry.capture.defaultSeconds ?? base.defaultSeconds,
    maxSeconds: entry.capture.maxSeconds ?? base.maxSeconds,
    owner: `cluster ${entry.name}`,
  };
}

/** A cluster's settings as the environment variables config.ts reads, laid over `env`. Pure. */
export function clusterEnv(entry: ClusterEntry, env: Env): Env {
  const set: Env = {
    // inCluster: no kubeconfig, so config.ts takes the pod's service account (KUBERNETES_SERVICE_HOST).
    KUBECONFIG: entry.inCluster ? '' : (entry.kubeconfig ?? ''),
    K8SNET_KUBE_CONTEXT: entry.context ?? '',
  };
  const ssh = entry.ssh;
  if (ssh.user !== undefined) set.K8SNET_SSH_USER = ssh.user;
  if (ssh.key !== undefined) set.K8SNET_SSH_KEY = ssh.key;
  if (ssh.knownHosts !== undefined) set.K8SNET_SSH_KNOWN_HOSTS = ssh.knownHosts;
  if (ssh.port !== undefined) set.K8SNET_SSH_PORT = String(ssh.port);
  if (ssh.jumpHost !== undefined) set.K8SNET_SSH_JUMP_HOST = ssh.jumpHost;
  if (ssh.strictHostKeys !== undefined) set.K8SNET_SSH_STRICT_HOST_KEYS = String(ssh.strictHostKeys);
  const cap = entry.capture;
  if (cap.defaultSeconds !== undefined) set.K8SNET_CAPTURE_SECONDS = String(cap.defaultSeconds);
  if (cap.maxSeconds !== undefined) set.K8SNET_CAPTURE_MAX_SECONDS = String(cap.maxSeconds);
  if (cap.maxPackets !== undefined) set.K8SNET_CAPTURE_MAX_PACKETS = String(cap.maxPackets);
  if (cap.snapLength !== undefined) set.K8SNET_CAPTURE_SNAPLEN = String(cap.snapLength);
  return { ...env, ...set };
}
