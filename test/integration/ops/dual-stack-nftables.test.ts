/**
 * The dual-stack lab with kube-proxy in nftables mode: each node holds `table ip kube-proxy` and `table ip6
 * kube-proxy`, written with real `nft -f`. `nodeport` on an IPv6 Service's NodePort and `svc -6` on a dual-stack
 * Service walk the ip6 table (kube-proxy's nftables proxier keeps one table per family) and test each node at its
 * IPv6 address; `report` judges the IPv6 NodePorts where they are.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runNodePort } from '../../../src/ops/service-ops.ts';
import { svcWeb46 } from '../../support/dual-stack.ts';
import { runHealthReport } from '../../../src/ops/health-report.ts';
import { TOPOLOGIES } from '../../support/lab.ts';
import { labForFile } from '../../support/lab-deps.ts';

const dir = mkdtempSync(join(tmpdir(), 'k8snet-dual-nft-'));
const topology = join(dir, 'dual-stack-nftables.yaml');
writeFileSync(topology, `kubeProxy: nftables\n${readFileSync(TOPOLOGIES.dualStack, 'utf8')}`);
const lab = labForFile('itdnft', topology);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ctx = () => ({ onStep: () => undefined, signal: AbortSignal.timeout(60_000) });
const pod = (name: string) => lab.state().plan.pods.find((p) => p.name === name)!;
const node = (name: string) => lab.state().plan.nodes.find((n) => n.name === name)!;
const problems = (r: { findings: { severity: string; code: string; message: string }[] }) =>
  r.findings.filter((f) => f.severity !== 'info').map((f) => [f.code, f.message]);

describe('a dual-stack lab in kube-proxy nftables mode', () => {
  it("nodeport on the IPv6 Service's NodePort walks the ip6 kube-proxy table, answering on each node's IPv6 address", async () => {
    const { result: r, report } = await runNodePort(
      lab.deps(),
      { port: 31096, capture: { enabled: true, seconds: 1 } },
      ctx(),
    );
    const target = `[${pod('pod-dest').ipv6}]:80`;
    expect(r.nodes.map((n) => [n.name, n.mode, n.iptables, n.dnatTargets])).toEqual([
      ['k8s-node1', 'nftables', true, [target]],
      ['k8s-node2', 'nftables', true, [target]],
    ]);
    // nodeport-ips of the ip6 table holds the node's IPv6 address, where the NodePort is judged and tested.
    expect(r.nodes.map((n) => [n.ip, n.nodePortAddresses])).toEqual(
      ['k8s-node1', 'k8s-node2'].map((name) => [node(name).ipv6, [node(name).ipv6]]),
    );
    expect(r.nodes[0]!.rules[0]).toBe(
      'add rule ip6 kube-proxy services ip6 daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports',
    );
    expect(report.sections.map((s) => s.title)).toContain('k8s-node1: nft list table ip6 kube-proxy (NodePort 31096)');
    // The evidence spells the IPv6 DNAT as nft does, in brackets.
    expect(r.nodes[0]!.rules.join('\n')).toContain(`meta l4proto tcp dnat to ${target}`);
    expect(problems(r)).toEqual([]);
    expect(r.nodes.map((n) => n.testConntrack?.entries.some((e) => e.includes(pod('pod-dest').ipv6!)))).toEqual([
      true,
      true,
    ]);
  }, 120_000);

  it('svc on the dual-stack Service: the ip table by default, the ip6 table with -6', async () => {
    const [four, six] = [await svcWeb46(lab.deps(), undefined, false), await svcWeb46(lab.deps(), 6, false)];
    expect(four.nodes.map((n) => [n.mode, n.dnatTargets])).toEqual([
      ['nftables', [`${pod('pod-dest').ip}:80`]],
      ['nftables', [`${pod('pod-dest').ip}:80`]],
    ]);
    expect(six.nodes.map((n) => [n.mode, n.dnatTargets])).toEqual([
      ['nftables', [`[${pod('pod-dest').ipv6}]:80`]],
      ['nftables', [`[${pod('pod-dest').ipv6}]:80`]],
    ]);
    expect([problems(four), problems(six)]).toEqual([[], []]);
  }, 120_000);

  it('report finds nothing wrong: the IPv6 NodePorts are in the ip6 table', async () => {
    const { result } = await runHealthReport(lab.deps(), ctx());
    expect(problems(result)).toEqual([]);
    expect(result.nodes.map((n) => n.kubeProxyMode)).toEqual(['nftables', 'nftables']);
  }, 120_000);
});
