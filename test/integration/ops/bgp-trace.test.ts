/**
 * trace and report on a BGP lab (real BIRD 2 per node, full mesh): the `proto bird` route followed; tcp/179 dropped
 * on one node named as the cause of its sessions not Established, with the rule; a wrong autodetected address under
 * first-found autodetection; BIRD stopped on one node reported as a peer down on the others, with the block whose
 * route vanished (report, trace and routes). One lab; the tests run in this order and each waits for BIRD's state it needs (bounded).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify } from 'yaml';
import type { LabState } from '../../../src/lab/state.ts';
import { labPaths } from '../../../src/lab/state.ts';
import { calicoRunDir, BIRD_SOCKET_NAME, meshProtocolName } from '../../../src/lab/bird.ts';
import { waitForBirdSession } from '../../support/bird-session.ts';
import { runTrace } from '../../../src/ops/trace.ts';
import { runHealthReport } from '../../../src/ops/health-report.ts';
import { runRoutes } from '../../../src/ops/routes-op.ts';
import { flattenFindings, type Finding } from '../../../src/model/report.ts';
import type { OperationDeps } from '../../../src/ops/deps.ts';
import { inNetns, run, startLab, stopLab } from '../../support/lab.ts';
import { labDeps } from '../../support/lab-deps.ts';

const LAB = 'bgptr';
const BGP_TOPOLOGY = fileURLToPath(new URL('../../../src/lab/topologies/bgp.yaml', import.meta.url));
/** Docker's bridge address: what first-found picks on a node where docker0 comes first. */
const WRONG_ADDRESS = '172.17.0.1/16';

let dir: string;
let lab: LabState;
let deps: OperationDeps & { close(): Promise<void> };
const ctx = () => ({ onStep: () => undefined, signal: AbortSignal.timeout(90_000) });
const node = (name: string) => lab.plan.nodes.find((n) => n.name === name)!;
const socket = (name: string) => join(calicoRunDir(labPaths(LAB), name), BIRD_SOCKET_NAME);
const trace = async (dst: string) =>
  runTrace(deps, { namespace: 'default', src: 'pod-src', dst, capture: { enabled: false, seconds: 0 } }, ctx());
const tree = (fs: readonly Finding[]): unknown =>
  fs.filter((f) => f.severity !== 'info').map((f) => (f.children ? { [f.code]: tree(f.children) } : f.code));

/** BIRD's session from `on` to `peer` (bounded poll until `want` matches its line). */
const waitForSession = (on: string, peer: string, want: RegExp): Promise<string> =>
  waitForBirdSession(socket(on), meshProtocolName(node(peer).ip), want, `${on}'s session with ${peer}`);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k8snet-bgptr-'));
  const topology = parseYaml(await readFile(BGP_TOPOLOGY, 'utf8')) as {
    nodes: { name: string; calicoIPv4Address?: string }[];
    pods: unknown[];
  };
  topology.nodes[2]!.calicoIPv4Address = WRONG_ADDRESS;
  topology.pods.push({ name: 'pod-far', node: 'k8s-node3', containers: [{ name: 'web', ports: [80] }] });
  const path = join(dir, 'bgp-trace.yaml');
  await writeFile(path, stringify(topology));
  lab = await startLab(LAB, path);
  deps = await labDeps(LAB);
}, 180_000);

afterAll(async () => {
  await deps?.close();
  await stopLab(LAB);
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('trace and report on a BGP lab', () => {
  it("follows the proto bird route to the other node's block and finds nothing wrong on a healthy path", async () => {
    const { result } = await trace('pod-dest');
    expect(result.overlay).toEqual({ mode: 'none', device: null });
    // BIRD 2's kernel protocol adds its metric (32).
    expect(result.routeToDst).toMatch(
      new RegExp(`^${node('k8s-node2').block} via ${node('k8s-node2').ip} dev eth0 proto bird( metric \\d+)?$`),
    );
    expect(result.testConnection).toMatchObject({ ok: true });
    expect(tree(result.findings)).toEqual([]);
    // BIRD's sessions on both nodes, read with the host's birdcl (the lab has bird2 on the host).
    expect(result.bgp!.map((b) => [b.node, b.via, b.sessions.map((x) => x.state)])).toEqual([
      ['k8s-node1', 'host birdcl', ['Established', 'Established']],
      ['k8s-node2', 'host birdcl', ['Established', 'Established']],
    ]);
  }, 60_000);

  it("reports k8s-node3's wrong autodetected address under first-found autodetection, once", async () => {
    const { result } = await trace('pod-far');
    expect(result.routeToDst).toMatch(
      new RegExp(`^${node('k8s-node3').block} via ${node('k8s-node3').ip} dev eth0 proto bird`),
    );
    expect(tree(result.findings)).toEqual([{ calico_autodetect_first_found: ['calico_address_mismatch'] }]);
    const [cause] = result.findings;
    expect(cause!.evidence).toBe(
      `k8s-node3: projectcalico.org/IPv4Address 172.17.0.1, InternalIP ${node('k8s-node3').ip}`,
    );
    // Read from the Node's annotation and from the Calico Node the lab's API server serves, as Calico's would.
    expect(cause!.children![0]!.evidence).toBe(
      `projectcalico.org/IPv4Address=${WRONG_ADDRESS.split('/')[0]}; Calico Node spec.bgp.ipv4Address=${WRONG_ADDRESS}; status.addresses InternalIP=${node('k8s-node3').ip}`,
    );
    expect(cause!.children![0]!.message).toContain(
      `Calico autodetected ${WRONG_ADDRESS.split('/')[0]} for k8s-node3, not its InternalIP ${node('k8s-node3').ip}`,
    );
  }, 60_000);

  it('names tcp/179 dropped on k8s-node2 as the cause of its session not Established, with the rule', async () => {
    const n2 = node('k8s-node2').netns;
    const rules = [
      ['INPUT', '-p', 'tcp', '--dport', '179', '-j', 'DROP'],
      ['INPUT', '-p', 'tcp', '--sport', '179', '-j', 'DROP'],
    ];
    for (const r of rules) expect((await run(inNetns(n2, ['iptables', '-I', ...r]))).code).toBe(0);
    try {
      await waitForSession('k8s-node1', 'k8s-node2', /^\S+\s+BGP\s+\S+\s+(start|down)\b/);
      const { result } = await trace('pod-dest');
      const blocked = result.findings.find((f) => f.code === 'bgp_blocked' && f.message.includes('on k8s-node2'));
      expect(blocked).toBeDefined();
      expect(blocked!.evidence).toMatch(/^-A INPUT -p tcp -m tcp --[ds]port 179 -j DROP$/);
      const under = flattenFindings(blocked!.children ?? []).map((f) => f.code);
      expect(under).toContain('bgp_peer_down');
      // Nowhere else is the session down a cause of its own.
      expect(result.findings.filter((f) => f.code === 'bgp_peer_down')).toEqual([]);
    } finally {
      for (const r of rules) await run(inNetns(n2, ['iptables', '-D', ...r]));
    }
    await waitForSession('k8s-node1', 'k8s-node2', /Established/);
  }, 90_000);

  it('reports BIRD stopped on k8s-node3 as a peer down on the others, with the block whose route vanished', async () => {
    const block = node('k8s-node3').block;
    expect((await run(['birdcl', '-s', socket('k8s-node3'), 'down'])).code).toBe(0);
    await waitForSession('k8s-node1', 'k8s-node3', /^\S+\s+BGP\s+\S+\s+(start|down)\b/);
    await waitForSession('k8s-node2', 'k8s-node3', /^\S+\s+BGP\s+\S+\s+(start|down)\b/);

    const { result: report } = await runHealthReport(deps, ctx());
    const down = flattenFindings(report.findings).filter((f) => f.code === 'bgp_peer_down');
    for (const on of ['k8s-node1', 'k8s-node2'])
      expect(down.find((f) => f.message.includes(` on ${on}`))?.message).toMatch(
        new RegExp(
          `^BGP peer k8s-node3 \\(${node('k8s-node3').ip.replaceAll('.', '\\.')}\\) is \\S+ on ${on}.*; no route here to its block ${block}$`,
        ),
      );

    const { result: traced } = await trace('pod-far');
    const peerDown = flattenFindings(traced.findings).find(
      (f) => f.code === 'bgp_peer_down' && f.message.includes('on k8s-node1'),
    );
    expect(peerDown?.message).toContain(`no route here to its block ${block}`);
    // pod-far's packets now take the default route (to the lab switch): that follows from the session down.
    expect(flattenFindings(peerDown!.children ?? []).map((f) => f.code)).toContain('unexpected_next_hop');
    expect(traced.routeToDst).toMatch(/^default via /);

    const { result: routes } = await runRoutes(deps, { node: 'k8s-node1' }, ctx());
    expect(routes.routes.map((r) => r.route).filter((r) => r.startsWith(block))).toEqual([]);
    expect(routes.routes.find((r) => r.route.startsWith(node('k8s-node2').block))?.source).toBe('bird');
    // routes says why the block is gone: the session, with the block read from k8s-node3's own blackhole.
    expect(routes.findings.find((f) => f.code === 'bgp_peer_down')?.message).toMatch(
      new RegExp(`^BGP peer k8s-node3 .* on k8s-node1.*; no route here to its block ${block}$`),
    );
    expect(routes.bgp).toMatchObject({ via: 'host birdcl' });
    expect(routes.bgp!.sessions.map((b) => [b.name, b.state === 'Established'])).toEqual([
      [`Mesh_${node('k8s-node2').ip.replaceAll('.', '_')}`, true],
      [`Mesh_${node('k8s-node3').ip.replaceAll('.', '_')}`, false],
    ]);
  }, 120_000);
});
