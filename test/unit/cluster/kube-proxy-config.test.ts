import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { kubeProxyConfigFrom } from '../../../src/cluster/kube-proxy-config.ts';
import { kubeProxyConfig } from '../../../src/lab/api-server/system-objects.ts';
import { planLab } from '../../../src/lab/plan.ts';
import { loadTopology } from '../../../src/lab/topology.ts';
import { kubeProxyModeFindings } from '../../../src/ops/service-diagnosis.ts';
import { detectKubeProxyMode } from '../../../src/dataplane/kube-proxy-mode.ts';
import { fileURLToPath } from 'node:url';

const published = parseYaml(
  readFileSync(new URL('./fixtures/kubeadm-kube-proxy-configmap.yaml', import.meta.url), 'utf8'),
) as { data: Record<string, string> };

describe("kube-proxy's ConfigMap", () => {
  it('a published kubeadm ConfigMap with mode "" is the default, iptables', () => {
    expect(kubeProxyConfigFrom(published.data)).toEqual({
      mode: 'iptables',
      configured: '',
      evidence: 'ConfigMap kube-system/kube-proxy config.conf: mode: "" (the default: iptables)',
    });
  });

  it('reads the mode set, an unknown one as null, and nothing from what is not a KubeProxyConfiguration', () => {
    const withMode = (mode: string) => ({
      'config.conf': published.data['config.conf']!.replace('mode: ""', `mode: ${mode}`),
    });
    expect(kubeProxyConfigFrom(withMode('ipvs'))?.mode).toBe('ipvs');
    expect(kubeProxyConfigFrom(withMode('"nftables"'))?.evidence).toBe(
      'ConfigMap kube-system/kube-proxy config.conf: mode: nftables',
    );
    expect(kubeProxyConfigFrom(withMode('kernelspace'))).toMatchObject({ mode: null, configured: 'kernelspace' });
    expect(kubeProxyConfigFrom({ 'config.conf': 'kind: Other\nmode: ipvs' })).toBeNull();
    expect(kubeProxyConfigFrom({ 'config.conf': ': : not yaml [' })).toBeNull();
    expect(kubeProxyConfigFrom(undefined)).toBeNull();
  });

  it("reads what the lab serves, each topology's own mode", async () => {
    const topology = await loadTopology(
      fileURLToPath(new URL('../../../src/lab/topologies/nftables.yaml', import.meta.url)),
    );
    const plan = planLab(topology, { lab: 'kpcfg', nodeSubnet: '10.254.76.0/24' });
    expect(kubeProxyConfigFrom({ 'config.conf': kubeProxyConfig(plan) })?.mode).toBe('nftables');
  });

  it('a node running another mode than the ConfigMap asks for is a warning with both as evidence', () => {
    const detected = detectKubeProxyMode({
      nftTable: null,
      natSave: '*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j KUBE-NODEPORTS\nCOMMIT\n',
      proxyMode: 'iptables',
      legacySave: null,
      nftSave: null,
    });
    const node = { name: 'k8s-node1', mode: detected.mode, detected };
    const ipvs = kubeProxyConfigFrom({
      'config.conf': published.data['config.conf']!.replace('mode: ""', 'mode: ipvs'),
    });
    const [f, ...rest] = kubeProxyModeFindings(node, ipvs);
    expect(rest).toEqual([]);
    expect(f).toMatchObject({ severity: 'warning', code: 'kube_proxy_config_differs' });
    expect(f!.message).toBe(
      "kube-proxy on k8s-node1 runs iptables (its /proxyMode answer), but its ConfigMap asks for ipvs: it has not been restarted since the ConfigMap changed, or that node's kube-proxy runs with other flags",
    );
    expect(f!.evidence).toBe(
      'ConfigMap kube-system/kube-proxy config.conf: mode: ipvs\nproxyMode on k8s-node1: iptables',
    );
    // The same mode, no ConfigMap, or an eBPF node (no kube-proxy rules carry Services): nothing to say.
    expect(kubeProxyModeFindings(node, kubeProxyConfigFrom(published.data))).toEqual([]);
    expect(kubeProxyModeFindings(node, null)).toEqual([]);
    expect(kubeProxyModeFindings({ ...node, detected: { ...detected, calicoEbpf: true } }, ipvs)).toEqual([]);
  });
});
