import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { V1EndpointSlice, V1Endpoints, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import {
  endpointsFromSlices,
  endpointsFromV1,
  toIpPoolInfo,
  toCalicoNodeList,
  toIpPoolList,
  toNodeInfo,
  toPodInfo,
  toServiceInfo,
} from '../../../src/cluster/kube-objects.ts';

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
}
/** As the API sends it: the mappers read only strings, numbers and booleans, which the client passes through as parsed. */
function load<T>(name: string): T {
  return fixture(name) as T;
}

describe('toNodeInfo', () => {
  it("reads InternalIP, podCIDRs, readiness and Calico's IP-in-IP tunnel address from a node", () => {
    expect(toNodeInfo(load<V1Node>('node-calico-ipip.json'))).toEqual({
      name: 'k8s-node1',
      internalIP: '192.168.56.11',
      addresses: [
        { type: 'InternalIP', address: '192.168.56.11' },
        { type: 'Hostname', address: 'k8s-node1' },
      ],
      podCIDRs: ['10.244.1.0/24'],
      vxlanTunnelIP: null,
      ipipTunnelIP: '172.16.169.128',
      calicoIPv4Address: '192.168.56.11',
      calicoIPv6Address: null,
      ready: true,
      labels: expect.objectContaining({ 'kubernetes.io/hostname': 'k8s-node1' }),
    });
  });

  it('copes with a bare node: no addresses, no conditions, podCIDR only', () => {
    expect(toNodeInfo({ metadata: { name: 'n' }, spec: { podCIDR: '10.0.0.0/24' } })).toMatchObject({
      internalIP: null,
      podCIDRs: ['10.0.0.0/24'],
      ready: false,
      addresses: [],
    });
  });
});

describe('toPodInfo', () => {
  it('joins containers with their statuses: containerd id, readiness, restarts, ports', () => {
    const pod = toPodInfo(load<V1Pod>('pod-running.json'));
    expect(pod).toMatchObject({
      name: 'pod-dest',
      namespace: 'default',
      uid: '7d0c2d0e-5a53-4f38-8d71-6a3b8d6c2f19',
      nodeName: 'k8s-node1',
      podIP: '172.16.169.130',
      podIPs: ['172.16.169.130'],
      hostIP: '192.168.56.11',
      phase: 'Running',
      ready: true,
      hostNetwork: false,
      labels: { type: 'dest' },
    });
    expect(pod.containers).toEqual([
      {
        name: 'web',
        containerID: 'containerd://9a4f3c2d1e0b8a7f6e5d4c3b2a1908f7e6d5c4b3a2918070f6e5d4c3b2a19080',
        image: 'nginx:1.25',
        ready: true,
        restartCount: 2,
        ports: [
          { containerPort: 80, protocol: 'TCP', name: 'http' },
          { containerPort: 8080, protocol: 'TCP' },
        ],
      },
      { name: 'sidecar', containerID: null, image: 'busybox:1.36', ready: false, restartCount: 0, ports: [] },
    ]);
  });

  it('reports a pending pod without IPs as such', () => {
    expect(
      toPodInfo({
        metadata: { name: 'p', namespace: 'x' },
        spec: { containers: [{ name: 'c' }] },
        status: { phase: 'Pending' },
      }),
    ).toMatchObject({
      nodeName: null,
      podIP: null,
      podIPs: [],
      hostIP: null,
      phase: 'Pending',
      ready: false,
    });
  });
});

describe('toServiceInfo', () => {
  it('keeps node ports and named target ports', () => {
    expect(toServiceInfo(load<V1Service>('service-nodeport.json'))).toEqual({
      name: 'svc-nodeport',
      namespace: 'default',
      type: 'NodePort',
      clusterIP: '10.96.140.23',
      clusterIPs: ['10.96.140.23'],
      selector: { type: 'dest' },
      ports: [
        { name: null, protocol: 'TCP', port: 8080, targetPort: 8080, nodePort: 31080 },
        { name: 'metrics', protocol: 'TCP', port: 9090, targetPort: 'metrics', nodePort: 31090 },
      ],
      externalTrafficPolicy: 'Cluster',
    });
  });

  it('gives a headless service no cluster IP', () => {
    expect(toServiceInfo(load<V1Service>('service-headless.json'))).toMatchObject({ clusterIP: null, clusterIPs: [] });
  });
});

describe('endpoints', () => {
  it('flattens EndpointSlices, reading a missing ready condition as ready and an address in two slices once', () => {
    const slices = fixture('endpointslices-svc-nodeport.json') as V1EndpointSlice[];
    const port = [{ name: null, port: 8080, protocol: 'TCP' }];
    expect(endpointsFromSlices(slices)).toEqual([
      {
        ip: '172.16.169.130',
        ready: true,
        nodeName: 'k8s-node1',
        pod: { name: 'pod-dest', namespace: 'default' },
        ports: port,
      },
      {
        ip: '172.16.36.66',
        ready: false,
        nodeName: 'k8s-node2',
        pod: { name: 'pod-dest-2', namespace: 'default' },
        ports: port,
      },
      { ip: '192.168.56.50', ready: true, nodeName: null, pod: null, ports: port },
    ]);
  });

  it('reads v1 Endpoints, notReadyAddresses as not ready', () => {
    const eps = endpointsFromV1(load<V1Endpoints>('endpoints-svc-nodeport.json'));
    expect(eps.map((e) => [e.ip, e.ready, e.nodeName, e.pod?.name])).toEqual([
      ['172.16.169.130', true, 'k8s-node1', 'pod-dest'],
      ['172.16.36.66', false, 'k8s-node2', 'pod-dest-2'],
    ]);
    expect(eps[0]!.ports).toEqual([{ name: null, port: 8080, protocol: 'TCP' }]);
  });
});

describe('IPPools', () => {
  it('reads current and legacy (ipip.enabled) Calico pools and skips one without a CIDR', () => {
    expect(toIpPoolList(fixture('ippools-crd-v1.json'), 'crd.projectcalico.org/v1')).toEqual([
      {
        name: 'default-ipv4-ippool',
        cidr: '172.16.0.0/16',
        blockSize: 26,
        ipipMode: 'Always',
        vxlanMode: 'Never',
        natOutgoing: true,
        disabled: false,
        apiVersion: 'crd.projectcalico.org/v1',
      },
      {
        name: 'legacy-pool',
        cidr: '10.48.0.0/16',
        blockSize: 26,
        ipipMode: 'CrossSubnet',
        vxlanMode: 'Never',
        natOutgoing: false,
        disabled: true,
        apiVersion: 'crd.projectcalico.org/v1',
      },
    ]);
  });

  it('defaults an IPv6 pool to /122 blocks and tolerates junk', () => {
    expect(
      toIpPoolInfo({ metadata: { name: 'v6' }, spec: { cidr: 'fd00:10:244::/64' } }, 'projectcalico.org/v3')?.blockSize,
    ).toBe(122);
    expect(toIpPoolInfo('nonsense', 'projectcalico.org/v3')).toBeNull();
    expect(toIpPoolList({ items: 'x' }, 'projectcalico.org/v3')).toEqual([]);
  });
});

describe('Calico Nodes', () => {
  it('reads the address BGP uses from a projectcalico.org/v3 Node, and none from one without a BGP spec', () => {
    const list = parseYaml(
      readFileSync(new URL('./fixtures/calico-nodes-v3-calico-3003.yaml', import.meta.url), 'utf8'),
    ) as {
      items: { spec: Record<string, unknown> }[];
    };
    expect(toCalicoNodeList(list)).toEqual([
      { name: 'master1', bgpIPv4Address: '172.16.0.16/32', bgpIPv6Address: null },
    ]);
    // Dual-stack BGP: spec.bgp.ipv6Address beside it (BIRD6 peers from it).
    (list.items[0]!.spec.bgp as Record<string, unknown>).ipv6Address = 'fd00:16::16/64';
    expect(toCalicoNodeList(list)[0]!.bgpIPv6Address).toBe('fd00:16::16/64');
    // A policy-only node (no spec.bgp), as calicoctl prints one.
    delete list.items[0]!.spec.bgp;
    expect(toCalicoNodeList(list)).toEqual([{ name: 'master1', bgpIPv4Address: null, bgpIPv6Address: null }]);
    expect(toCalicoNodeList({})).toEqual([]);
  });
});
