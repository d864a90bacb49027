/**
 * A lab's kube-system under the real kubectl (pods, ConfigMaps, `cluster-info dump | grep -m 1 cluster-cidr`), and
 * `report` reading Calico's configuration: the section on a correct lab, the MTU mismatch on one told a wrong veth_mtu.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { TOPOLOGIES, inNetns, labClientSettings, run, startLab, stopLab } from '../../support/lab.ts';
import { labDeps } from '../../support/lab-deps.ts';
import { runHealthReport } from '../../../src/ops/health-report.ts';
import type { LabState } from '../../../src/lab/state.ts';

const LAB = 'ccfg';
const WRONG = 'ccmtu';
let dir: string;
let lab: LabState;
const ctx = () => ({ onStep: () => undefined, signal: AbortSignal.timeout(60_000) });
const kubectl = (lab: string, ...args: string[]) =>
  run(
    [
      '/usr/bin/kubectl',
      '--kubeconfig',
      labClientSettings(lab).kubeconfig,
      '--cache-dir',
      join(dir, `cache-${lab}`),
      ...args,
    ],
    60_000,
  );

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k8snet-cc-'));
  const wrong = {
    ...(parseYaml(await readFile(TOPOLOGIES.default, 'utf8')) as Record<string, unknown>),
    clusterConfig: { vethMtu: 1500 },
  };
  const wrongPath = join(dir, 'wrong-mtu.yaml');
  await writeFile(wrongPath, stringify(wrong));
  lab = await startLab(LAB);
  await startLab(WRONG, wrongPath);
}, 240_000);

afterAll(async () => {
  await stopLab(LAB);
  await stopLab(WRONG);
  await rm(dir, { recursive: true, force: true });
}, 120_000);

describe("Calico's configuration on a lab", () => {
  it('kubectl lists kube-system: kube-controller-manager, calico-node and kube-proxy pods, calico-config and kube-proxy ConfigMaps', async () => {
    const { code, stdout, stderr } = await kubectl(LAB, '-n', 'kube-system', 'get', 'pods,cm');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/pod\/kube-controller-manager-k8s-node1\s+1\/1\s+Running/);
    expect(stdout.match(/pod\/calico-node-\S+\s+1\/1\s+Running/g)).toHaveLength(2);
    expect(stdout.match(/pod\/kube-proxy-\S+\s+1\/1\s+Running/g)).toHaveLength(2);
    expect(stdout).toMatch(/configmap\/calico-config\s+4\s/);
    expect(stdout).toMatch(/configmap\/kube-proxy\s+2\s/);
  });

  it('`kubectl cluster-info dump | grep -m 1 cluster-cidr` finds the pool CIDR, as on a kubeadm cluster', async () => {
    const { code, stdout, stderr } = await kubectl(LAB, 'cluster-info', 'dump');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.split('\n').find((l) => l.includes('cluster-cidr'))).toMatch(/"--cluster-cidr=10\.244\.0\.0\/16"/);
  });

  it('report shows the Calico configuration section and no configuration finding on a consistent lab', async () => {
    const deps = await labDeps(LAB);
    try {
      const { result, report } = await runHealthReport(deps, ctx());
      expect(result.calicoConfig).toMatchObject({
        vethMtu: 1450,
        calicoBackend: 'vxlan',
        clusterCIDR: '10.244.0.0/16',
        installation: null,
        felix: null,
        calicoNodeEnv: { IP_AUTODETECTION_METHOD: 'first-found', CALICO_IPV4POOL_CIDR: '10.244.0.0/16' },
      });
      const section = report.sections.find((s) => s.title === 'Calico configuration');
      expect(section).toMatchObject({ kind: 'table' });
      expect(
        result.findings.filter((f) => f.code.startsWith('calico_') || f.code === 'cluster_cidr_excludes_pool'),
      ).toEqual([]);
    } finally {
      await deps.close();
    }
  }, 120_000);

  it("report finds a node missing from another's VXLAN allowlist before anyone traces, and reports none when healthy", async () => {
    const deps = await labDeps(LAB);
    const node = (name: string) => lab.plan.nodes.find((n) => n.name === name)!;
    const onNode1 = (...argv: string[]) => run(inNetns(node('k8s-node1').netns, argv));
    try {
      const healthy = (await runHealthReport(deps, ctx())).result;
      expect(healthy.findings.filter((f) => f.code === 'tunnel_source_not_allowed')).toEqual([]);
      expect((await onNode1('ipset', 'del', 'cali40all-vxlan-net', node('k8s-node2').ip)).code).toBe(0);
      try {
        const { result, report } = await runHealthReport(deps, ctx());
        const found = result.findings.filter((f) => f.code === 'tunnel_source_not_allowed');
        expect(found.map((f) => [f.severity, f.message.split(':')[0]])).toEqual([['error', 'k8s-node1']]);
        expect(found[0]!.message).toContain(`Calico drops VXLAN from k8s-node2 (${node('k8s-node2').ip})`);
        expect(found[0]!.evidence).toContain(`ipset list cali40all-vxlan-net: ${node('k8s-node1').ip}`);
        expect(report.headline).toMatch(/problem/);
      } finally {
        await onNode1('ipset', 'add', 'cali40all-vxlan-net', node('k8s-node2').ip);
      }
    } finally {
      await deps.close();
    }
  }, 120_000);

  it('report names the mismatch on a lab whose calico-config says veth_mtu 1500 while its interfaces have 1450', async () => {
    const deps = await labDeps(WRONG);
    try {
      const { result } = await runHealthReport(deps, ctx());
      const f = result.findings.find((x) => x.code === 'calico_mtu_mismatch');
      expect(f).toMatchObject({ severity: 'warning' });
      expect(f!.message).toContain('MTU 1500');
      expect(f!.evidence).toMatch(/calico-config veth_mtu: 1500; k8s-node\d (vxlan\.calico|cali\w+) mtu 1450/);
    } finally {
      await deps.close();
    }
  }, 120_000);
});
