/**
 * kube-proxy's configured mode, from the kube-system/kube-proxy ConfigMap kubeadm writes (its `config.conf` key, a
 * KubeProxyConfiguration in YAML). Pure. An empty or absent `mode` means the platform default, iptables on Linux
 * (pkg/proxy/apis/config: "" selects iptables; nftables becomes the default only in a later release, said plainly
 * by the node's own /proxyMode answer where it differs).
 */
import { parse as parseYaml } from 'yaml';
import type { KubeProxyMode } from '../dataplane/service-dataplane.ts';

export const KUBE_PROXY_CONFIGMAP = { namespace: 'kube-system', name: 'kube-proxy', key: 'config.conf' } as const;

export interface KubeProxyConfigInfo {
  /** The mode kube-proxy is configured with; null when the value names no mode k8snet knows (kernelspace…). */
  mode: KubeProxyMode | null;
  /** The `mode:` value as written ('' when empty or absent). */
  configured: string;
  /** Where it was read, for evidence: `ConfigMap kube-system/kube-proxy config.conf: mode: ipvs`. */
  evidence: string;
}

const MODES: readonly string[] = ['iptables', 'nftables', 'ipvs'];

/** The ConfigMap's data to its mode; null when it holds no KubeProxyConfiguration that can be read. */
export function kubeProxyConfigFrom(data: Record<string, string> | undefined): KubeProxyConfigInfo | null {
  const text = data?.[KUBE_PROXY_CONFIGMAP.key];
  if (typeof text !== 'string') return null;
  let config: unknown;
  try {
    config = parseYaml(text);
  } catch {
    return null;
  }
  if (typeof config !== 'object' || config === null || (config as { kind?: unknown }).kind !== 'KubeProxyConfiguration')
    return null;
  const raw = (config as { mode?: unknown }).mode;
  const configured = typeof raw === 'string' ? raw : '';
  const mode = configured === '' ? 'iptables' : MODES.includes(configured) ? (configured as KubeProxyMode) : null;
  const where = `ConfigMap ${KUBE_PROXY_CONFIGMAP.namespace}/${KUBE_PROXY_CONFIGMAP.name} ${KUBE_PROXY_CONFIGMAP.key}`;
  return {
    mode,
    configured,
    evidence: `${where}: mode: ${configured === '' ? '"" (the default: iptables)' : configured}`,
  };
}
