import { describe, expect, it } from '@jest/globals';
import { DEFAULT_TOPOLOGY_PATH, loadTopology, parseTopology } from '../../../../src/lab/topology.ts';
import { planLab } from '../../../../src/lab/plan.ts';
import {
  buildSystemConfigMaps,
  buildSystemDaemonSets,
  buildSystemPods,
} from '../../../../src/lab/api-server/system-objects.ts';
import { routeRequest, type RouteContext } from '../../../../src/lab/api-server/router.ts';
import type { ObjectContext } from '../../../../src/lab/api-server/objects.ts';

const topology = await loadTopology(DEFAULT_TOPOLOGY_PATH);
const plan = planLab(topology, { lab: 'cclab', nodeSubnet: '10.254.7.0/24' });
const ctx: ObjectContext = { plan, createdAt: new Date('2025-05-01T10:00:00.000Z'), kernelVersion: '6.8.0-31-generic' };
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests walk free-form Kubernetes JSON

describe("the lab's kube-system", () => {
  it('runs kube-controller-manager with --cluster-cidr = the pool and a calico-node and kube-proxy pod per node, all host-network', () => {
    const pods = buildSystemPods(ctx) as Json[];
    const kcm = pods.find((p) => p.metadata.name === 'kube-controller-manager-k8s-node1')!;
    expect(kcm.spec.containers[0].command).toEqual(
      expect.arrayContaining([
        '--cluster-cidr=10.244.0.0/16',
        '--allocate-node-cidrs=true',
        '--service-cluster-ip-range=10.96.0.0/16',
      ]),
    );
    for (const node of plan.nodes) {
      const onNode = pods.filter((p) => p.spec.nodeName === node.name);
      expect(
        onNode
          .map((p) => p.metadata.labels['k8s-app'])
          .filter(Boolean)
          .sort(),
      ).toEqual(['calico-node', 'kube-proxy']);
      for (const p of onNode)
        expect(p).toMatchObject({
          metadata: { namespace: 'kube-system' },
          spec: { hostNetwork: true },
          status: { podIP: node.ip, phase: 'Running' },
        });
    }
    const calico = pods.find((p) => p.metadata.labels['k8s-app'] === 'calico-node')!;
    const env = Object.fromEntries(
      (calico.spec.containers[0].env as Json[]).map((e) => [e.name, e.value ?? e.valueFrom]),
    );
    expect(env).toMatchObject({
      CALICO_IPV4POOL_CIDR: '10.244.0.0/16',
      IP_AUTODETECTION_METHOD: 'first-found',
      CALICO_IPV4POOL_VXLAN: 'Always',
      FELIX_VXLANMTU: { configMapKeyRef: { name: 'calico-config', key: 'veth_mtu' } },
    });
    const proxy = pods.find((p) => p.metadata.labels['k8s-app'] === 'kube-proxy')!;
    expect(proxy.spec.containers[0].command).toContain('--config=/var/lib/kube-proxy/config.conf');
    expect(buildSystemDaemonSets(ctx).map((d) => d.metadata.name)).toEqual(['calico-node', 'kube-proxy']);
  });

  it('serves calico-config with the veth_mtu the lab gives its interfaces, or the topology clusterConfig.vethMtu', async () => {
    const [calico, proxy] = buildSystemConfigMaps(ctx) as Json[];
    expect(calico!.data).toMatchObject({ calico_backend: 'vxlan', veth_mtu: '1450' });
    expect(calico!.data.cni_network_config).toContain('"mtu": __CNI_MTU__');
    expect(proxy!.data['config.conf']).toMatch(/^mode: iptables$/m);
    const wrong = planLab(
      parseTopology({ ...rawDefault(), clusterConfig: { vethMtu: 1500, clusterCIDR: '10.10.0.0/16' } }),
      { lab: 'cclab', nodeSubnet: '10.254.7.0/24' },
    );
    const [wrongCalico] = buildSystemConfigMaps({ ...ctx, plan: wrong }) as Json[];
    expect(wrongCalico!.data.veth_mtu).toBe('1500');
    expect(wrong.podMtu).toBe(1450);
    // Dual stack: auto-detect, as Felix then sizes vxlan.calico and vxlan-v6.calico apart (1450, 1430).
    const dual = planLab(
      await loadTopology(new URL('../../../../src/lab/topologies/dual-stack.yaml', import.meta.url).pathname),
      {
        lab: 'cclab',
        nodeSubnet: '10.254.7.0/24',
      },
    );
    expect((buildSystemConfigMaps({ ...ctx, plan: dual })[0] as Json).data.veth_mtu).toBe('0');
    expect((buildSystemPods({ ...ctx, plan: wrong })[0] as Json).spec.containers[0].command).toContain(
      '--cluster-cidr=10.10.0.0/16',
    );
  });

  it("answers pods/log for a pod that exists (kubectl cluster-info dump reads every pod's log) and 404 otherwise", () => {
    const route: RouteContext = {
      objects: ctx,
      token: 't'.repeat(64),
      serverAddress: '127.0.0.1:6443',
      now: new Date(),
    };
    const get = (url: string) =>
      routeRequest({ method: 'GET', url, headers: { authorization: `Bearer ${'t'.repeat(64)}` } }, route);
    expect(get('/api/v1/namespaces/kube-system/pods/kube-controller-manager-k8s-node1/log')).toMatchObject({
      status: 200,
      contentType: expect.stringMatching(/^text\/plain/),
    });
    expect(get('/api/v1/namespaces/kube-system/pods/nope/log').status).toBe(404);
    expect(JSON.parse(get('/api/v1/namespaces/kube-system/events').body)).toMatchObject({
      kind: 'EventList',
      items: [],
    });
    expect(JSON.parse(get('/apis/apps/v1/namespaces/kube-system/daemonsets').body).items).toHaveLength(2);
  });
});

function rawDefault() {
  return {
    nodes: topology.nodes,
    ipPools: topology.ipPools,
    serviceCIDR: topology.serviceCIDR,
    pods: topology.pods.map((p) => ({ ...p, containers: p.containers.map((c) => ({ name: c.name, ports: c.ports })) })),
    services: topology.services,
  };
}
