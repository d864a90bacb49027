/**
 * Acceptance of kube-proxy's nftables mode: the same topology built twice, once with kube-proxy's iptables rules and
 * once with its nftables table (real `nft -f` in each node namespace), gives the same endpoints, DNAT targets and
 * findings through `nodeport` and `svc` — modulo the mode and the rule text. Then one node's table is flushed, and
 * one iptables node gets a rule in the other iptables backend.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabState } from '../../../src/lab/state.ts';
import { runNodePort, runService, type ServiceOpResult } from '../../../src/ops/service-ops.ts';
import { runTrace } from '../../../src/ops/trace.ts';
import type { OperationDeps } from '../../../src/ops/deps.ts';
import { flattenFindings } from '../../../src/model/report.ts';
import { TOPOLOGIES, inNetns, run, startLab, stopLab } from '../../support/lab.ts';
import { labDeps } from '../../support/lab-deps.ts';

const IPT = 'nfipt';
const NFT = 'nfnft';
let dir: string;
const labs: Record<string, { lab: LabState; deps: OperationDeps & { close(): Promise<void> } }> = {};
const ctx = () => ({ onStep: () => undefined, signal: AbortSignal.timeout(60_000) });
const off = { enabled: false, seconds: 1 };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k8snet-nf-'));
  const iptablesTopology = join(dir, 'iptables.yaml');
  await writeFile(
    iptablesTopology,
    (await readFile(TOPOLOGIES.nftables, 'utf8')).replace(/^kubeProxy: nftables$/m, 'kubeProxy: iptables'),
  );
  for (const [name, topology] of [
    [IPT, iptablesTopology],
    [NFT, TOPOLOGIES.nftables],
  ] as const) {
    const lab = await startLab(name, topology);
    labs[name] = { lab, deps: await labDeps(name) };
  }
}, 300_000);
afterAll(async () => {
  for (const name of [IPT, NFT]) {
    await labs[name]?.deps.close();
    await stopLab(name);
  }
  if (dir) await rm(dir, { recursive: true, force: true });
}, 120_000);

/** The result with what may differ between the modes taken out: mode (the ConfigMap's too), rule text, node IPs, finding evidence. */
function comparable(r: ServiceOpResult, lab: LabState) {
  const text = JSON.stringify({
    ...r,
    kubeProxyConfig: r.kubeProxyConfig === null ? null : 'read',
    nodes: r.nodes.map((n) => ({
      name: n.name,
      listening: n.listening,
      entry: n.iptables,
      dnatTargets: [...n.dnatTargets].sort(),
      error: n.error,
    })),
    findings: r.findings.map((f) => ({ severity: f.severity, code: f.code, message: f.message })),
  });
  return JSON.parse(lab.plan.nodes.reduce((t, n) => t.replaceAll(n.ip, `<${n.name}>`), text)) as unknown;
}

const nodeport = (lab: string, port: number) =>
  runNodePort(labs[lab]!.deps, { port, capture: off }, ctx()).then((o) => o.result);
const svc = (lab: string, name: string) =>
  runService(labs[lab]!.deps, { namespace: 'default', name, capture: off }, ctx()).then((o) => o.result);

describe('kube-proxy nftables mode on the lab, against the iptables lab', () => {
  it('nodeport and svc give the same endpoints, DNAT targets and findings in both modes, a Service without endpoints included', async () => {
    for (const check of [
      (l: string) => nodeport(l, 31180),
      (l: string) => svc(l, 'web'),
      (l: string) => nodeport(l, 31181),
      (l: string) => svc(l, 'empty'),
    ]) {
      const [a, b] = await Promise.all([check(IPT), check(NFT)]);
      expect(a.nodes.map((n) => n.mode)).toEqual(['iptables', 'iptables']);
      expect(b.nodes.map((n) => n.mode)).toEqual(['nftables', 'nftables']);
      // Each lab's ConfigMap asks for the mode its nodes run: no "kube-proxy not restarted" warning in either.
      expect([a.kubeProxyConfig?.mode, b.kubeProxyConfig?.mode]).toEqual(['iptables', 'nftables']);
      expect(comparable(b, labs[NFT]!.lab)).toEqual(comparable(a, labs[IPT]!.lab));
    }
    const web = await svc(NFT, 'web');
    expect(web.nodes.map((n) => [...n.dnatTargets].sort())).toEqual([
      ['10.245.0.1:8080', '10.245.0.65:8080'],
      ['10.245.0.1:8080', '10.245.0.65:8080'],
    ]);
    expect(web.findings.map((f) => f.code)).toEqual(['rules_present']);
    const empty = await nodeport(NFT, 31181);
    // Each node's REJECT follows from the one cause, "no ready endpoints", and is shown under it.
    expect(empty.findings.map((f) => f.code)).toEqual(['no_endpoints']);
    const rejects = flattenFindings(empty.findings).filter((f) => f.code === 'rejected_no_endpoints');
    expect(rejects.map((f) => f.message)).toEqual([
      'nf-node1 rejects NodePort 31181: kube-proxy installed a REJECT because the Service has no endpoints',
      'nf-node2 rejects NodePort 31181: kube-proxy installed a REJECT because the Service has no endpoints',
    ]);
    expect(rejects[0]!.evidence).toContain('goto reject-chain');
  }, 120_000);

  it("NodePorts answer only on each node's own address (nodeport-ips), and the rule text is nft's", async () => {
    const r = await nodeport(NFT, 31180);
    expect(r.nodes.map((n) => n.nodePortAddresses)).toEqual(labs[NFT]!.lab.plan.nodes.map((n) => [n.ip]));
    expect(r.nodes[0]!.rules[0]).toBe(
      'add rule ip kube-proxy services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports',
    );
    expect((await nodeport(IPT, 31180)).nodes.map((n) => n.nodePortAddresses)).toEqual([null, null]);
  }, 60_000);

  it("trace says which mode each node's kube-proxy runs, and Calico's dataplane beside it", async () => {
    for (const [lab, mode] of [
      [NFT, 'nftables'],
      [IPT, 'iptables'],
    ] as const) {
      const r = (
        await runTrace(labs[lab]!.deps, { namespace: 'default', src: 'client', dst: 'web-b', capture: off }, ctx())
      ).result;
      expect([r.src.kubeProxyMode, r.dst.kubeProxyMode, r.src.calicoDataplane]).toEqual([mode, mode, 'iptables']);
    }
  }, 60_000);

  it('a node whose kube-proxy table was flushed is reported by its name, and only that node', async () => {
    const node2 = labs[NFT]!.lab.plan.nodes.find((n) => n.name === 'nf-node2')!;
    expect((await run(inNetns(node2.netns, ['nft', 'flush', 'table', 'ip', 'kube-proxy']))).code).toBe(0);
    for (const r of [await nodeport(NFT, 31180), await svc(NFT, 'web')]) {
      const missing = r.findings.filter((f) => f.code.endsWith('_rule_missing'));
      expect(missing.map((f) => f.message.split(' ')[0])).toEqual(['nf-node2']);
      expect(missing[0]!.message).toMatch(/^nf-node2 has no service-(nodeports|ips) dispatch for /);
      expect(r.nodes.find((n) => n.name === 'nf-node1')!.dnatTargets).toHaveLength(2);
      expect(r.nodes.find((n) => n.name === 'nf-node2')!.mode).toBe('nftables');
    }
  }, 60_000);

  it('a node with rules in both iptables backends is a problem, with the counts of each', async () => {
    const node1 = labs[IPT]!.lab.plan.nodes.find((n) => n.name === 'nf-node1')!;
    expect(
      (
        await run(
          inNetns(node1.netns, [
            'iptables-legacy',
            '-t',
            'filter',
            '-A',
            'INPUT',
            '-p',
            'tcp',
            '--dport',
            '9',
            '-j',
            'ACCEPT',
          ]),
        )
      ).code,
    ).toBe(0);
    const nftCount = (await run(inNetns(node1.netns, ['iptables-nft-save']))).stdout
      .split('\n')
      .filter((l) => l.startsWith('-A ')).length;
    const r = await svc(IPT, 'web');
    const split = r.findings.filter((f) => f.code === 'iptables_backends_split');
    expect(split.map((f) => f.message)).toEqual([
      `nf-node1 has iptables rules in both backends: 1 in iptables-legacy and ${nftCount} in iptables-nft; each tool shows only its half, and packets go through both`,
    ]);
    expect(split[0]!.severity).toBe('error');
  }, 60_000);
});
