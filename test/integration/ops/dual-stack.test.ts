/**
 * A dual-stack lab (an IPv4 and an IPv6 pool, VXLAN over each family as Felix programs it: vxlan.calico and
 * vxlan-v6.calico): `trace -6` follows the pods' IPv6 addresses hop by hop, reads the IPv6 routes, ip6tables counters
 * and the pods' IPv6 insides, and names a broken IPv6 path with its evidence; the same pods still trace over IPv4.
 * The lab's Felix programs network policy in both tables, so a policy written with kubectl holds over IPv6 too.
 */
import { describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { labPaths } from '../../../src/lab/state.ts';
import { runTrace, type TraceResult } from '../../../src/ops/trace.ts';
import { runNodePort, runService } from '../../../src/ops/service-ops.ts';
import { runHealthReport } from '../../../src/ops/health-report.ts';
import { svcWeb46 } from '../../support/dual-stack.ts';
import { runRoutes } from '../../../src/ops/routes-op.ts';
import { TOPOLOGIES, inNetns, run } from '../../support/lab.ts';
import { labForFile } from '../../support/lab-deps.ts';

const lab = labForFile('itdual', TOPOLOGIES.dualStack);
const ctx = () => ({ onStep: () => undefined, signal: AbortSignal.timeout(60_000) });
const node = (name: string) => lab.state().plan.nodes.find((n) => n.name === name)!;
const pod = (name: string) => lab.state().plan.pods.find((p) => p.name === name)!;
const onNode = (name: string, argv: string[]) => run(inNetns(node(name).netns, argv));
const inPod = (name: string, argv: string[]) => run(inNetns(pod(name).netnsName, argv));
const trace = async (family?: 4 | 6): Promise<TraceResult> =>
  (
    await runTrace(
      lab.deps(),
      {
        namespace: 'default',
        src: 'pod-src',
        dst: 'pod-dest',
        ...(family ? { family } : {}),
        capture: { enabled: true, seconds: 1 },
      },
      ctx(),
    )
  ).result;
const notInfo = (r: TraceResult) =>
  r.findings.filter((f) => f.severity !== 'info').map((f) => [f.severity, f.code, f.message]);

/** Applies `object` with the real kubectl and waits past the lab Felix's 2-second programming budget. */
async function withPolicy(object: object, body: () => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'k8snet-dual-policy-'));
  const file = join(dir, 'policy.yaml');
  const kubectl = async (...args: string[]) => {
    const r = await run(['/usr/bin/kubectl', '--kubeconfig', labPaths('itdual').kubeconfig, '--cache-dir', join(dir, 'cache'), ...args], 30_000); // prettier-ignore
    expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: '' });
  };
  const programmed = () => new Promise((resolve) => setTimeout(resolve, 2500));
  await writeFile(file, stringify(object));
  await kubectl('apply', '-f', file);
  await programmed();
  try {
    await body();
  } finally {
    await kubectl('delete', '-f', file);
    await programmed();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('trace on a dual-stack lab', () => {
  it('traces over IPv6 hop by hop on vxlan-v6.calico, the outer headers IPv6 too, and finds nothing wrong', async () => {
    const r = await trace(6);
    expect(notInfo(r)).toEqual([]);
    expect(r.overlay).toEqual({ mode: 'vxlan', device: 'vxlan-v6.calico' });
    expect([r.src.ip, r.dst.ip]).toEqual([pod('pod-src').ipv6, pod('pod-dest').ipv6]);
    expect(r.capture!.points.map((p) => [p.role, p.node, p.interface, p.error])).toEqual([
      ['src-pod', 'k8s-node2', pod('pod-src').caliInterface, null],
      ['src-tunnel', 'k8s-node2', 'vxlan-v6.calico', null],
      ['src-uplink', 'k8s-node2', 'eth0', null],
      ['dst-uplink', 'k8s-node1', 'eth0', null],
      ['dst-tunnel', 'k8s-node1', 'vxlan-v6.calico', null],
      ['dst-pod', 'k8s-node1', pod('pod-dest').caliInterface, null],
    ]);
    // Every hop saw the whole handshake; on the uplinks inside VXLAN between the nodes' IPv6 addresses.
    for (const p of r.capture!.points) {
      const flow = p.flows.find((f) => f.dport === 80);
      expect([p.interface, flow?.src, flow?.dst, flow?.handshake]).toEqual([
        p.interface,
        pod('pod-src').ipv6,
        pod('pod-dest').ipv6,
        'complete',
      ]);
      if (p.role.endsWith('uplink'))
        expect(flow?.tunnel).toEqual({
          type: 'vxlan',
          outerSrc: node('k8s-node2').ipv6,
          outerDst: node('k8s-node1').ipv6,
          vni: 4096,
        });
    }
    expect(r.testConnection).toMatchObject({ ok: true, port: 80 });
    expect(r.src.inside).toMatchObject({
      eth0: { up: true, addresses: expect.arrayContaining([`${pod('pod-src').ipv6}/128`]) },
      routes: expect.arrayContaining(['default via fe80::ecee:eeff:feee:eeee dev eth0 metric 1024']),
    });
  }, 60_000);

  it('traces the same pods over IPv4 by default, on vxlan.calico', async () => {
    const r = await trace();
    expect(notInfo(r)).toEqual([]);
    expect(r.overlay).toEqual({ mode: 'vxlan', device: 'vxlan.calico' });
    expect([r.src.ip, r.dst.ip]).toEqual([pod('pod-src').ip, pod('pod-dest').ip]);
    expect(r.capture!.points.every((p) => p.flows.some((f) => f.dport === 80 && f.handshake === 'complete'))).toBe(
      true,
    );
  }, 60_000);

  it("names the destination node's ip6tables FORWARD policy DROP where the IPv6 SYNs stop, with its counter", async () => {
    await onNode('k8s-node1', ['ip6tables', '-w', '5', '-P', 'FORWARD', 'DROP']);
    try {
      const r = await trace(6);
      const problems = r.findings.filter((f) => f.severity === 'error');
      expect(problems.map((f) => f.code)).toEqual(['dropped_on_dst_node']);
      expect(problems[0]!.message).toMatch(
        new RegExp(
          `^seen on k8s-node1/vxlan-v6\\.calico \\(\\d+ SYN\\), never on k8s-node1/${pod('pod-dest').caliInterface} \\(pod-dest's cali\\): dropped on k8s-node1 — FORWARD policy DROP counted \\d+ packets?$`,
        ),
      );
      expect(problems[0]!.evidence).toMatch(
        /\n:FORWARD DROP — \d+ packets? counted \(ip6tables-save -c, before → after\)$/,
      );
      // IPv4 is untouched by an ip6tables policy: the same pods still connect over it.
      expect((await trace(4)).testConnection).toMatchObject({ ok: true });
    } finally {
      await onNode('k8s-node1', ['ip6tables', '-w', '5', '-P', 'FORWARD', 'ACCEPT']);
    }
  }, 60_000);

  it('names a default-deny ingress over IPv6: the lab Felix enforces it in ip6tables, trace -6 counts its drop there', async () => {
    const denyIngress = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'deny-dest-ingress', namespace: 'default' },
      spec: { podSelector: { matchLabels: { type: 'dest' } }, policyTypes: ['Ingress'] },
    };
    await withPolicy(denyIngress, async () => {
      const r = await trace(6);
      expect(r.testConnection).toMatchObject({ ok: false });
      const problems = r.findings.filter((f) => f.severity === 'error');
      const denied = problems.find((f) => f.code === 'policy_denies_ingress');
      expect(denied?.message).toContain('deny-dest-ingress');
      // Where the SYNs stop, and why: the ip6tables drop rule of the pod's cali-tw chain, counted (before → after).
      const stopped = problems.find((f) => f.code === 'dropped_on_dst_node');
      expect(stopped?.message).toMatch(
        new RegExp(
          `^seen on k8s-node1/vxlan-v6\\.calico \\(\\d+ SYN\\), never on k8s-node1/${pod('pod-dest').caliInterface} \\(pod-dest's cali\\): dropped on k8s-node1 — Calico dropped \\d+ packets? in cali-tw-${pod('pod-dest').caliInterface}: no network policy allowed them$`,
        ),
      );
      expect(stopped?.evidence).toMatch(/\n\[\+\d+\] -A cali-tw-\S+ .*"Drop if no policies passed packet".* -j DROP$/);
      // The same chains in ip6tables as in iptables: the policy holds over IPv4 as well.
      const saved = await onNode('k8s-node1', ['ip6tables-save', '-t', 'filter']);
      expect(saved.stdout).toContain(`-A cali-tw-${pod('pod-dest').caliInterface} `);
      expect((await trace(4)).testConnection).toMatchObject({ ok: false });
    });
    // Deleted with kubectl: both families connect again.
    expect((await trace(6)).testConnection).toMatchObject({ ok: true });
  }, 120_000);

  it("report finds nothing wrong on the healthy dual-stack lab, and checks the IPv6 VXLAN allowlist: a node missing from another's cali60all-vxlan-net is named", async () => {
    const allowlistProblems = async () =>
      (await runHealthReport(lab.deps(), ctx())).result.findings.filter((f) => f.code === 'tunnel_source_not_allowed');
    // Healthy, the dual-stack lab reports nothing: its IPv6 Services' NodePorts are judged in ip6tables, where
    // kube-proxy writes them.
    const healthy = (await runHealthReport(lab.deps(), ctx())).result;
    expect(healthy.findings.filter((f) => f.severity !== 'info').map((f) => [f.code, f.message])).toEqual([]);
    const listed = await onNode('k8s-node1', ['ipset', 'list', 'cali60all-vxlan-net']);
    expect(listed.stdout).toContain(node('k8s-node2').ipv6);
    expect((await onNode('k8s-node1', ['ipset', 'del', 'cali60all-vxlan-net', node('k8s-node2').ipv6!])).code).toBe(0);
    try {
      const found = await allowlistProblems();
      expect(found.map((f) => f.message)).toEqual([
        `k8s-node1: Calico drops VXLAN from k8s-node2 (${node('k8s-node2').ipv6}) before decapsulating it: Felix accepts VXLAN only from the hosts in cali60all-vxlan-net, which does not list ${node('k8s-node2').ipv6}`,
      ]);
      expect(found[0]!.evidence).toContain('Drop IPv6 VXLAN packets from non-allowed hosts');
      expect(found[0]!.evidence).toContain(`ipset list cali60all-vxlan-net: ${node('k8s-node1').ipv6}`);
    } finally {
      await onNode('k8s-node1', ['ipset', 'add', 'cali60all-vxlan-net', node('k8s-node2').ipv6!]);
    }
  }, 120_000);

  it("report names a node's missing IPv6 route to another node's IPv6 block, read with ip -6 route", async () => {
    const block = lab.state().plan.nodes.find((n) => n.name === 'k8s-node2')!.blockV6!;
    const shown = await onNode('k8s-node1', ['ip', '-6', 'route', 'show', block]);
    const route = shown.stdout.trim();
    expect(route).toContain('dev vxlan-v6.calico');
    expect((await onNode('k8s-node1', ['ip', '-6', 'route', 'del', block])).code).toBe(0);
    try {
      const { result } = await runHealthReport(lab.deps(), ctx());
      const found = result.findings.filter((f) => f.code === 'route_to_block_missing');
      expect(found.map((f) => [f.severity, f.message])).toEqual([
        ['error', `route to ${block} (k8s-node2) missing on k8s-node1`],
      ]);
    } finally {
      expect((await onNode('k8s-node1', ['ip', '-6', 'route', 'add', ...route.split(/\s+/)])).code).toBe(0);
    }
  }, 120_000);

  it('report names a node that does not forward IPv6 (net.ipv6.conf.all.forwarding = 0)', async () => {
    expect((await onNode('k8s-node1', ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=0'])).code).toBe(0);
    try {
      const { result } = await runHealthReport(lab.deps(), ctx());
      expect(result.findings.filter((f) => f.code === 'ip_forward_off').map((f) => [f.message, f.evidence])).toEqual([
        ['IPv6 forwarding is off on k8s-node1', 'net.ipv6.conf.all.forwarding = 0'],
      ]);
    } finally {
      expect((await onNode('k8s-node1', ['sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1'])).code).toBe(0);
    }
  }, 120_000);

  it('routes NODE labels the IPv6 table too: its own IPv6 block, the local pod, the remote block via vxlan-v6.calico', async () => {
    const { result, report } = await runRoutes(lab.deps(), { node: 'k8s-node1' }, ctx());
    const six = result.routes6!.map((r) => [r.route.split(' ')[0] === 'blackhole' ? r.route.split(' ')[1] : r.route.split(' ')[0], r.label, r.owner]); // prettier-ignore
    expect(six).toEqual(
      expect.arrayContaining([
        [node('k8s-node1').blockV6, 'blackhole-local-block', null],
        [pod('pod-dest').ipv6, 'local-pod', null],
        [node('k8s-node2').blockV6, 'remote-block-vxlan', 'k8s-node2'],
      ]),
    );
    expect(result.routes.some((r) => r.route.includes(':'))).toBe(false);
    expect(report.sections.map((s) => s.title)).toContain('k8s-node1: ip -6 route, labelled');
    expect(result.findings.filter((f) => f.severity !== 'info')).toEqual([]);
  }, 60_000);

  it("names a source pod without its IPv6 default route, with the pod's ip -6 route table", async () => {
    const gateway = ['default', 'via', 'fe80::ecee:eeff:feee:eeee', 'dev', 'eth0'];
    const removed = await inPod('pod-src', ['ip', '-6', 'route', 'del', ...gateway]);
    expect(removed.code).toBe(0);
    try {
      const r = await trace(6);
      const f = r.findings.find((x) => x.severity === 'error' && x.code === 'pod_default_route_missing');
      expect(f?.message).toBe(
        "default/pod-src has no IPv6 default route: it cannot send to anything off its own link (Calico's is default via fe80::ecee:eeff:feee:eeee dev eth0)",
      );
      expect(f?.evidence).toContain(`ip -6 route inside default/pod-src:\n${pod('pod-src').ipv6} dev eth0`);
    } finally {
      await inPod('pod-src', ['ip', '-6', 'route', 'add', ...gateway]);
    }
  }, 60_000);

  it("svc on a single-stack IPv6 Service reads ip6tables, forwards to the pod's [IPv6]:port and sees the test connection translated", async () => {
    const { result: r } = await runService(
      lab.deps(),
      { namespace: 'default', name: 'web6', capture: { enabled: true, seconds: 1 } },
      ctx(),
    );
    const clusterIP = lab.state().plan.services.find((s) => s.name === 'web6')!.clusterIP;
    expect(r.service).toMatchObject({ name: 'web6', clusterIP });
    expect(clusterIP).toMatch(/^fd00:10:96::/);
    const target = `[${pod('pod-dest').ipv6}]:80`;
    expect(r.endpoints.map((e) => e.ip)).toEqual([pod('pod-dest').ipv6]);
    expect(r.nodes.map((n) => [n.name, n.mode, n.iptables, n.dnatTargets])).toEqual([
      ['k8s-node1', 'iptables', true, [target]],
      ['k8s-node2', 'iptables', true, [target]],
    ]);
    expect(r.nodes[0]!.rules[0]).toMatch(new RegExp(`^-A KUBE-SERVICES -d ${clusterIP.replaceAll('.', '\\.')}/128 `));
    expect(r.findings.filter((f) => f.severity !== 'info').map((f) => [f.code, f.message])).toEqual([]);
    expect(r.findings.map((f) => f.code)).toContain('rules_present');
    // The test connection's conntrack entry (conntrack -f ipv6) shows the DNAT to the pod and its reply.
    expect(r.nodes.map((n) => n.testConntrack?.entries.some((e) => e.includes(pod('pod-dest').ipv6!)))).toEqual([
      true,
      true,
    ]);
  }, 120_000);

  it('svc on a dual-stack Service walks its primary IPv4 half by default and its IPv6 half with -6, each in its own tables', async () => {
    const web46 = lab.state().plan.services.find((s) => s.name === 'web46')!;
    const svc = (family?: 4 | 6) => svcWeb46(lab.deps(), family, true);
    const clean = (r: Awaited<ReturnType<typeof svc>>) =>
      r.findings.filter((f) => f.severity !== 'info').map((f) => [f.code, f.message]);
    const primary = await svc();
    expect(primary.service?.clusterIP).toBe(web46.clusterIP);
    expect(primary.endpoints.map((e) => e.ip)).toEqual([pod('pod-dest').ip]);
    expect(primary.nodes.map((n) => n.dnatTargets)).toEqual([
      [`${pod('pod-dest').ip}:80`],
      [`${pod('pod-dest').ip}:80`],
    ]);
    expect(clean(primary)).toEqual([]);
    const six = await svc(6);
    expect(six.service?.clusterIP).toBe(web46.ipv6!.clusterIP);
    // Only the IPv6 EndpointSlice's addresses, and kube-proxy's ip6tables rules for the IPv6 ClusterIP.
    expect(six.endpoints.map((e) => e.ip)).toEqual([pod('pod-dest').ipv6]);
    const target = `[${pod('pod-dest').ipv6}]:80`;
    expect(six.nodes.map((n) => [n.name, n.iptables, n.dnatTargets])).toEqual([
      ['k8s-node1', true, [target]],
      ['k8s-node2', true, [target]],
    ]);
    expect(six.nodes[0]!.rules[0]).toMatch(new RegExp(`^-A KUBE-SERVICES -d ${web46.ipv6!.clusterIP}/128 `));
    expect(clean(six)).toEqual([]);
    expect(six.nodes.map((n) => n.testConntrack?.entries.some((e) => e.includes(pod('pod-dest').ipv6!)))).toEqual([
      true,
      true,
    ]);
    // A single-stack Service has no ClusterIP of the other family: refused with what it has.
    await expect(
      runService(
        lab.deps(),
        { namespace: 'default', name: 'web6', family: 4, capture: { enabled: false, seconds: 1 } },
        ctx(),
      ),
    ).rejects.toThrow(
      /^Service default\/web6 has no IPv4 ClusterIP \(spec\.clusterIPs: fd00:10:96::[0-9a-f]+\): it is not dual-stack/,
    );
  }, 120_000);

  it("nodeport -6 on the dual-stack NodePort: the IPv6 half, tested at each node's IPv6 address", async () => {
    const { result: r } = await runNodePort(
      lab.deps(),
      { port: 31046, family: 6, capture: { enabled: true, seconds: 1 } },
      ctx(),
    );
    expect(r.nodes.map((n) => [n.name, n.iptables, n.dnatTargets])).toEqual([
      ['k8s-node1', true, [`[${pod('pod-dest').ipv6}]:80`]],
      ['k8s-node2', true, [`[${pod('pod-dest').ipv6}]:80`]],
    ]);
    expect(r.findings.filter((f) => f.severity !== 'info').map((f) => [f.code, f.message])).toEqual([]);
    expect(r.nodes.map((n) => n.testConntrack?.command)).toEqual(
      ['k8s-node1', 'k8s-node2'].map(
        (name) => `conntrack -L -f ipv6 -p tcp --orig-dst ${node(name).ipv6} --orig-port-dst 31046`,
      ),
    );
    // Without -6 the same NodePort is walked in IPv4, at the nodes' IPv4 addresses.
    const { result: v4 } = await runNodePort(
      lab.deps(),
      { port: 31046, capture: { enabled: false, seconds: 1 } },
      ctx(),
    );
    expect(v4.nodes.map((n) => n.dnatTargets)).toEqual([[`${pod('pod-dest').ip}:80`], [`${pod('pod-dest').ip}:80`]]);
  }, 120_000);

  it("nodeport on the IPv6 Service's NodePort: its ip6tables rules, and the test connection to each node's IPv6 address", async () => {
    const { result: r } = await runNodePort(lab.deps(), { port: 31096, capture: { enabled: true, seconds: 1 } }, ctx());
    const target = `[${pod('pod-dest').ipv6}]:80`;
    expect(r.nodes.map((n) => [n.name, n.iptables, n.dnatTargets])).toEqual([
      ['k8s-node1', true, [target]],
      ['k8s-node2', true, [target]],
    ]);
    expect(r.findings.filter((f) => f.severity !== 'info').map((f) => [f.code, f.message])).toEqual([]);
    // Each node was tested at its IPv6 address (the NodePort answers on no other), and translated it to the pod.
    expect(r.nodes.map((n) => n.testConntrack?.command)).toEqual(
      ['k8s-node1', 'k8s-node2'].map(
        (name) => `conntrack -L -f ipv6 -p tcp --orig-dst ${node(name).ipv6} --orig-port-dst 31096`,
      ),
    );
    expect(r.nodes.map((n) => n.testConntrack?.entries.some((e) => e.includes(pod('pod-dest').ipv6!)))).toEqual([
      true,
      true,
    ]);
  }, 120_000);
});
