/**
 * Where the packet dies, on the lab: each case breaks the lab with a real command in a node's or pod's network
 * namespace, traces pod-src → pod-dest, and checks that trace names the cause as a problem with the line that proves
 * it — then repairs the lab. The same suite runs on a lab whose nodes' uplink is ens5 instead of eth0.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LabState } from '../../../src/lab/state.ts';
import { runTrace, type TraceResult } from '../../../src/ops/trace.ts';
import { runNodePort } from '../../../src/ops/service-ops.ts';
import type { OperationDeps } from '../../../src/ops/deps.ts';
import type { Finding } from '../../../src/model/report.ts';
import { inNetns, run, startLab, stopLab } from '../../support/lab.ts';
import { labDeps } from '../../support/lab-deps.ts';

const topology = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
/** A second is enough on the lab: the test connection's SYNs (1 s apart when unanswered) fit in it. */
const WINDOW_SECONDS = 1;

describe.each([
  { lab: 'ppeth', file: 'packet-path.yaml', uplink: 'eth0' },
  { lab: 'ppens', file: 'packet-path-ens5.yaml', uplink: 'ens5' },
])('where the packet dies on lab $lab (uplink $uplink)', ({ lab: labName, file, uplink }) => {
  let lab: LabState;
  let deps: OperationDeps & { close(): Promise<void> };
  const ctx = () => ({ onStep: () => undefined, signal: AbortSignal.timeout(60_000) });
  const node = (name: string) => lab.plan.nodes.find((n) => n.name === name)!;
  const pod = (name: string) => lab.plan.pods.find((p) => p.name === name)!;
  const onNode = (name: string, argv: string[]) => run(inNetns(node(name).netns, argv));
  const inPod = (name: string, argv: string[]) => run(inNetns(pod(name).netnsName, argv));
  const trace = async (): Promise<TraceResult> =>
    (
      await runTrace(
        deps,
        { namespace: 'default', src: 'pod-src', dst: 'pod-dest', capture: { enabled: true, seconds: WINDOW_SECONDS } },
        ctx(),
      )
    ).result;
  const problems = (r: { findings: Finding[] }) => r.findings.filter((f) => f.severity === 'error');
  const problem = (
    r: { findings: Finding[]; testConnection?: unknown; capture?: TraceResult['capture'] },
    code: string,
  ) => {
    const f = problems(r).find((x) => x.code === code);
    const points = r.capture?.points.map(
      (p) => `${p.node}/${p.interface}: ${p.packets} packets${p.error ? ` (${p.error})` : ''}`,
    );
    if (!f)
      throw new Error(
        `no ${code} among ${JSON.stringify(
          r.findings.map((x) => [x.severity, x.code, x.message, ...(x.severity === 'info' ? [] : [x.evidence])]),
          null,
          1,
        )}\ntest connection: ${JSON.stringify(r.testConnection)}\ncapture: ${JSON.stringify(points)}`,
      );
    return f;
  };
  /** Runs a repair even when the check failed, and fails loudly when the break or the repair did not take. */
  async function broken(
    breakIt: () => Promise<{ code: number; stderr: string }>,
    repair: () => Promise<unknown>,
    check: (r: TraceResult) => void,
  ) {
    const b = await breakIt();
    try {
      expect(b.stderr).toBe('');
      expect(b.code).toBe(0);
      check(await trace());
    } finally {
      await repair();
    }
  }

  beforeAll(async () => {
    lab = await startLab(labName, topology(file));
    deps = await labDeps(labName);
  }, 120_000);
  afterAll(async () => {
    await deps?.close();
    await stopLab(labName);
  }, 60_000);

  it('captures every hop of the healthy path on the real uplink and reports no problem or warning', async () => {
    const r = await trace();
    expect(r.findings.filter((f) => f.severity !== 'info')).toEqual([]);
    expect(r.src.uplink).toBe(uplink);
    expect([r.src.calicoDataplane, r.dst.calicoDataplane]).toEqual(['iptables', 'iptables']);
    expect([r.src.kubeProxyMode, r.dst.kubeProxyMode]).toEqual(['iptables', 'iptables']);
    expect(r.capture!.points.map((p) => [p.role, p.node, p.interface, p.error])).toEqual([
      ['src-pod', 'k8s-node2', pod('pod-src').caliInterface, null],
      ['src-tunnel', 'k8s-node2', 'vxlan.calico', null],
      ['src-uplink', 'k8s-node2', uplink, null],
      ['dst-uplink', 'k8s-node1', uplink, null],
      ['dst-tunnel', 'k8s-node1', 'vxlan.calico', null],
      ['dst-pod', 'k8s-node1', pod('pod-dest').caliInterface, null],
    ]);
    expect(r.capture!.points.every((p) => p.flows.some((f) => f.dport === 80 && f.handshake === 'complete'))).toBe(
      true,
    );
    expect(r.path).toEqual([]);
    expect(r.src.inside).toMatchObject({
      eth0: { up: true, addresses: [`${pod('pod-src').ip}/32`] },
      routes: expect.arrayContaining(['default via 169.254.1.1 dev eth0']),
    });
  }, 60_000);

  it('FORWARD policy DROP on the destination node: the SYNs reach its tunnel, never the pod, and the counter says why', async () => {
    await broken(
      () => onNode('k8s-node1', ['iptables', '-P', 'FORWARD', 'DROP']),
      () => onNode('k8s-node1', ['iptables', '-P', 'FORWARD', 'ACCEPT']),
      (r) => {
        expect(problems(r).map((f) => f.code)).toEqual(['dropped_on_dst_node']);
        const f = problem(r, 'dropped_on_dst_node');
        expect(f.message).toMatch(
          new RegExp(
            `^seen on k8s-node1/vxlan\\.calico \\(\\d+ SYN\\), never on k8s-node1/${pod('pod-dest').caliInterface} \\(pod-dest's cali\\): dropped on k8s-node1 — FORWARD policy DROP counted \\d+ packets?$`,
          ),
        );
        expect(f.evidence).toMatch(/\n:FORWARD DROP — \d+ packets? counted \(iptables-save -c, before → after\)$/);
        expect(f.children!.map((c) => c.code)).toEqual(expect.arrayContaining(['chain_policy_dropped', 'no_syn_ack']));
      },
    );
  }, 60_000);

  it('UDP 4789 dropped in INPUT on the destination node: the VXLAN packets reach its uplink, never its tunnel', async () => {
    const rule = ['INPUT', '-p', 'udp', '-m', 'udp', '--dport', '4789', '-j', 'DROP'];
    await broken(
      () => onNode('k8s-node1', ['iptables', '-I', ...rule]),
      () => onNode('k8s-node1', ['iptables', '-D', ...rule]),
      (r) => {
        const f = problem(r, 'dropped_on_dst_node');
        expect(f.message).toMatch(
          new RegExp(
            `^seen on k8s-node1/${uplink} \\(\\d+ SYN\\), never on k8s-node1/vxlan\\.calico: dropped on k8s-node1 — drop rules matching udp dport 4789 \\(VXLAN\\) in INPUT counted \\d+ packets?$`,
          ),
        );
        expect(f.evidence).toMatch(/\n\[\+\d+\] -A INPUT -p udp -m udp --dport 4789 -j DROP$/);
        expect(problems(r).map((x) => x.code)).toEqual(['dropped_on_dst_node']);
      },
    );
  }, 60_000);

  it("Felix's VXLAN allowlist on the destination node lacks the source node: dropped in cali-INPUT, and the set shows why", async () => {
    // As when a node's address changed and the others' Felix still lists the old one (Felix keeps this set itself).
    const member = ['cali40all-vxlan-net', node('k8s-node2').ip];
    await broken(
      () => onNode('k8s-node1', ['ipset', 'del', ...member]),
      () => onNode('k8s-node1', ['ipset', 'add', ...member]),
      (r) => {
        expect(problems(r).map((x) => x.code)).toEqual(['dropped_on_dst_node']);
        const f = problem(r, 'dropped_on_dst_node');
        expect(f.message).toMatch(
          new RegExp(
            `^seen on k8s-node1/${uplink} \\(\\d+ SYN\\), never on k8s-node1/vxlan\\.calico: dropped on k8s-node1 — Calico drops VXLAN from k8s-node2 \\(${node('k8s-node2').ip.replaceAll('.', '\\.')}\\): Felix's cali40all-vxlan-net does not list it \\(\\d+ packets? counted\\)$`,
          ),
        );
        expect(f.evidence).toMatch(/Drop IPv4 VXLAN packets from non-allowed hosts/);
        expect(f.evidence).toContain(`ipset list cali40all-vxlan-net: ${node('k8s-node1').ip}`);
        expect(f.children!.map((c) => c.code)).toEqual(expect.arrayContaining(['tunnel_source_not_allowed']));
        const cause = f.children!.find((c) => c.code === 'tunnel_source_not_allowed')!;
        expect(cause.message).toContain(
          `k8s-node1: Calico drops VXLAN from k8s-node2 (${node('k8s-node2').ip}) before decapsulating it: Felix accepts VXLAN only from the hosts in cali40all-vxlan-net`,
        );
      },
    );
  }, 60_000);

  it('the same allowlist gap without a capture: the cause from the set, the counted drop under it', async () => {
    const member = ['cali40all-vxlan-net', node('k8s-node2').ip];
    expect((await onNode('k8s-node1', ['ipset', 'del', ...member])).code).toBe(0);
    try {
      const { result: r } = await runTrace(
        deps,
        { namespace: 'default', src: 'pod-src', dst: 'pod-dest', capture: { enabled: false, seconds: 0 } },
        ctx(),
      );
      const f = problem(r, 'tunnel_source_not_allowed');
      expect(f.message).toMatch(/ — counted \d+ packets? of the test connection$/);
      expect(f.children?.map((c) => c.code)).toEqual(expect.arrayContaining(['drop_rule_counted']));
      expect(problems(r).filter((x) => x.code === 'drop_rule_counted')).toEqual([]);
    } finally {
      await onNode('k8s-node1', ['ipset', 'add', ...member]);
    }
  }, 60_000);

  it("the source pod's default route deleted: nothing leaves the pod, and its route table is the evidence", async () => {
    await broken(
      () => inPod('pod-src', ['ip', 'route', 'del', 'default']),
      () => inPod('pod-src', ['ip', 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0']),
      (r) => {
        const f = problem(r, 'pod_default_route_missing');
        expect(f.evidence).toBe('ip -4 route inside default/pod-src:\n169.254.1.1 dev eth0 scope link');
        expect(problems(r).map((x) => x.code)).toEqual(['pod_default_route_missing']);
      },
    );
  }, 60_000);

  it("the destination pod's MTU above its node's tunnel MTU", async () => {
    const cali = pod('pod-dest').caliInterface;
    await broken(
      async () => {
        const host = await onNode('k8s-node1', ['ip', 'link', 'set', cali, 'mtu', '1500']);
        return host.code === 0 ? inPod('pod-dest', ['ip', 'link', 'set', 'eth0', 'mtu', '1500']) : host;
      },
      async () => {
        await inPod('pod-dest', ['ip', 'link', 'set', 'eth0', 'mtu', String(lab.plan.podMtu)]);
        await onNode('k8s-node1', ['ip', 'link', 'set', cali, 'mtu', String(lab.plan.podMtu)]);
      },
      (r) => {
        const f = problem(r, 'pod_mtu_above_tunnel');
        expect(f.message).toBe(
          `default/pod-dest's MTU 1500 is larger than k8s-node1's vxlan.calico MTU ${lab.plan.podMtu}: its full-size packets cannot enter the tunnel`,
        );
        expect(f.evidence).toBe(
          `k8s-node1: ${cali} mtu 1500, pod-dest: eth0 mtu 1500, k8s-node1: vxlan.calico mtu ${lab.plan.podMtu}`,
        );
      },
    );
  }, 60_000);

  it("the destination node's underlay MTU below what VXLAN needs", async () => {
    await broken(
      () => onNode('k8s-node1', ['ip', 'link', 'set', uplink, 'mtu', '1400']),
      () => onNode('k8s-node1', ['ip', 'link', 'set', uplink, 'mtu', '1500']),
      (r) => {
        const f = problem(r, 'underlay_mtu_too_small');
        expect(f.message).toBe(
          `the underlay MTU on k8s-node1/${uplink} (1400) is below the 1500 that VXLAN needs for vxlan.calico's MTU 1450 plus 50 bytes of headers: full-size packets between the pods are dropped`,
        );
        expect(f.evidence).toBe(
          `k8s-node1: vxlan.calico mtu 1450, ${uplink} mtu 1400; ${uplink} mtu 1500 on the other node`,
        );
      },
    );
  }, 60_000);

  it('IP forwarding off on the destination node: the packets reach its tunnel and stop, with the sysctl line', async () => {
    await broken(
      () => onNode('k8s-node1', ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=0']),
      async () => {
        await onNode('k8s-node1', ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
      },
      (r) => {
        const f = problem(r, 'dropped_on_dst_node');
        expect(f.message).toMatch(/: dropped on k8s-node1 — IP forwarding is off$/);
        expect(f.evidence.split('\n')[1]).toBe('net.ipv4.ip_forward = 0');
        expect(f.children!.map((c) => c.code)).toContain('ip_forward_off');
        expect(problems(r).map((x) => x.code)).toEqual(['dropped_on_dst_node']);
      },
    );
  }, 60_000);

  it("strict rp_filter on the destination node's tunnel is named with its sysctl line (a warning: the lab's path is symmetric, so nothing is dropped)", async () => {
    await broken(
      () => onNode('k8s-node1', ['sysctl', '-q', '-w', 'net.ipv4.conf.vxlan/calico.rp_filter=1']),
      () => onNode('k8s-node1', ['sysctl', '-q', '-w', 'net.ipv4.conf.vxlan/calico.rp_filter=0']),
      (r) => {
        const f = r.findings.find((x) => x.code === 'rp_filter_strict')!;
        expect(f).toMatchObject({
          severity: 'warning',
          evidence: 'net.ipv4.conf.vxlan/calico.rp_filter = 1',
          message: expect.stringMatching(/^strict reverse-path filtering on k8s-node1\/vxlan\.calico/),
        });
        expect(problems(r)).toEqual([]);
      },
    );
  }, 60_000);

  it("nodeport on a Service whose selector matches nothing: one cause, each node's REJECT under it", async () => {
    const r = (await runNodePort(deps, { port: 31081, capture: { enabled: false, seconds: 1 } }, ctx())).result;
    expect(problems(r).map((f) => f.code)).toEqual(['no_endpoints']);
    const children = problems(r)[0]!.children!;
    expect(children.map((c) => c.message)).toEqual([
      'k8s-node1 rejects NodePort 31081: kube-proxy installed a REJECT because the Service has no endpoints',
      'k8s-node2 rejects NodePort 31081: kube-proxy installed a REJECT because the Service has no endpoints',
    ]);
    expect(children[0]!.evidence).toBe(
      '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "default/svc-orphan:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 31081 -j REJECT --reject-with icmp-port-unreachable',
    );
  }, 60_000);

  // Last: the lab's listener for pod-dest is replaced and not restored.
  it('the destination app listening on 127.0.0.1 only: the reset is shown under the cause, with the listener as evidence', async () => {
    const web = lab.processes.find((p) => p.owner === 'default/pod-dest' && p.role === 'container web')!;
    process.kill(web.pid, 'SIGKILL');
    let loopback: ChildProcess | null = null;
    try {
      const script =
        "require('net').createServer((s) => s.destroy()).listen(80, '127.0.0.1', () => console.log('listening'))";
      loopback = spawn('ip', ['netns', 'exec', pod('pod-dest').netnsName, process.execPath, '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve, reject) => {
        loopback!.stdout!.once('data', () => resolve());
        loopback!.once('exit', (code) => reject(new Error(`the loopback listener exited ${code}`)));
      });
      const r = await trace();
      const f = problem(r, 'listener_loopback_only');
      expect(f.message).toBe(
        'the app inside default/pod-dest listens on TCP port 80 only on 127.0.0.1: connections to the pod IP are refused; bind it to 0.0.0.0 (or ::)',
      );
      expect(f.evidence).toMatch(/^listening: 127\.0\.0\.1:80/);
      expect(f.children!.map((c) => c.code)).toEqual(['connection_refused']);
      expect(problems(r).map((x) => x.code)).toEqual(['listener_loopback_only']);
    } finally {
      loopback?.kill('SIGKILL');
    }
  }, 60_000);
});
