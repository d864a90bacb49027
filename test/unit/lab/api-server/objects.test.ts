import { describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TOPOLOGY_PATH, loadTopology } from '../../../../src/lab/topology.ts';
import { planLab } from '../../../../src/lab/plan.ts';
import {
  buildEndpointSlices,
  buildEndpoints,
  buildIpPool,
  buildNamespaces,
  buildNode,
  buildPod,
  buildService,
  type ObjectContext,
} from '../../../../src/lab/api-server/objects.ts';

const plan = planLab(await loadTopology(DEFAULT_TOPOLOGY_PATH), { lab: 'lab', nodeSubnet: '10.254.7.0/24' });
const ipipPlan = planLab(
  await loadTopology(fileURLToPath(new URL('../../../../src/lab/topologies/ipip.yaml', import.meta.url))),
  { lab: 'lab', nodeSubnet: '10.254.7.0/24' },
);
const createdAt = new Date('2025-05-01T10:00:00.000Z');
const ctx: ObjectContext = { plan, createdAt, kernelVersion: '6.8.0-31-generic' };
const node1 = plan.nodes[0]!;
const podOf = (name: string) => plan.pods.find((p) => p.name === name)!;
const svcOf = (name: string) => plan.services.find((s) => s.name === name)!;
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests walk free-form Kubernetes JSON

describe('lab Node objects', () => {
  it("carry the node's InternalIP, block as podCIDR, and Calico's address and VXLAN tunnel annotations", () => {
    const node = buildNode(ctx, node1) as Json;
    expect(node.status.addresses).toEqual([
      { type: 'InternalIP', address: '10.254.7.11' },
      { type: 'Hostname', address: 'k8s-node1' },
    ]);
    expect(node.spec).toEqual({ podCIDR: node1.block, podCIDRs: [node1.block] });
    expect(node.metadata.annotations).toMatchObject({
      'projectcalico.org/IPv4Address': '10.254.7.11/24',
      'projectcalico.org/IPv4VXLANTunnelAddr': node1.tunnelIP,
    });
    expect(node.metadata.labels['kubernetes.io/hostname']).toBe('k8s-node1');
    expect(node.metadata.uid).toBe(node1.uid);
    expect(node.status.conditions.find((c: Json) => c.type === 'Ready')).toMatchObject({
      status: 'True',
      reason: 'KubeletReady',
    });
    expect(node.status.nodeInfo).toMatchObject({
      containerRuntimeVersion: expect.stringMatching(/^containerd:\/\//),
      kubeletVersion: 'v1.32.4',
      kernelVersion: '6.8.0-31-generic',
    });
    expect(node.metadata.creationTimestamp).toBe('2025-05-01T10:00:00Z');
  });

  it('use the IP-in-IP tunnel annotation for an ipip pool', () => {
    const node = buildNode({ ...ctx, plan: ipipPlan }, ipipPlan.nodes[0]!) as Json;
    expect(node.metadata.annotations['projectcalico.org/IPv4IPIPTunnelAddr']).toBe(ipipPlan.nodes[0]!.tunnelIP);
    expect(node.metadata.annotations['projectcalico.org/IPv4VXLANTunnelAddr']).toBeUndefined();
  });
});

describe('lab Pod objects', () => {
  it('report the planned IPs, node, containerd ids and ports of a running, ready pod', () => {
    const planned = podOf('pod-pause');
    const pod = buildPod(ctx, planned) as Json;
    expect(pod.metadata).toMatchObject({
      name: 'pod-pause',
      namespace: 'default',
      uid: planned.uid,
      labels: { app: 'pause' },
    });
    expect(pod.spec.nodeName).toBe('k8s-node1');
    expect(pod.spec.containers.map((c: Json) => c.ports)).toEqual([
      [{ containerPort: 8000, protocol: 'TCP' }],
      [{ containerPort: 8080, protocol: 'TCP' }],
    ]);
    expect(pod.status).toMatchObject({
      phase: 'Running',
      podIP: planned.ip,
      podIPs: [{ ip: planned.ip }],
      hostIP: '10.254.7.11',
      hostIPs: [{ ip: '10.254.7.11' }],
    });
    expect(pod.status.containerStatuses.map((c: Json) => c.containerID)).toEqual(
      planned.containers.map((c) => `containerd://${c.id}`),
    );
    expect(
      pod.status.containerStatuses.every((c: Json) => c.ready && c.state.running.startedAt === '2025-05-01T10:00:00Z'),
    ).toBe(true);
    expect(pod.status.conditions.find((c: Json) => c.type === 'Ready').status).toBe('True');
  });

  it('follow an override that marks a pod not ready or failed', () => {
    const notReady = buildPod(
      { ...ctx, overrides: { pods: { 'default/pod-dest': { ready: false } } } },
      podOf('pod-dest'),
    ) as Json;
    expect(notReady.status.phase).toBe('Running');
    expect(notReady.status.conditions.find((c: Json) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotReady',
    });
    const failed = buildPod(
      { ...ctx, overrides: { pods: { 'default/pod-dest': { phase: 'Failed' } } } },
      podOf('pod-dest'),
    ) as Json;
    expect(failed.status.phase).toBe('Failed');
    expect(failed.status.containerStatuses[0].state.terminated).toBeDefined();
  });
});

describe('lab Service, Endpoints and EndpointSlice objects', () => {
  it('give a NodePort service its clusterIP, ports and selector', () => {
    const svc = buildService(ctx, svcOf('svc-nodeport')) as Json;
    expect(svc.spec).toMatchObject({
      type: 'NodePort',
      clusterIP: svcOf('svc-nodeport').clusterIP,
      clusterIPs: [svcOf('svc-nodeport').clusterIP],
      selector: { type: 'dest' },
      ports: [{ name: 'http', port: 8080, targetPort: 8080, nodePort: 31080, protocol: 'TCP' }],
    });
  });

  it('list the selected pods as endpoints with node and targetRef, and move a not-ready pod to notReadyAddresses', () => {
    const dest = podOf('pod-dest');
    const ref = { kind: 'Pod', name: 'pod-dest', namespace: 'default', uid: dest.uid };
    const ep = buildEndpoints(ctx, svcOf('svc-clusterip')) as Json;
    expect(ep.subsets).toEqual([
      {
        addresses: [{ ip: dest.ip, nodeName: 'k8s-node1', targetRef: ref }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ]);
    const slice = buildEndpointSlices(ctx, svcOf('svc-clusterip'))[0] as Json;
    expect(slice.metadata.labels['kubernetes.io/service-name']).toBe('svc-clusterip');
    expect(slice.metadata.name).toMatch(/^svc-clusterip-[a-z0-9]{5}$/);
    expect(slice.endpoints).toEqual([
      {
        addresses: [dest.ip],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: 'k8s-node1',
        targetRef: ref,
      },
    ]);

    const notReady = { ...ctx, overrides: { pods: { 'default/pod-dest': { ready: false } } } };
    expect((buildEndpoints(notReady, svcOf('svc-clusterip')) as Json).subsets[0].notReadyAddresses[0].ip).toBe(dest.ip);
    expect((buildEndpointSlices(notReady, svcOf('svc-clusterip'))[0] as Json).endpoints[0].conditions.ready).toBe(
      false,
    );
  });
});

describe('lab IPPool and Namespace objects', () => {
  it('serve the pool as crd.projectcalico.org/v1 with its Calico spec', () => {
    expect(buildIpPool(ctx)).toMatchObject({
      apiVersion: 'crd.projectcalico.org/v1',
      kind: 'IPPool',
      metadata: { name: 'default-ipv4-ippool' },
      spec: {
        cidr: '10.244.0.0/16',
        blockSize: 26,
        vxlanMode: 'Always',
        ipipMode: 'Never',
        natOutgoing: true,
        nodeSelector: 'all()',
      },
    });
  });

  it("include a cluster's standard namespaces", () => {
    expect(buildNamespaces(ctx).map((n) => n.metadata.name)).toEqual([
      'default',
      'kube-node-lease',
      'kube-public',
      'kube-system',
    ]);
  });
});
