import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { LabState } from '../../../src/lab/state.ts';
import { runTrace, type TraceResult } from '../../../src/ops/trace.ts';
import { runNodePort } from '../../../src/ops/service-ops.ts';
import { runPod } from '../../../src/ops/pod-op.ts';
import type { OperationDeps } from '../../../src/ops/deps.ts';
import { inNetns, run, startLab, stopLab } from '../../support/lab.ts';
import { labDeps } from '../../support/lab-deps.ts';

const LAB = 'itops';
let lab: LabState;
let deps: OperationDeps & { close(): Promise<void> };
const ctx = () => ({ onStep: () => undefined, signal: AbortSignal.timeout(60_000) });
const node = (name: string) => lab.plan.nodes.find((n) => n.name === name)!;
const pod = (name: string) => lab.plan.pods.find((p) => p.name === name)!;
const codes = (r: { findings: { code: string; severity: string }[] }) =>
  r.findings.filter((f) => f.severity === 'error').map((f) => f.code);
const trace = async (seconds = 2): Promise<TraceResult> =>
  (
    await runTrace(
      deps,
      { namespace: 'default', src: 'pod-src', dst: 'pod-dest', capture: { enabled: true, seconds } },
      ctx(),
    )
  ).result;

beforeAll(async () => {
  lab = await startLab(LAB);
  deps = await labDeps(LAB);
}, 120_000);
afterAll(async () => {
  await deps?.close();
  await stopLab(LAB);
}, 60_000);

describe('trace on the lab', () => {
  it('reports VXLAN, the right nodes, IPs, cali names and route line, and the same flow inside VXLAN on the node and bare at the pod', async () => {
    const r = await trace();
    expect(codes(r)).toEqual([]);
    expect(r.overlay).toEqual({ mode: 'vxlan', device: 'vxlan.calico' });
    expect(r.src).toMatchObject({
      name: 'pod-src',
      ip: pod('pod-src').ip,
      node: 'k8s-node2',
      nodeIP: node('k8s-node2').ip,
      caliInterface: pod('pod-src').caliInterface,
      caliExists: true,
    });
    expect(r.dst).toMatchObject({
      name: 'pod-dest',
      ip: pod('pod-dest').ip,
      node: 'k8s-node1',
      nodeIP: node('k8s-node1').ip,
      caliInterface: pod('pod-dest').caliInterface,
    });
    expect(r.routeToDst).toBe(
      `${node('k8s-node1').block} via ${node('k8s-node1').tunnelIP} dev vxlan.calico proto 80 onlink`,
    );
    const at = (role: string) => r.capture!.points.find((p) => p.role === role)!;
    const bare = at('src-pod').flows.find((f) => f.dst === pod('pod-dest').ip && f.dport === 80)!;
    expect(bare.tunnel).toBeNull();
    expect(bare.handshake).toBe('complete');
    const wrapped = at('src-uplink').flows.find((f) => f.dst === pod('pod-dest').ip && f.dport === 80)!;
    expect(wrapped.tunnel).toEqual({
      type: 'vxlan',
      outerSrc: node('k8s-node2').ip,
      outerDst: node('k8s-node1').ip,
      vni: 4096,
    });
    expect(at('dst-tunnel').flows.some((f) => f.sport === bare.sport)).toBe(true);
  }, 60_000);

  it('reports the missing route when the remote-block route is deleted on the source node', async () => {
    const n1 = node('k8s-node1');
    await run(inNetns(node('k8s-node2').netns, ['ip', 'route', 'del', n1.block]));
    try {
      const r = await trace(1);
      expect(codes(r)).toContain('no_route_to_block');
      expect(r.findings.find((f) => f.code === 'no_route_to_block')!.evidence).toMatch(/^default via/);
    } finally {
      await run(
        inNetns(node('k8s-node2').netns, [
          'ip',
          'route',
          'add',
          n1.block,
          'via',
          n1.tunnelIP,
          'dev',
          'vxlan.calico',
          'onlink',
          'proto',
          '80',
        ]),
      );
    }
  }, 60_000);

  it('reports the tunnel down when vxlan.calico is set down on the destination node', async () => {
    await run(inNetns(node('k8s-node1').netns, ['ip', 'link', 'set', 'vxlan.calico', 'down']));
    try {
      const r = await trace(1);
      expect(codes(r)).toContain('tunnel_down');
    } finally {
      await run(inNetns(node('k8s-node1').netns, ['ip', 'link', 'set', 'vxlan.calico', 'up']));
      // Taking the device down flushed Felix's route and neighbour entry through it: put them back as Felix would.
      const n2 = node('k8s-node2');
      await run(
        inNetns(node('k8s-node1').netns, [
          'ip',
          'route',
          'replace',
          n2.block,
          'via',
          n2.tunnelIP,
          'dev',
          'vxlan.calico',
          'onlink',
          'proto',
          '80',
        ]),
      );
      await run(
        inNetns(node('k8s-node1').netns, [
          'ip',
          'neigh',
          'replace',
          n2.tunnelIP,
          'lladdr',
          n2.tunnelMac,
          'dev',
          'vxlan.calico',
          'nud',
          'permanent',
        ]),
      );
    }
  }, 60_000);

  it("reports nothing listening, and the reset, when pod-dest's listener is stopped", async () => {
    const web = lab.processes.find((p) => p.owner === 'default/pod-dest' && p.role === 'container web')!;
    process.kill(web.pid, 'SIGKILL');
    const r = await trace(1);
    expect(codes(r)).toContain('no_listener');
    // The reset follows from nothing listening: it is shown under that cause.
    expect(r.findings.find((f) => f.code === 'no_listener')!.children!.map((c) => c.code)).toEqual([
      'connection_refused',
    ]);
  }, 60_000);
});

describe('nodeport and pod on the lab', () => {
  it('shows the NodePort 31080 rules on both nodes, and reports the node whose rule was deleted', async () => {
    const ok = (await runNodePort(deps, { port: 31080, capture: { enabled: false, seconds: 1 } }, ctx())).result;
    expect(ok.service).toMatchObject({ namespace: 'default', name: 'svc-nodeport' });
    expect(ok.nodes.map((n) => [n.name, n.iptables])).toEqual([
      ['k8s-node1', true],
      ['k8s-node2', true],
    ]);
    expect(ok.nodes[0]!.rules[0]).toContain('--dport 31080');
    const n2 = node('k8s-node2');
    const rule = ok.nodes[1]!.rules[0]!.replace(/^-A /, '');
    await run(
      inNetns(n2.netns, [
        'iptables',
        '-w',
        '5',
        '-t',
        'nat',
        '-D',
        ...rule.match(/"[^"]*"|\S+/g)!.map((t) => t.replace(/^"|"$/g, '')),
      ]),
    );
    const broken = (await runNodePort(deps, { port: 31080, capture: { enabled: false, seconds: 1 } }, ctx())).result;
    expect(broken.findings.filter((f) => f.severity === 'error').map((f) => f.message)).toEqual([
      `k8s-node2 has no KUBE-NODEPORTS rule for 31080: connections to ${n2.ip}:31080 are not forwarded`,
    ]);
  }, 60_000);

  it("reads kube-proxy's REJECT for a Service without endpoints from the filter table, where kube-proxy puts it", async () => {
    const n1 = node('k8s-node1');
    const before = (await runNodePort(deps, { port: 31080, capture: { enabled: false, seconds: 1 } }, ctx())).result;
    const rule = before.nodes[0]!.rules[0]!.replace(/^-A /, '')
      .match(/"[^"]*"|\S+/g)!
      .map((t) => t.replace(/^"|"$/g, ''));
    // What kube-proxy does on a node that sees no endpoints: no nat entry, a REJECT in filter's KUBE-EXTERNAL-SERVICES.
    await run(inNetns(n1.netns, ['iptables', '-w', '5', '-t', 'nat', '-D', ...rule]));
    await run(inNetns(n1.netns, ['iptables', '-w', '5', '-t', 'filter', '-N', 'KUBE-EXTERNAL-SERVICES']));
    const reject = [
      'KUBE-EXTERNAL-SERVICES',
      '-p',
      'tcp',
      '-m',
      'comment',
      '--comment',
      'default/svc-nodeport:http has no endpoints',
      '-m',
      'addrtype',
      '--dst-type',
      'LOCAL',
      '-m',
      'tcp',
      '--dport',
      '31080',
      '-j',
      'REJECT',
      '--reject-with',
      'icmp-port-unreachable',
    ];
    expect((await run(inNetns(n1.netns, ['iptables', '-w', '5', '-t', 'filter', '-A', ...reject]))).code).toBe(0);
    try {
      const r = (await runNodePort(deps, { port: 31080, capture: { enabled: false, seconds: 1 } }, ctx())).result;
      const finding = r.findings.find((f) => f.code === 'rejected_no_endpoints');
      expect(finding).toMatchObject({ severity: 'error', message: expect.stringMatching(/^k8s-node1 rejects/) });
      expect(finding!.evidence).toContain('--dport 31080 -j REJECT');
    } finally {
      await run(inNetns(n1.netns, ['iptables', '-w', '5', '-t', 'filter', '-D', ...reject]));
      await run(inNetns(n1.netns, ['iptables', '-w', '5', '-t', 'nat', '-A', ...rule]));
    }
  }, 60_000);

  it("finds pod-pause's network namespace and shows the addresses and routes inside it", async () => {
    const r = (await runPod(deps, { namespace: 'default', name: 'pod-pause' }, ctx())).result;
    expect(r.sandbox.netns).toContain(pod('pod-pause').netnsName);
    expect(r.inside!.addresses.eth0).toEqual([`${pod('pod-pause').ip}/32`]);
    expect(r.inside!.routes).toContain('default via 169.254.1.1 dev eth0');
    expect(r.hostRoute).toBe(`${pod('pod-pause').ip} dev ${pod('pod-pause').caliInterface} scope link`);
    expect(codes(r)).toEqual([]);
  }, 60_000);
});
