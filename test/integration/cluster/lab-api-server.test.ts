/**
 * The lab API server against the REAL kubectl (/usr/bin/kubectl): discovery, wide tables with the right IPs, YAML,
 * jsonpath, selectors, and 401 without a token. Also the server as its own process (main.ts), as `lab up` runs it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_TOPOLOGY_PATH, loadTopology } from '../../../src/lab/topology.ts';
import { planLab, type LabPlan } from '../../../src/lab/plan.ts';
import { startLabApiServer, type LabApiServer } from '../../../src/lab/api-server/server.ts';

const KUBECTL = '/usr/bin/kubectl';
const MAIN = fileURLToPath(new URL('../../../src/lab/api-server/main.ts', import.meta.url));
let dir: string;
let plan: LabPlan;
let server: LabApiServer;

function kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      KUBECTL,
      ['--kubeconfig', server.kubeconfigPath, '--cache-dir', join(dir, 'kube-cache'), ...args],
      { timeout: 30_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

/** GET over HTTPS trusting only the lab CA. */
async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const ca = await readFile(server.caCertPath);
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const pod = (name: string) => plan.pods.find((p) => p.name === name)!;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k8snet-api-'));
  plan = planLab(await loadTopology(DEFAULT_TOPOLOGY_PATH), { lab: 'itapi', nodeSubnet: '10.254.9.0/24' });
  server = await startLabApiServer({ stateDir: dir, plan });
}, 30_000);

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the lab API server under the real kubectl', () => {
  it('lists nodes, pods and services in all namespaces with the planned IPs (-o wide)', async () => {
    const { code, stdout, stderr } = await kubectl('get', 'nodes,pods,svc', '-A', '-o', 'wide');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    for (const n of plan.nodes) {
      expect(lines.find((l) => l.startsWith(`node/${n.name} `))).toMatch(
        new RegExp(`\\sReady\\s.*\\s${n.ip.replaceAll('.', '\\.')}\\s+<none>\\s.*containerd://`),
      );
    }
    for (const p of plan.pods) {
      expect(lines.find((l) => l.includes(`pod/${p.name} `))).toMatch(
        new RegExp(
          `^default\\s+pod/${p.name}\\s+\\d/\\d\\s+Running\\s+0\\s+\\S+\\s+${p.ip.replaceAll('.', '\\.')}\\s+${p.node}\\s`,
        ),
      );
    }
    const nodePort = plan.services.find((s) => s.name === 'svc-nodeport')!;
    expect(lines.find((l) => l.includes('service/svc-nodeport'))).toMatch(
      new RegExp(
        `NodePort\\s+${nodePort.clusterIP.replaceAll('.', '\\.')}\\s+<none>\\s+8080:31080/TCP\\s+\\S+\\s+type=dest`,
      ),
    );
  });

  it('prints the Calico IPPool as YAML', async () => {
    const { code, stdout } = await kubectl('get', 'ippools.crd.projectcalico.org', '-o', 'yaml');
    expect(code).toBe(0);
    const doc = parseYaml(stdout) as { items: { kind: string; spec: Record<string, unknown> }[] };
    expect(doc.items).toHaveLength(1);
    expect(doc.items[0]).toMatchObject({
      kind: 'IPPool',
      spec: { cidr: '10.244.0.0/16', blockSize: 26, vxlanMode: 'Always', ipipMode: 'Never', natOutgoing: true },
    });
    // The same pool as Calico's API server (or 3.32's native CRDs) serves it.
    const v3 = await kubectl('get', 'ippools.projectcalico.org', '-o', 'yaml');
    expect(v3.code).toBe(0);
    expect((parseYaml(v3.stdout) as { items: { apiVersion: string; spec: unknown }[] }).items).toEqual([
      { ...doc.items[0], apiVersion: 'projectcalico.org/v3' },
    ]);
    const table = await kubectl('get', 'ippools');
    expect(table.stdout).toMatch(/^NAME\s+CREATED AT\ndefault-ipv4-ippool\s+\d{4}-\d\d-\d\dT/);
  });

  it('answers jsonpath, label and field selectors like a cluster', async () => {
    expect((await kubectl('get', 'pod', 'pod-src', '-o', 'jsonpath={.status.podIP}')).stdout).toBe(pod('pod-src').ip);
    expect((await kubectl('get', 'pods', '-l', 'type=dest', '-o', 'name')).stdout).toBe('pod/pod-dest\n');
    expect((await kubectl('get', 'pods', '--field-selector', 'spec.nodeName=k8s-node1', '-o', 'name')).stdout).toBe(
      'pod/pod-dest\npod/pod-pause\n',
    );
    const containerIds = (
      await kubectl('get', 'pod', 'pod-pause', '-o', 'jsonpath={.status.containerStatuses[*].containerID}')
    ).stdout;
    expect(containerIds.split(' ')).toEqual(pod('pod-pause').containers.map((c) => `containerd://${c.id}`));
  });

  it('serves discovery for kubectl api-resources and endpoint slices by service label', async () => {
    const { code, stdout } = await kubectl('api-resources');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ippools\s+crd\.projectcalico\.org\/v1\s+false\s+IPPool$/m);
    expect(stdout).toMatch(/^endpointslices\s+discovery\.k8s\.io\/v1\s+true\s+EndpointSlice$/m);
    const slices = await kubectl(
      'get',
      'endpointslices',
      '-l',
      'kubernetes.io/service-name=svc-clusterip',
      '-o',
      'jsonpath={.items[*].endpoints[*].addresses[*]}',
    );
    expect(slices.stdout).toBe(pod('pod-dest').ip);
  });

  it('returns NotFound and read-only errors as kubectl prints them', async () => {
    const missing = await kubectl('get', 'pod', 'nope');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('Error from server (NotFound): pods "nope" not found');
    const del = await kubectl('delete', 'pod', 'pod-src');
    expect(del.stderr).toContain('MethodNotAllowed');
  });

  it('answers without a token or with a wrong one by a 401 Status, over TLS verified against the lab CA', async () => {
    const anonymous = await get(`${server.url}/api/v1/pods`);
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.body)).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Unauthorized',
      reason: 'Unauthorized',
      code: 401,
    });
    expect((await get(`${server.url}/api/v1/pods`, { authorization: 'Bearer wrong' })).status).toBe(401);
    const token = (await readFile(server.tokenPath, 'utf8')).trim();
    expect((await get(`${server.url}/api/v1/pods`, { authorization: `Bearer ${token}` })).status).toBe(200);
    expect(((await stat(server.tokenPath)).mode & 0o777).toString(8)).toBe('600');
    expect(((await stat(server.kubeconfigPath)).mode & 0o777).toString(8)).toBe('600');
  });

  it('follows overrides.json to show a pod not ready', async () => {
    await writeFile(join(dir, 'overrides.json'), JSON.stringify({ pods: { 'default/pod-dest': { ready: false } } }));
    try {
      const { stdout } = await kubectl('get', 'pod', 'pod-dest', '--no-headers');
      expect(stdout).toMatch(/^pod-dest\s+0\/1\s+Running/);
    } finally {
      await rm(join(dir, 'overrides.json'));
    }
  });
});

describe('the lab API server process', () => {
  it('starts from plan.json, writes api-server.json and a kubeconfig, and exits cleanly on SIGTERM', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'k8snet-api-main-'));
    try {
      await writeFile(join(stateDir, 'plan.json'), JSON.stringify(plan));
      const child = spawn(process.execPath, [MAIN, '--state-dir', stateDir], { stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const infoPath = join(stateDir, 'api-server.json');
      for (let i = 0; i < 100 && !existsSync(infoPath); i += 1) await new Promise((r) => setTimeout(r, 100));
      const info = JSON.parse(await readFile(infoPath, 'utf8')) as { pid: number; port: number; url: string };
      expect(info).toEqual({ pid: child.pid, port: expect.any(Number), url: `https://127.0.0.1:${info.port}` });
      const kubeconfig = parseYaml(await readFile(join(stateDir, 'kubeconfig'), 'utf8')) as Record<string, unknown>;
      expect(kubeconfig).toMatchObject({
        'current-context': 'k8snet-itapi',
        clusters: [{ name: 'k8snet-itapi', cluster: { server: info.url } }],
      });
      const nodes = await new Promise<string>((resolve) => {
        execFile(
          KUBECTL,
          [
            '--kubeconfig',
            join(stateDir, 'kubeconfig'),
            '--cache-dir',
            join(stateDir, 'cache'),
            'get',
            'nodes',
            '-o',
            'name',
          ],
          (_err, stdout) => resolve(stdout),
        );
      });
      expect(nodes).toBe('node/k8s-node1\nnode/k8s-node2\n');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(existsSync(infoPath)).toBe(false);
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  }, 30_000);
});
