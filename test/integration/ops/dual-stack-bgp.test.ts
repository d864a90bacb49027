/**
 * A dual-stack lab routed by BGP (dual-stack-bgp.yaml): each node runs BIRD and BIRD6 (bird.ctl, bird6.ctl), as
 * calico/node does. `trace -6` follows BIRD6's route with no false next-hop warning; `routes` shows both daemons'
 * sessions; tcp/179 dropped over IPv6 only (ip6tables) is named as the cause of the IPv6 sessions down, with BIRD's
 * IPv4 sessions untouched; BIRD6 crashed on a node is named as the cause of the others' sessions to it down (with
 * the IPv6 block whose route vanished, and that route's report finding, under them), and so is BIRD6 shut down
 * (no socket left), told by the others' refused sessions. The tests run in order and wait (bounded) for BIRD6.
 */
import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { labPaths } from '../../../src/lab/state.ts';
import { BIRD6_SOCKET_NAME, birdConfigPath, calicoRunDir, meshProtocolName } from '../../../src/lab/bird.ts';
import { runTrace } from '../../../src/ops/trace.ts';
import { runHealthReport } from '../../../src/ops/health-report.ts';
import { runRoutes } from '../../../src/ops/routes-op.ts';
import { flattenFindings, type Finding } from '../../../src/model/report.ts';
import { TOPOLOGIES, inNetns, run } from '../../support/lab.ts';
import { waitForBirdSession } from '../../support/bird-session.ts';
import { labForFile } from '../../support/lab-deps.ts';

const LAB = 'itdbgp';
const lab = labForFile(LAB, TOPOLOGIES.dualStackBgp);

const ctx = () => ({ onStep: () => undefined, signal: AbortSignal.timeout(90_000) });
const node = (name: string) => lab.state().plan.nodes.find((n) => n.name === name)!;
const socket6 = (name: string) => join(calicoRunDir(labPaths(LAB), name), BIRD6_SOCKET_NAME);
const trace6 = async () =>
  (
    await runTrace(
      lab.deps(),
      { namespace: 'default', src: 'pod-src', dst: 'pod-dest', family: 6, capture: { enabled: false, seconds: 0 } },
      ctx(),
    )
  ).result;
const problems = (fs: readonly Finding[]) => fs.filter((f) => f.severity !== 'info').map((f) => [f.code, f.message]);

/** BIRD6's session from `on` to `peer` (bounded poll until `want` matches its line). */
const waitForSession6 = async (on: string, peer: string, want: RegExp): Promise<void> => {
  await waitForBirdSession(socket6(on), meshProtocolName(node(peer).ipv6!), want, `${on}'s IPv6 session with ${peer}`);
};

describe('a dual-stack lab routed by BGP (BIRD and BIRD6)', () => {
  it('traces over IPv6 on the proto bird route to the node IPv6 address, reads BIRD6, and finds nothing wrong', async () => {
    const r = await trace6();
    const dest = node('k8s-node2');
    expect(r.routeToDst).toMatch(new RegExp(`^${dest.blockV6!} via ${dest.ipv6!} dev eth0 proto bird`));
    expect(r.bgp!.map((b) => [b.node, b.sessions.map((s) => [s.neighbor, s.state])])).toEqual([
      [
        'k8s-node1',
        [
          [dest.ipv6, 'Established'],
          [node('k8s-node3').ipv6, 'Established'],
        ],
      ],
      [
        'k8s-node2',
        [
          [node('k8s-node1').ipv6, 'Established'],
          [node('k8s-node3').ipv6, 'Established'],
        ],
      ],
    ]);
    expect(r.testConnection?.ok).toBe(true);
    expect(problems(r.findings)).toEqual([]);
  }, 90_000);

  it("routes shows BIRD's IPv4 and BIRD6's IPv6 sessions; report is clean", async () => {
    const { result, report } = await runRoutes(lab.deps(), { node: 'k8s-node1' }, ctx());
    expect(result.bgp!.sessions.map((s) => s.name)).toEqual(
      ['k8s-node2', 'k8s-node3'].map((n) => meshProtocolName(node(n).ip)),
    );
    expect(result.bgp6!.sessions.map((s) => [s.name, s.state])).toEqual(
      ['k8s-node2', 'k8s-node3'].map((n) => [meshProtocolName(node(n).ipv6!), 'Established']),
    );
    expect(report.sections.map((s) => s.title)).toContain(
      'k8s-node1: IPv6 BGP sessions (BIRD6, read with host birdcl)',
    );
    expect(result.routes6!.find((r) => r.route.startsWith(node('k8s-node2').blockV6!))?.source).toBe('bird');
    expect(problems(result.findings)).toEqual([]);
    expect(problems((await runHealthReport(lab.deps(), ctx())).result.findings)).toEqual([]);
  }, 90_000);

  it('names tcp/179 dropped over IPv6 on k8s-node2 (ip6tables) as the cause of the IPv6 sessions down', async () => {
    const n2 = node('k8s-node2').netns;
    const rules = [
      ['INPUT', '-p', 'tcp', '--dport', '179', '-j', 'DROP'],
      ['INPUT', '-p', 'tcp', '--sport', '179', '-j', 'DROP'],
    ];
    for (const r of rules) expect((await run(inNetns(n2, ['ip6tables', '-I', ...r]))).code).toBe(0);
    try {
      await waitForSession6('k8s-node1', 'k8s-node2', /^\S+\s+BGP\s+\S+\s+(start|down)\b/);
      const traced = await trace6();
      const blocked = traced.findings.find((f) => f.code === 'bgp_blocked' && f.message.includes('on k8s-node2'));
      expect(blocked?.message).toMatch(/on k8s-node2: BGP \(tcp\/179\) from other nodes cannot reach BIRD6/);
      expect(blocked!.evidence).toMatch(/^-A INPUT -p tcp -m tcp --[ds]port 179 -j DROP$/);
      const under = flattenFindings(blocked!.children ?? []);
      expect(under.find((f) => f.code === 'bgp_peer_down')?.message).toMatch(
        new RegExp(`^BGP peer k8s-node2 \\(${node('k8s-node2').ipv6!}\\) is \\S+ on k8s-node1`),
      );
      // The missing route to pod-dest's IPv6 block is that session's consequence, not a problem of its own.
      expect(under.map((f) => f.code)).toContain('no_route_to_dst');
      expect(traced.findings.filter((f) => f.code === 'no_route_to_dst')).toEqual([]);

      const { result: report } = await runHealthReport(lab.deps(), ctx());
      // BIRD's IPv4 sessions still stand: every session down is an IPv6 one, under the ip6tables rule.
      const down = flattenFindings(report.findings).filter((f) => f.code === 'bgp_peer_down');
      expect(down.length).toBeGreaterThan(0);
      expect(down.every((f) => /\(fd[0-9a-f:]+\)/.test(f.message))).toBe(true);
      expect(report.findings.filter((f) => f.severity === 'error').map((f) => f.code)).toEqual([
        'bgp_blocked',
        'bgp_blocked',
      ]);
    } finally {
      for (const r of rules) await run(inNetns(n2, ['ip6tables', '-D', ...r]));
    }
    await waitForSession6('k8s-node1', 'k8s-node2', /Established/);
  }, 120_000);

  it('names BIRD6 crashed on k8s-node3 (its socket refuses connections) over the IPv6 sessions and routes it took', async () => {
    const block = node('k8s-node3').blockV6!;
    // A crash, not a shutdown: the socket stays behind with nobody listening, as when BIRD dies in calico-node.
    const config = birdConfigPath(labPaths(LAB), 'k8s-node3', 6);
    expect((await run(['pkill', '-KILL', '-f', `^bird -f -c ${config} `])).code).toBe(0);
    await waitForSession6('k8s-node1', 'k8s-node3', /^\S+\s+BGP\s+\S+\s+(start|down)\b/);
    await waitForSession6('k8s-node2', 'k8s-node3', /^\S+\s+BGP\s+\S+\s+(start|down)\b/);

    const { result: report } = await runHealthReport(lab.deps(), ctx());
    const dead = report.findings.find((f) => f.code === 'bird_not_running');
    expect(dead?.message).toMatch(/^BIRD6 is not running on k8s-node3: nothing answers on its control socket /);
    expect(dead!.evidence).toBe(
      'Unable to connect to server control socket (/var/run/calico/bird6.ctl): Connection refused',
    );
    // The other nodes' sessions to it are down because of it, each with the route to its block that vanished.
    for (const on of ['k8s-node1', 'k8s-node2']) {
      const down = dead!.children?.find((f) => f.code === 'bgp_peer_down' && f.message.includes(` on ${on}`));
      expect(down?.message).toMatch(
        new RegExp(`^BGP peer k8s-node3 \\(.*\\) is \\S+ on ${on}.*; no route here to its block ${block}$`),
      );
      expect(down!.children?.map((f) => f.message)).toEqual([`route to ${block} (k8s-node3) missing on ${on}`]);
    }
    // One cause: nothing else is an error of its own (BIRD's IPv4 sessions are untouched).
    expect(report.findings.filter((f) => f.severity === 'error').map((f) => f.code)).toEqual(['bird_not_running']);

    const { result: routes } = await runRoutes(lab.deps(), { node: 'k8s-node1' }, ctx());
    expect(routes.bgp!.sessions.every((s) => s.state === 'Established')).toBe(true);
    expect(routes.bgp6!.sessions.map((s) => [s.neighbor, s.state === 'Established'])).toEqual([
      [node('k8s-node2').ipv6, true],
      [node('k8s-node3').ipv6, false],
    ]);
    expect(routes.findings.find((f) => f.code === 'bgp_peer_down')?.message).toMatch(
      new RegExp(`^BGP peer k8s-node3 .* on k8s-node1.*; no route here to its block ${block}$`),
    );
  }, 120_000);

  it("names BIRD6 shut down on k8s-node2 (no control socket) as not running, from the others' refused sessions", async () => {
    expect((await run(['birdcl', '-s', socket6('k8s-node2'), 'down'])).code).toBe(0);
    // The peers first see BIRD6's notification (Administrative shutdown), then their reconnects refused.
    await waitForSession6('k8s-node1', 'k8s-node2', /Connection refused/);
    const { result: report } = await runHealthReport(lab.deps(), ctx());
    const dead = report.findings.find((f) => f.code === 'bird_not_running' && f.message.includes('on k8s-node2'));
    expect(dead?.message).toBe(
      `BIRD6 is not running on k8s-node2: it has no control socket /var/run/calico/bird6.ctl, and k8s-node1's session to it is refused, so k8s-node2 has no IPv6 BGP sessions and announces no blocks (calico-node: "BIRD6 is not ready")`,
    );
    expect(dead!.evidence).toBe(
      'Unable to connect to server control socket (/var/run/calico/bird6.ctl): No such file or directory',
    );
    expect(dead!.children?.some((f) => f.code === 'bgp_peer_down' && f.message.includes(' on k8s-node1'))).toBe(true);
  }, 120_000);
});
