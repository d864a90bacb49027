import { describe, expect, it } from '@jest/globals';
import {
  calicoConfigSection,
  diagnoseCalicoConfig,
  type CalicoConfigFacts,
} from '../../../src/ops/calico-config-diagnosis.ts';
import type { CalicoConfig, IpPoolInfo } from '../../../src/cluster/types.ts';

const config: CalicoConfig = {
  calicoNodeEnv: {
    CALICO_IPV4POOL_CIDR: '10.244.0.0/16',
    IP_AUTODETECTION_METHOD: 'first-found',
    FELIX_VXLANMTU: '1450',
  },
  calicoNodeSource: 'daemonset kube-system/calico-node',
  vethMtu: 1450,
  calicoBackend: 'vxlan',
  installation: null,
  felix: null,
  clusterCIDR: '10.244.0.0/16',
  errors: [],
};
const pool: IpPoolInfo = {
  name: 'default-ipv4-ippool',
  cidr: '10.244.0.0/16',
  blockSize: 26,
  ipipMode: 'Never',
  vxlanMode: 'Always',
  natOutgoing: true,
  disabled: false,
  apiVersion: 'crd.projectcalico.org/v1',
};
const links = (mtu: number) => [
  { name: 'eth0', up: true, mtu: 1500 },
  { name: 'vxlan.calico', up: true, mtu },
  { name: 'cali1234567890a', up: true, mtu },
];
const facts = (
  over: Partial<CalicoConfig> = {},
  nodeMtu = 1450,
  calicoIPv4Address = '10.254.7.11',
): CalicoConfigFacts => ({
  config: { ...config, ...over },
  pools: [pool],
  nodes: [{ name: 'k8s-node1', internalIP: '10.254.7.11', calicoIPv4Address, links: links(nodeMtu) }],
});

describe('Calico configuration findings', () => {
  it('finds nothing when what Calico was told matches the interfaces and the pool is inside --cluster-cidr', () => {
    expect(diagnoseCalicoConfig(facts())).toEqual([]);
  });

  it('warns when veth_mtu differs from the MTU the pod and tunnel interfaces have, with both values as evidence', () => {
    const [f] = diagnoseCalicoConfig(facts({ vethMtu: 1500 }));
    expect(f).toMatchObject({ severity: 'warning', code: 'calico_mtu_mismatch' });
    expect(f!.evidence).toContain('calico-config veth_mtu: 1500');
    expect(f!.evidence).toContain('k8s-node1 vxlan.calico mtu 1450');
    expect(f!.evidence).toContain('k8s-node1 cali1234567890a mtu 1450');
  });

  it("compares the Installation's mtu and FelixConfiguration vxlanMTU; veth_mtu 0 (auto-detect) is not compared", () => {
    expect(diagnoseCalicoConfig(facts({ vethMtu: 0, calicoNodeEnv: {} }))).toEqual([]);
    const fromInstallation = diagnoseCalicoConfig(
      facts({
        vethMtu: null,
        calicoNodeEnv: null,
        installation: { mtu: 1400, nodeAddressAutodetectionV4: null, ipPools: [] },
      }),
    );
    expect(fromInstallation.map((f) => f.evidence)).toEqual([
      expect.stringContaining('Installation default spec.calicoNetwork.mtu: 1400'),
    ]);
    const fromFelix = diagnoseCalicoConfig(
      facts({
        vethMtu: 0,
        calicoNodeEnv: { FELIX_VXLANMTU: '0' },
        felix: {
          apiVersion: 'crd.projectcalico.org/v1',
          vxlanMTU: 1410,
          ipipMTU: null,
          bpfEnabled: null,
          iptablesBackend: null,
          nftablesMode: null,
        },
      }),
    );
    expect(fromFelix[0]!.evidence).toBe(
      'FelixConfiguration default vxlanMTU (crd.projectcalico.org/v1): 1410; k8s-node1 vxlan.calico mtu 1450',
    );
  });

  it("warns when the IP pool is outside kube-controller-manager's --cluster-cidr", () => {
    const [f] = diagnoseCalicoConfig(facts({ clusterCIDR: '192.168.0.0/16' }));
    expect(f).toMatchObject({
      code: 'cluster_cidr_excludes_pool',
      evidence: '--cluster-cidr=192.168.0.0/16; IPPool default-ipv4-ippool cidr 10.244.0.0/16',
    });
    expect(diagnoseCalicoConfig(facts({ clusterCIDR: '10.0.0.0/8,fd00::/48' }))).toEqual([]);
  });

  it('hints at first-found when the autodetected address is not the InternalIP', () => {
    const [f] = diagnoseCalicoConfig(facts({}, 1450, '172.17.0.1'));
    expect(f).toMatchObject({
      code: 'calico_autodetect_first_found',
      evidence: 'k8s-node1: projectcalico.org/IPv4Address 172.17.0.1, InternalIP 10.254.7.11',
    });
    expect(
      diagnoseCalicoConfig(
        facts({ calicoNodeEnv: { IP_AUTODETECTION_METHOD: 'kubernetes-internal-ip' } }, 1450, '172.17.0.1'),
      ),
    ).toEqual([]);
  });

  it('says the eBPF dataplane is on and which checks do not apply', () => {
    const [f] = diagnoseCalicoConfig(
      facts({
        felix: {
          apiVersion: 'projectcalico.org/v3',
          vxlanMTU: null,
          ipipMTU: null,
          bpfEnabled: true,
          iptablesBackend: null,
          nftablesMode: null,
        },
      }),
    );
    expect(f).toMatchObject({
      severity: 'info',
      code: 'calico_ebpf_dataplane',
      evidence: 'FelixConfiguration default bpfEnabled: true (projectcalico.org/v3)',
    });
    expect(f!.message).toMatch(/nodeport, svc/);
  });

  it('shows what was read, and where, in a "Calico configuration" table', () => {
    const section = calicoConfigSection({ ...config, errors: ['configmaps in kube-system: timed out'] });
    expect(section).toMatchObject({ kind: 'table', title: 'Calico configuration' });
    const rows = section.kind === 'table' ? section.rows : [];
    expect(rows).toContainEqual(['--cluster-cidr', 'kube-controller-manager pod', '10.244.0.0/16']);
    expect(rows).toContainEqual(['veth_mtu', 'ConfigMap calico-config', '1450']);
    expect(rows).toContainEqual(['unreadable', 'configmaps in kube-system: timed out', '-']);
  });
});
