/**
 * Calico's and the cluster's configuration objects → CalicoConfig (types.ts). Pure and total: the objects come from
 * the cluster as JSON, any field may be missing or of another type, and an odd object yields nulls, never a throw.
 */
import type { CalicoConfig, FelixConfigInfo, InstallationInfo } from './types.ts';

type Json = Record<string, unknown>;

function rec(v: unknown): Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}
/** A number, or a string holding one (ConfigMap data and env values are strings). */
function num(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\s*\d+\s*$/.test(v)) return Number(v);
  return null;
}
function bool(v: unknown): boolean | null {
  return typeof v === 'boolean' ? v : null;
}

export interface RawCalicoObjects {
  /** calico-node DaemonSets (kube-system for the manifest, calico-system for the operator). */
  daemonSets: unknown[];
  /** calico-node pods, used when no DaemonSet could be read. */
  calicoNodePods: unknown[];
  /** kube-controller-manager pods (kube-system, label component=kube-controller-manager). */
  controllerManagerPods: unknown[];
  /** ConfigMaps of calico-node's namespace (calico-config and whatever env refers to). */
  configMaps: unknown[];
  installation: unknown;
  felix: { apiVersion: string; object: unknown } | null;
  errors: string[];
}

function calicoNodeContainer(podSpec: Json): Json | null {
  const containers = arr(podSpec.containers).map(rec);
  return containers.find((c) => c.name === 'calico-node') ?? null;
}

/** env → name/value; configMapKeyRef resolved from the namespace's ConfigMaps; fieldRef/secretKeyRef left out. */
export function resolveEnv(container: Json, configMaps: unknown[], namespace: string | null): Record<string, string> {
  const maps = new Map(
    configMaps
      .map(rec)
      .filter(
        (m) => namespace === null || rec(m.metadata).namespace === undefined || rec(m.metadata).namespace === namespace,
      )
      .map((m) => [str(rec(m.metadata).name), rec(m.data)]),
  );
  const out: Record<string, string> = {};
  for (const e of arr(container.env).map(rec)) {
    const name = str(e.name);
    if (!name) continue;
    const value = str(e.value);
    if (value !== null) {
      out[name] = value;
      continue;
    }
    const ref = rec(rec(e.valueFrom).configMapKeyRef);
    const refName = str(ref.name);
    const key = str(ref.key);
    if (refName && key) {
      const v = str(maps.get(refName)?.[key]);
      if (v !== null) out[name] = v;
    }
  }
  return out;
}

function objectWhere(o: Json): string {
  const m = rec(o.metadata);
  return `${str(m.namespace) ?? '?'}/${str(m.name) ?? '?'}`;
}

/** `--cluster-cidr=X` or `--cluster-cidr X` in command + args. */
export function clusterCidrFromCommand(argv: unknown[]): string | null {
  const words = argv.filter((w): w is string => typeof w === 'string');
  for (const [i, w] of words.entries()) {
    const m = /^--cluster-cidr(?:=(?<value>.*))?$/.exec(w);
    if (m) return m.groups?.value ?? words[i + 1] ?? null;
  }
  return null;
}

export function toInstallationInfo(item: unknown): InstallationInfo | null {
  const o = rec(item);
  if (Object.keys(o).length === 0) return null;
  const net = rec(rec(o.spec).calicoNetwork);
  const auto = net.nodeAddressAutodetectionV4;
  return {
    mtu: num(net.mtu),
    nodeAddressAutodetectionV4:
      auto !== null && typeof auto === 'object' && !Array.isArray(auto) ? (auto as Json) : null,
    ipPools: arr(net.ipPools)
      .map(rec)
      .flatMap((p) => (str(p.cidr) ? [{ cidr: str(p.cidr)!, encapsulation: str(p.encapsulation) }] : [])),
  };
}

export function toFelixConfigInfo(item: unknown, apiVersion: string): FelixConfigInfo | null {
  const o = rec(item);
  if (Object.keys(o).length === 0) return null;
  const spec = rec(o.spec);
  return {
    apiVersion,
    vxlanMTU: num(spec.vxlanMTU),
    ipipMTU: num(spec.ipipMTU),
    bpfEnabled: bool(spec.bpfEnabled),
    iptablesBackend: str(spec.iptablesBackend),
    nftablesMode: str(spec.nftablesMode),
  };
}

export function toCalicoConfig(raw: RawCalicoObjects): CalicoConfig {
  let calicoNodeEnv: Record<string, string> | null = null;
  let calicoNodeSource: string | null = null;
  let envNamespace: string | null = null;
  const sources = [
    ...raw.daemonSets.map((d) => ({ kind: 'daemonset', o: rec(d), spec: rec(rec(rec(rec(d).spec).template).spec) })),
    ...raw.calicoNodePods.map((p) => ({ kind: 'pod', o: rec(p), spec: rec(rec(p).spec) })),
  ];
  for (const s of sources) {
    const container = calicoNodeContainer(s.spec);
    if (!container) continue;
    envNamespace = str(rec(s.o.metadata).namespace);
    calicoNodeEnv = resolveEnv(container, raw.configMaps, envNamespace);
    calicoNodeSource = `${s.kind} ${objectWhere(s.o)}`;
    break;
  }
  const calicoConfig = raw.configMaps
    .map(rec)
    .find(
      (m) =>
        rec(m.metadata).name === 'calico-config' &&
        (envNamespace === null ||
          rec(m.metadata).namespace === undefined ||
          rec(m.metadata).namespace === envNamespace),
    );
  const data = rec(calicoConfig?.data);
  let clusterCIDR: string | null = null;
  for (const pod of raw.controllerManagerPods.map(rec)) {
    for (const c of arr(rec(pod.spec).containers).map(rec)) {
      clusterCIDR ??= clusterCidrFromCommand([...arr(c.command), ...arr(c.args)]);
    }
  }
  return {
    calicoNodeEnv,
    calicoNodeSource,
    vethMtu: calicoConfig ? num(data.veth_mtu) : null,
    calicoBackend: calicoConfig ? str(data.calico_backend) : null,
    installation: raw.installation === null ? null : toInstallationInfo(raw.installation),
    felix: raw.felix === null ? null : toFelixConfigInfo(raw.felix.object, raw.felix.apiVersion),
    clusterCIDR,
    errors: raw.errors,
  };
}
