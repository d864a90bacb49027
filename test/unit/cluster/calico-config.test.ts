import { describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { clusterCidrFromCommand, toCalicoConfig, type RawCalicoObjects } from '../../../src/cluster/calico-config.ts';
import { DEFAULT_TOPOLOGY_PATH, loadTopology } from '../../../src/lab/topology.ts';
import { planLab } from '../../../src/lab/plan.ts';
import {
  buildSystemConfigMaps,
  buildSystemDaemonSets,
  buildSystemPods,
} from '../../../src/lab/api-server/system-objects.ts';

const published = parseAllDocuments(
  await readFile(new URL('./fixtures/calico-vxlan-v3.29.6.yaml', import.meta.url), 'utf8'),
).map((d) => d.toJS() as Record<string, unknown>);
const none: RawCalicoObjects = {
  daemonSets: [],
  calicoNodePods: [],
  controllerManagerPods: [],
  configMaps: [],
  installation: null,
  felix: null,
  errors: [],
};

describe('reading Calico configuration where it lives', () => {
  it("reads calico-vxlan.yaml's calico-node env with the configMapKeyRefs resolved from calico-config (veth_mtu 0: auto-detect)", () => {
    const config = toCalicoConfig({ ...none, configMaps: [published[0]], daemonSets: [published[1]] });
    expect(config.calicoNodeSource).toBe('daemonset kube-system/calico-node');
    expect(config.calicoNodeEnv).toMatchObject({
      CALICO_NETWORKING_BACKEND: 'vxlan',
      FELIX_VXLANMTU: '0',
      CALICO_IPV4POOL_VXLAN: 'CrossSubnet',
      IP: 'autodetect',
    });
    expect(config.calicoNodeEnv).not.toHaveProperty('NODENAME'); // a fieldRef has no value until a pod runs
    expect(config.calicoNodeEnv).not.toHaveProperty('IP_AUTODETECTION_METHOD');
    expect(config).toMatchObject({
      vethMtu: 0,
      calicoBackend: 'vxlan',
      installation: null,
      felix: null,
      clusterCIDR: null,
    });
  });

  it("reads the lab's kube-system: the pool CIDR in --cluster-cidr and CALICO_IPV4POOL_CIDR, veth_mtu 1450", async () => {
    const plan = planLab(await loadTopology(DEFAULT_TOPOLOGY_PATH), { lab: 'cclab', nodeSubnet: '10.254.7.0/24' });
    const ctx = { plan, createdAt: new Date(), kernelVersion: '6.8.0' };
    const pods = buildSystemPods(ctx);
    const config = toCalicoConfig({
      ...none,
      daemonSets: [],
      calicoNodePods: pods.filter((p) => p.metadata.labels?.['k8s-app'] === 'calico-node'),
      controllerManagerPods: pods.filter((p) => p.metadata.labels?.component === 'kube-controller-manager'),
      configMaps: buildSystemConfigMaps(ctx),
    });
    expect(config.calicoNodeSource).toMatch(/^pod kube-system\/calico-node-/);
    expect(config).toMatchObject({
      vethMtu: 1450,
      clusterCIDR: '10.244.0.0/16',
      calicoNodeEnv: {
        CALICO_IPV4POOL_CIDR: '10.244.0.0/16',
        IP_AUTODETECTION_METHOD: 'first-found',
        FELIX_VXLANMTU: '1450',
      },
    });
    expect(
      toCalicoConfig({ ...none, daemonSets: buildSystemDaemonSets(ctx), configMaps: buildSystemConfigMaps(ctx) })
        .calicoNodeSource,
    ).toBe('daemonset kube-system/calico-node');
  });

  it('reads an Installation and a FelixConfiguration, and keeps unreadable pieces null without throwing on odd objects', () => {
    const config = toCalicoConfig({
      ...none,
      installation: {
        apiVersion: 'operator.tigera.io/v1',
        kind: 'Installation',
        metadata: { name: 'default' },
        spec: {
          calicoNetwork: {
            mtu: 1440,
            nodeAddressAutodetectionV4: { firstFound: true },
            ipPools: [{ cidr: '192.168.0.0/16', encapsulation: 'VXLANCrossSubnet' }, { nope: 1 }],
          },
        },
      },
      felix: {
        apiVersion: 'crd.projectcalico.org/v1',
        object: {
          metadata: { name: 'default' },
          spec: { bpfEnabled: true, vxlanMTU: 1410, iptablesBackend: 'NFT', nftablesMode: 'Disabled' },
        },
      },
    });
    expect(config.installation).toEqual({
      mtu: 1440,
      nodeAddressAutodetectionV4: { firstFound: true },
      ipPools: [{ cidr: '192.168.0.0/16', encapsulation: 'VXLANCrossSubnet' }],
    });
    expect(config.felix).toEqual({
      apiVersion: 'crd.projectcalico.org/v1',
      vxlanMTU: 1410,
      ipipMTU: null,
      bpfEnabled: true,
      iptablesBackend: 'NFT',
      nftablesMode: 'Disabled',
    });
    const odd = toCalicoConfig({
      ...none,
      daemonSets: [null, 'x', { spec: { template: { spec: { containers: 'no' } } } }],
      controllerManagerPods: [{ spec: { containers: [{ command: 7 }] } }],
      configMaps: [{ metadata: { name: 'calico-config' }, data: { veth_mtu: 'auto' } }],
      installation: 'x',
      felix: { apiVersion: 'v', object: [] },
    });
    expect(odd).toMatchObject({
      calicoNodeEnv: null,
      vethMtu: null,
      clusterCIDR: null,
      installation: null,
      felix: null,
    });
  });

  it('finds --cluster-cidr in either flag form', () => {
    expect(clusterCidrFromCommand(['kube-controller-manager', '--cluster-cidr', '10.0.0.0/8,fd00::/48'])).toBe(
      '10.0.0.0/8,fd00::/48',
    );
    expect(clusterCidrFromCommand(['--allocate-node-cidrs=true'])).toBeNull();
  });
});
