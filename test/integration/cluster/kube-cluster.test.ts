/**
 * KubeCluster (client-node 2.x) against the lab API server over real HTTPS: every ClusterReader method, errors
 * translated at the edge (not found, bad token, unreachable server), and IPPools absent when Calico is not served.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DEFAULT_TOPOLOGY_PATH, loadTopology } from '../../../src/lab/topology.ts';
import { planLab, type LabPlan } from '../../../src/lab/plan.ts';
import { startLabApiServer, type LabApiServer } from '../../../src/lab/api-server/server.ts';
import { writeKubeconfig } from '../../../src/lab/api-server/kubeconfig.ts';
import { KubeCluster } from '../../../src/cluster/kube-cluster.ts';
import { loadKubeConfig } from '../../../src/cluster/kube-config.ts';
import { K8snetError } from '../../../src/errors.ts';

let dir: string;
let plan: LabPlan;
let server: LabApiServer;
let cluster: KubeCluster;
const pod = (name: string) => plan.pods.find((p) => p.name === name)!;

async function rejection(promise: Promise<unknown>): Promise<K8snetError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(K8snetError);
    return err as K8snetError;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k8snet-kc-'));
  plan = planLab(await loadTopology(DEFAULT_TOPOLOGY_PATH), { lab: 'itkc', nodeSubnet: '10.254.8.0/24' });
  server = await startLabApiServer({ stateDir: dir, plan });
  cluster = KubeCluster.fromConfig({ path: server.kubeconfigPath });
}, 30_000);

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('KubeCluster on the lab API server', () => {
  it('reads a pod with its IPs, node and containerd ids', async () => {
    const planned = pod('pod-pause');
    const info = await cluster.getPod('default', 'pod-pause');
    expect(info).toMatchObject({
      name: 'pod-pause',
      namespace: 'default',
      uid: planned.uid,
      nodeName: 'k8s-node1',
      podIP: planned.ip,
      hostIP: plan.nodes[0]!.ip,
      phase: 'Running',
      ready: true,
    });
    expect(info.containers.map((c) => [c.name, c.containerID, c.ports.map((p) => p.containerPort)])).toEqual(
      planned.containers.map((c) => [c.name, `containerd://${c.id}`, c.ports]),
    );
  });

  it('lists pods by namespace, label and field selector', async () => {
    // kube-system holds what a kubeadm cluster with Calico has (host-network calico-node, kube-proxy, the controller manager).
    const workloads = (pods: { name: string; namespace: string }[]) =>
      pods
        .filter((p) => p.namespace !== 'kube-system')
        .map((p) => p.name)
        .sort();
    expect(workloads(await cluster.listPods())).toEqual(['pod-dest', 'pod-pause', 'pod-src']);
    expect((await cluster.listPods({ namespace: 'kube-system' })).every((p) => p.hostNetwork)).toBe(true);
    expect((await cluster.listPods({ namespace: 'default', labelSelector: 'type=dest' })).map((p) => p.name)).toEqual([
      'pod-dest',
    ]);
    expect(workloads(await cluster.listPods({ fieldSelector: 'spec.nodeName=k8s-node2' }))).toEqual(['pod-src']);
  });

  it("reads nodes with InternalIP, block and Calico's VXLAN tunnel address", async () => {
    const nodes = await cluster.listNodes();
    expect(nodes.map((n) => [n.name, n.internalIP, n.podCIDRs, n.vxlanTunnelIP, n.ready])).toEqual(
      plan.nodes.map((n) => [n.name, n.ip, [n.block], n.tunnelIP, true]),
    );
    expect((await cluster.getNode('k8s-node2')).internalIP).toBe(plan.nodes[1]!.ip);
  });

  it('reads services and their endpoints from EndpointSlices', async () => {
    const svc = await cluster.getService('default', 'svc-nodeport');
    expect(svc).toMatchObject({
      type: 'NodePort',
      clusterIP: plan.services[1]!.clusterIP,
      ports: [{ name: 'http', port: 8080, targetPort: 8080, nodePort: 31080, protocol: 'TCP' }],
    });
    expect((await cluster.listServices('default')).map((s) => s.name)).toEqual(['svc-clusterip', 'svc-nodeport']);
    expect(await cluster.listServices('nowhere')).toEqual([]);
    expect(await cluster.listEndpoints('default', 'svc-clusterip')).toEqual([
      {
        ip: pod('pod-dest').ip,
        ready: true,
        nodeName: 'k8s-node1',
        pod: { name: 'pod-dest', namespace: 'default' },
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ]);
    expect(await cluster.listEndpoints('default', 'no-such-service')).toEqual([]);
  });

  it('sees a pod marked not ready in the lab as a not-ready endpoint', async () => {
    await writeFile(join(dir, 'overrides.json'), JSON.stringify({ pods: { 'default/pod-dest': { ready: false } } }));
    try {
      expect((await cluster.getPod('default', 'pod-dest')).ready).toBe(false);
      expect((await cluster.listEndpoints('default', 'svc-nodeport')).map((e) => e.ready)).toEqual([false]);
    } finally {
      await rm(join(dir, 'overrides.json'));
    }
  });

  it('reads the Calico IPPool from projectcalico.org/v3 where it is served beside crd.projectcalico.org/v1', async () => {
    expect(await cluster.listIpPools()).toEqual([
      {
        name: 'default-ipv4-ippool',
        cidr: '10.244.0.0/16',
        blockSize: 26,
        ipipMode: 'Never',
        vxlanMode: 'Always',
        natOutgoing: true,
        disabled: false,
        apiVersion: 'projectcalico.org/v3',
      },
    ]);
  });

  it('reports a missing pod, node or service as not_found with a user-safe message', async () => {
    expect(await rejection(cluster.getPod('default', 'pod-x'))).toMatchObject({
      code: 'not_found',
      message: 'pod "default/pod-x" not found',
    });
    expect(await rejection(cluster.getNode('k8s-node9'))).toMatchObject({
      code: 'not_found',
      message: 'node "k8s-node9" not found',
    });
    expect(await rejection(cluster.getService('default', 'svc-x'))).toMatchObject({
      code: 'not_found',
      message: 'service "default/svc-x" not found',
    });
  });

  it('reports a wrong token as unauthorized without echoing it', async () => {
    const badPath = join(dir, 'bad-kubeconfig');
    await writeKubeconfig(badPath, {
      lab: 'itkc',
      url: server.url,
      caCertPem: await readFile(server.caCertPath, 'utf8'),
      token: 'not-the-token',
    });
    const err = await rejection(KubeCluster.fromConfig({ path: badPath }).listNodes());
    expect(err).toMatchObject({ code: 'unauthorized', retryable: false });
    expect(err.message).not.toContain('not-the-token');
  });

  it('reports an unreachable API server as a retryable cluster_api error', async () => {
    const closedPath = join(dir, 'closed-kubeconfig');
    // A loopback port we just held and released: nothing listens there, so the connect is refused at once.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const freePort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await writeKubeconfig(closedPath, {
      lab: 'itkc',
      url: `https://127.0.0.1:${freePort}`,
      caCertPem: await readFile(server.caCertPath, 'utf8'),
      token: 't',
    });
    expect(await rejection(KubeCluster.fromConfig({ path: closedPath }).listNodes())).toMatchObject({
      code: 'cluster_api',
      retryable: true,
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('reports a plain-HTTP server without skip-TLS-verify as a setup problem, not a retry', async () => {
    const path = join(dir, 'http-kubeconfig');
    await writeFile(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'http://127.0.0.1:8080' } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    expect(await rejection(KubeCluster.fromConfig({ path }).listNodes())).toMatchObject({
      code: 'cluster_api',
      retryable: false,
      message: expect.stringContaining('HTTP protocol is not allowed'),
    });
  });

  it('gives up on a server that never answers after the request deadline', async () => {
    const silent: Server = createServer(() => undefined); // accepts, never responds
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const kc = loadKubeConfig({
        path: await plainKubeconfig(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`),
      });
      const err = await rejection(new KubeCluster(kc, { requestTimeoutMs: 300 }).listNodes());
      expect(err).toMatchObject({ code: 'timeout', retryable: true });
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('lists no IPPools where neither Calico API is served', async () => {
    const seen: string[] = [];
    const bare: Server = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: '404 page not found',
          reason: 'NotFound',
          code: 404,
        }),
      );
    });
    await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
    try {
      const kc = loadKubeConfig({
        path: await plainKubeconfig(`http://127.0.0.1:${(bare.address() as AddressInfo).port}`),
      });
      expect(await new KubeCluster(kc).listIpPools()).toEqual([]);
      expect(await new KubeCluster(kc).listCalicoNodes()).toBeNull();
      // No kube-proxy ConfigMap (another installer, or Calico's eBPF dataplane in its place): nothing to compare.
      expect(await new KubeCluster(kc).readKubeProxyConfig()).toBeNull();
      expect(seen).toEqual([
        '/apis/projectcalico.org/v3/ippools',
        '/apis/crd.projectcalico.org/v1/ippools',
        '/apis/projectcalico.org/v3/nodes',
        '/api/v1/namespaces/kube-system/configmaps/kube-proxy',
      ]);
    } finally {
      bare.close();
    }
  });

  it("reads kube-proxy's configured mode from its kube-system ConfigMap, as kubeadm writes it", async () => {
    expect(await cluster.readKubeProxyConfig()).toEqual({
      mode: 'iptables',
      configured: 'iptables',
      evidence: 'ConfigMap kube-system/kube-proxy config.conf: mode: iptables',
    });
  });

  it("reads Calico Nodes as Calico's API server serves them, with the address BGP uses", async () => {
    const prefix = plan.nodeSubnet.split('/')[1];
    expect(await cluster.listCalicoNodes()).toEqual(
      plan.nodes.map((n) => ({ name: n.name, bgpIPv4Address: `${n.ip}/${prefix}`, bgpIPv6Address: null })),
    );
  });

  it('falls back to crd.projectcalico.org/v1 IPPools where projectcalico.org/v3 is not served', async () => {
    const v1List = await readFile(new URL('../../unit/cluster/fixtures/ippools-crd-v1.json', import.meta.url), 'utf8');
    const seen: string[] = [];
    const crdsOnly: Server = createServer((req, res) => {
      seen.push(req.url ?? '');
      const v1 = req.url === '/apis/crd.projectcalico.org/v1/ippools';
      res.writeHead(v1 ? 200 : 404, { 'content-type': 'application/json' });
      res.end(v1 ? v1List : JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404 }));
    });
    await new Promise<void>((resolve) => crdsOnly.listen(0, '127.0.0.1', resolve));
    try {
      const kc = loadKubeConfig({
        path: await plainKubeconfig(`http://127.0.0.1:${(crdsOnly.address() as AddressInfo).port}`),
      });
      const pools = await new KubeCluster(kc).listIpPools();
      expect(pools.map((p) => [p.name, p.cidr, p.apiVersion])).toEqual([
        ['default-ipv4-ippool', '172.16.0.0/16', 'crd.projectcalico.org/v1'],
        ['legacy-pool', '10.48.0.0/16', 'crd.projectcalico.org/v1'],
      ]);
      expect(seen).toEqual(['/apis/projectcalico.org/v3/ippools', '/apis/crd.projectcalico.org/v1/ippools']);
    } finally {
      crdsOnly.close();
    }
  });
});

describe('loadKubeConfig', () => {
  it('names a kubeconfig it cannot read, and a context that does not exist', () => {
    expect(() => loadKubeConfig({ path: join(dir, 'missing') })).toThrow(/cannot load kubeconfig .*missing/);
    expect(() => loadKubeConfig({ path: server.kubeconfigPath, context: 'prod' })).toThrow(
      'kubeconfig has no context "prod"',
    );
    expect(loadKubeConfig({ path: server.kubeconfigPath, context: 'k8snet-itkc' }).getCurrentCluster()?.server).toBe(
      server.url,
    );
  });
});

/** A kubeconfig for a plain-HTTP stand-in server. */
async function plainKubeconfig(url: string): Promise<string> {
  const path = join(dir, `plain-${url.split(':').pop()}`);
  await writeFile(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: url, 'insecure-skip-tls-verify': true } }], // client-node refuses plain HTTP otherwise
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  return path;
}
