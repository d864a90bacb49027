/**
 * `report`: the cluster's network health on demand or on a schedule. Reads nodes, pods, Services, endpoints and
 * IP pools from the API, inspects every node in parallel under a concurrency limit (an unreachable node is a
 * finding, not a failure), judges (health-diagnosis.ts) and, given the previous report's memory, says what changed.
 * Optionally samples every node's tunnel device for a few seconds at once and summarizes the flows it saw.
 */
import { enabledPools, nodeInternalIP } from '../cluster/families.ts';
import { isIP } from 'node:net';
import type { Readable } from 'node:stream';
import { summarizeCapture } from '../pcap/index.ts';
import { runCaptures, type CapturePointRequest } from './capture-session.ts';
import { capturePointsTable } from './capture-report.ts';
import { CALICO_VXLAN, caliInterfaceName } from '../calico/naming.ts';
import { describeError } from '../errors.ts';
import { headlineFor, sortFindings, type Finding, type ReportSection } from '../model/report.ts';
import {
  compareWithPrevious,
  diagnoseHealth,
  type HealthChanges,
  type HealthNodeFacts,
  type ProblemMemory,
} from './health-diagnosis.ts';
import { mapLimit } from './concurrency.ts';
import { NODE_CONCURRENCY } from './service-ops.ts';
import { nodeTarget, type OperationDeps } from './deps.ts';
import { inspectNode, nodePortsOn, readRoutes, runOk } from './node-facts.ts';
import { sysctlNet } from '../node/catalogue.ts';
import { sysctlValues } from '../parse/sysctl.ts';
import { nodeBlocks } from './calico-blocks.ts';
import type { OperationContext, OperationOutcome } from './types.ts';
import { calicoConfigSection, diagnoseCalicoConfig } from './calico-config-diagnosis.ts';
import type { CalicoConfig } from '../cluster/types.ts';
import { readBirdProtocols } from './bird-read.ts';
import { hostKillers } from '../calico/felix-chains.ts';
import { readCounters, readTunnelAllowlists, type CounterRead } from './enforcement-facts.ts';
import { tunnelAllowlistFindings, type NodeFirewallFacts } from './packet-path.ts';
import { bgpAddressesOf, diagnoseBgp, nestBgpFindings, routedByBgp, type BgpNodeFacts } from './bgp-diagnosis.ts';
import { kubeProxyModeFindings } from './service-diagnosis.ts';
import type { KubeProxyMode } from '../dataplane/service-dataplane.ts';
import type { CalicoDataplane } from '../dataplane/kube-proxy-mode.ts';

/** The sysctl that makes a node route IPv6 (Calico turns it on for IPv6 pools). */
const IPV6_FORWARDING = 'net.ipv6.conf.all.forwarding';

export interface HealthReportResult {
  generatedAt: string;
  nodes: {
    name: string;
    ip: string;
    reachable: boolean;
    tunnel: string | null;
    routes: number;
    /** kube-proxy's mode on the node (its /proxyMode answer, else its rules); null: not read. */
    kubeProxyMode: KubeProxyMode | null;
    /** The node runs Calico's eBPF dataplane (bpfin.cali / bpfout.cali); null: not read. */
    calicoEbpf: boolean | null;
    /** Calico's dataplane on the node (eBPF devices, Felix's nftables table, or its cali-* chains); null: not seen. */
    calicoDataplane: CalicoDataplane | null;
    error: string | null;
  }[];
  /** kube-proxy's ConfigMap: the mode it was told; null: not read. */
  kubeProxyConfig: { mode: KubeProxyMode | null; configured: string } | null;
  pools: { name: string; cidr: string; vxlanMode: string; ipipMode: string; natOutgoing: boolean; disabled: boolean }[];
  changes: { appeared: string[]; resolved: string[]; ongoing: { message: string; since: string }[] } | null;
  /** Calico's and the cluster's configuration as read (cluster/calico-config.ts). */
  calicoConfig: CalicoConfig;
  /** Only when a tunnel sample was asked for. */
  sample?: {
    seconds: number;
    points: { node: string; interface: string; packets: number | null; flows: number | null; error: string | null }[];
  };
  findings: Finding[];
}

/** How much of each tunnel's flows the report lists: a summary, not a capture viewer. */
const SAMPLE_FLOWS_PER_NODE = 5;

/** Captures on every reachable node's tunnel device at once (nothing to sample without an overlay). */
async function sampleTunnels(
  deps: OperationDeps,
  ctx: OperationContext,
  nodes: readonly { facts: HealthNodeFacts; target: CapturePointRequest['node'] | null }[],
  seconds: number,
) {
  const points: CapturePointRequest<'tunnel'>[] = nodes.flatMap(({ facts, target }) => {
    const device = facts.links?.find((l) => (l.name === 'vxlan.calico' || l.name === 'tunl0') && l.up)?.name;
    return target && device
      ? [
          {
            node: target,
            role: 'tunnel' as const,
            spec: {
              interface: device,
              hosts: [],
              ports: [],
              includeTunnel: false,
              maxPackets: deps.capture.maxPackets,
              maxSeconds: seconds,
              snapLength: deps.capture.snapLength,
            },
          },
        ]
      : [];
  });
  const { points: results } = await runCaptures(
    deps.shell,
    points,
    (pcap: Readable) => summarizeCapture(pcap, { signal: ctx.signal }),
    { signal: ctx.signal, locks: deps.captureLocks },
  );
  return {
    result: {
      seconds,
      points: results.map((r) => ({
        node: r.node,
        interface: r.interface,
        packets: r.summary?.packets ?? null,
        flows: r.summary?.flows.length ?? null,
        error: r.error,
      })),
    },
    section: capturePointsTable(
      `Tunnel sample (${seconds} s): flows on each node's tunnel device`,
      results.map((r) => ({ label: `${r.node}/${r.interface}`, summary: r.summary, error: r.error })),
      SAMPLE_FLOWS_PER_NODE,
    ),
  };
}

export async function runHealthReport(
  deps: OperationDeps,
  ctx: OperationContext,
  previous: ProblemMemory | null = null,
  now = new Date(),
  options: { tunnelSampleSeconds?: number } = {},
): Promise<OperationOutcome<HealthReportResult> & { memory: ProblemMemory }> {
  ctx.onStep('reading the cluster');
  const [nodes, pods, services, pools, calicoConfig, calicoNodes, kubeProxyConfig] = await Promise.all([
    deps.cluster.listNodes(),
    deps.cluster.listPods(),
    deps.cluster.listServices(),
    deps.cluster.listIpPools(),
    deps.cluster.readCalicoConfig(),
    // Only Calico's API server serves these; without it the annotations are all there is.
    deps.cluster.listCalicoNodes().catch(() => null),
    deps.cluster.readKubeProxyConfig().catch(() => null),
  ]);
  const withEndpoints = await mapLimit(services, NODE_CONCURRENCY, async (s) => ({
    ...s,
    readyEndpoints:
      Object.keys(s.selector).length === 0
        ? 0
        : (await deps.cluster.listEndpoints(s.namespace, s.name)).filter((e) => e.ready).length,
  }));

  // kube-proxy writes an IPv6 Service's NodePorts in its IPv6 tables only (a dual-stack one's in both).
  const ipv6Services = services.some((s) => s.clusterIPs.some((ip) => isIP(ip) === 6));
  ctx.onStep(`inspecting ${nodes.length} nodes`);
  const targets = new Map<string, CapturePointRequest['node']>();
  const nodeFacts = await mapLimit(nodes, NODE_CONCURRENCY, async (node): Promise<HealthNodeFacts> => {
    const base = { name: node.name, ip: node.internalIP ?? '?', blocks: node.podCIDRs.filter((c) => !c.includes(':')) };
    // blocks: spec.podCIDRs until the route tables are read (then Calico's own blocks where it has any).
    try {
      const target = nodeTarget(deps, node);
      targets.set(node.name, target);
      const facts = await inspectNode(deps.shell, target, ctx.signal);
      if (facts.error)
        return { ...base, routes: null, links: null, ipForward: null, nodePorts: null, error: facts.error };
      const { nodePorts, nodePortsV6, detected } = await nodePortsOn(
        deps.shell,
        target,
        ctx.signal,
        kubeProxyConfig?.mode ?? null,
        ipv6Services,
      );
      return {
        ...base,
        routes: facts.routes,
        links: facts.links,
        ipForward: facts.ipForward,
        nodePorts,
        ...(nodePortsV6 === undefined ? {} : { nodePortsV6 }),
        detected,
        ...(facts.underlayIPs ? { underlayIPs: facts.underlayIPs } : {}),
        error: null,
      };
    } catch (err) {
      return { ...base, routes: null, links: null, ipForward: null, nodePorts: null, error: describeError(err) };
    }
  });

  /** The node's Calico tunnel device (VXLAN's VTEP or IP-in-IP's tunl0), when it has one. */
  const tunnel = (n: HealthNodeFacts) => n.links?.find((l) => l.name === 'vxlan.calico' || l.name === 'tunl0') ?? null;

  // Each reachable node's tables with counters, read once for whichever check needs them (BGP, tunnel allowlists).
  const counterReads = new Map<string, Promise<CounterRead>>();
  const countersOn = (name: string, target: CapturePointRequest['node'], family: 4 | 6 = 4) => {
    const key = `${name}/${family}`;
    if (!counterReads.has(key)) counterReads.set(key, readCounters(deps.shell, target, ctx.signal, family));
    return counterReads.get(key)!;
  };

  // Felix's tunnel allowlists on every node, against every other node's addresses: a node Calico does not list
  // cannot tunnel to it, whatever the policies say — found here before anyone traces a failing connection. Per
  // family: VXLAN and IP-in-IP over the IPv4 pools (cali40…, iptables), VXLAN over the IPv6 pools (cali60…,
  // ip6tables; IP-in-IP carries IPv4 only).
  const allowlistChecks = ([4, 6] as const)
    .map((family) => ({
      family,
      tunnels: [
        ...new Set(
          enabledPools(pools, family).flatMap((p) => [
            ...(p.vxlanMode !== 'Never' ? ['vxlan'] : []),
            ...(p.ipipMode !== 'Never' && family === 4 ? ['ipip'] : []),
          ]),
        ),
      ],
    }))
    .filter((c) => c.tunnels.length > 0);
  const allowlistFirewalls: NodeFirewallFacts[] =
    allowlistChecks.length === 0
      ? []
      : await mapLimit(nodeFacts, NODE_CONCURRENCY, async (f): Promise<NodeFirewallFacts> => {
          const target = targets.get(f.name);
          if (!target || f.error) return { node: f.name, diff: null, killers: [] };
          const lists = await Promise.all(
            allowlistChecks.flatMap(({ family, tunnels }) =>
              tunnels.map(async (t) =>
                readTunnelAllowlists(
                  deps.shell,
                  target,
                  await countersOn(f.name, target, family),
                  t,
                  family,
                  ctx.signal,
                ),
              ),
            ),
          );
          return { node: f.name, diff: null, killers: [], allowlists: lists.flat() };
        });
  /**
   * The nodes that tunnel over `family` themselves (their VTEP or tunl0 up, vxlan-v6.calico for IPv6), as senders the
   * others' allowlists must list: at their IPv4 address and uplink addresses, or at their IPv6 InternalIP.
   */
  const tunnelSenders = (family: 4 | 6) =>
    nodeFacts.flatMap((f) => {
      if (f.error !== null) return [];
      if (family === 4) return tunnel(f)?.up === true ? [f] : [];
      const ipv6 = nodeInternalIP(
        nodes.find((n) => n.name === f.name),
        6,
      );
      const up = f.links?.some((l) => l.name === CALICO_VXLAN.deviceV6 && l.up) === true;
      return up && ipv6 ? [{ name: f.name, ip: ipv6 }] : [];
    });
  const allowlistFound = allowlistChecks.flatMap(({ family }) =>
    tunnelAllowlistFindings(
      allowlistFirewalls.map((fw) => ({
        ...fw,
        allowlists: fw.allowlists?.filter((a) => a.allowlist.family === family),
      })),
      tunnelSenders(family),
      (name) => (family === 4 ? (nodes.find((n) => n.name === name)?.calicoIPv4Address ?? null) : null),
    ),
  );

  // Calico IPAM's blocks are not spec.podCIDRs: each node's own come from its blackholes (calico-blocks.ts).
  const blocks = nodeBlocks(
    nodeFacts.map((f) => ({ name: f.name, podCIDRs: f.blocks, routes: f.routes })),
    pools,
  );
  for (const f of nodeFacts) f.blocks = blocks.get(f.name) ?? f.blocks;

  // With an IPv6 pool, the same route checks over IPv6: each node's `ip -6 route`, its IPv6 blocks, and whether it
  // forwards IPv6 at all.
  const pools6 = enabledPools(pools, 6);
  if (pools6.length > 0) {
    const routes6 = await mapLimit(nodeFacts, NODE_CONCURRENCY, async (f) => {
      const target = targets.get(f.name);
      if (!target || f.error) return null;
      const [routes, sysctl] = await Promise.all([
        readRoutes(deps.shell, target, ctx.signal, 6).then(
          (r) => r.routes,
          () => null,
        ),
        runOk(deps.shell, target, sysctlNet([IPV6_FORWARDING]), ctx.signal).catch(() => null),
      ]);
      const forwarding = sysctl === null ? undefined : sysctlValues(sysctl)[IPV6_FORWARDING];
      return { routes, forwarding: forwarding === undefined ? null : forwarding === '1' };
    });
    const blocks6 = nodeBlocks(
      nodeFacts.map((f, i) => ({
        name: f.name,
        podCIDRs: nodes.find((n) => n.name === f.name)?.podCIDRs.filter((c) => c.includes(':')) ?? [],
        routes: routes6[i]?.routes ?? null,
      })),
      pools6,
    );
    nodeFacts.forEach((f, i) => {
      const address = nodeInternalIP(
        nodes.find((n) => n.name === f.name),
        6,
      );
      const read = routes6[i];
      f.ipv6 = {
        routes: read?.routes ?? null,
        blocks: blocks6.get(f.name) ?? [],
        address,
        forwarding: read?.forwarding ?? null,
      };
    });
  }

  // BGP: BIRD's sessions (BIRD6's for an IPv6 pool BIRD routes) and the host rules in BGP's way, on every node the
  // report could reach; each family judged with its own addresses, routes and blocks.
  const bgpOf = (family: 4 | 6): Promise<BgpNodeFacts[]> =>
    mapLimit(nodes, NODE_CONCURRENCY, async (node): Promise<BgpNodeFacts> => {
      const facts = nodeFacts.find((f) => f.name === node.name)!;
      const target = targets.get(node.name);
      const base = {
        name: node.name,
        ...bgpAddressesOf(
          node,
          calicoNodes?.find((c) => c.name === node.name),
          family,
        ),
        routes: family === 6 ? (facts.ipv6?.routes ?? null) : facts.routes,
        blocks: family === 6 ? (facts.ipv6?.blocks ?? []) : facts.blocks,
      };
      if (!target || facts.error)
        return { ...base, bird: null, birdError: facts.error ?? 'not inspected', bgpDrops: [] };
      const [bird, counters] = await Promise.all([
        readBirdProtocols(deps.shell, target, ctx.signal, family).then((r) =>
          r.bird ? { bird: r.bird, birdError: null } : { bird: null, birdError: r.error, birdUnreadable: r.failed },
        ),
        countersOn(node.name, target, family),
      ]);
      const filter = 'save' in counters ? counters.save.tables.get('filter') : undefined;
      return {
        ...base,
        ...bird,
        bgpDrops: filter ? hostKillers(filter).filter((k) => k.kind === 'input-drops-bgp') : [],
      };
    });
  const bgp = (
    await Promise.all([
      routedByBgp(pools, 4) ? bgpOf(4) : [],
      pools6.length > 0 && routedByBgp(pools, 6) ? bgpOf(6) : [],
    ])
  ).flat();

  let sample: Awaited<ReturnType<typeof sampleTunnels>> | null = null;
  if (options.tunnelSampleSeconds) {
    ctx.onStep(`sampling the tunnel devices for ${options.tunnelSampleSeconds} s`);
    sample = await sampleTunnels(
      deps,
      ctx,
      nodeFacts.filter((f) => f.error === null).map((f) => ({ facts: f, target: targets.get(f.name) ?? null })),
      options.tunnelSampleSeconds,
    );
  }

  const findings = sortFindings(
    nestBgpFindings([
      ...diagnoseHealth({
        nodes: nodeFacts,
        pools,
        pods: pods.map((p) => ({ ...p, caliInterface: caliInterfaceName(p.namespace, p.name) })),
        services: withEndpoints,
      }),
      ...diagnoseCalicoConfig({
        config: calicoConfig,
        pools,
        nodes: nodes.map((n) => ({
          name: n.name,
          internalIP: n.internalIP,
          calicoIPv4Address: n.calicoIPv4Address ?? null,
          links: nodeFacts.find((f) => f.name === n.name)?.links ?? null,
        })),
      }),
      ...diagnoseBgp(bgp),
      ...allowlistFound,
      ...nodeFacts.flatMap((n) =>
        n.detected
          ? kubeProxyModeFindings({ name: n.name, detected: n.detected, mode: n.detected.mode }, kubeProxyConfig)
          : [],
      ),
    ]),
  );
  const stamp = now.toISOString().slice(0, 16).replace('T', ' ');
  const changes: HealthChanges = compareWithPrevious(findings, previous, stamp);
  const result: HealthReportResult = {
    generatedAt: now.toISOString(),
    nodes: nodeFacts.map((n) => ({
      name: n.name,
      ip: n.ip,
      reachable: n.error === null,
      tunnel: tunnel(n) ? `${tunnel(n)!.name} ${tunnel(n)!.up ? 'up' : 'DOWN'}` : null,
      routes: n.routes?.length ?? 0,
      kubeProxyMode: n.detected?.mode ?? null,
      calicoEbpf: n.detected?.calicoEbpf ?? null,
      calicoDataplane: n.detected?.calicoDataplane ?? null,
      error: n.error,
    })),
    kubeProxyConfig: kubeProxyConfig ? { mode: kubeProxyConfig.mode, configured: kubeProxyConfig.configured } : null,
    pools: pools.map((p) => ({
      name: p.name,
      cidr: p.cidr,
      vxlanMode: p.vxlanMode,
      ipipMode: p.ipipMode,
      natOutgoing: p.natOutgoing,
      disabled: p.disabled,
    })),
    changes:
      previous === null
        ? null
        : {
            appeared: changes.appeared.map((f) => f.message),
            resolved: changes.resolved.map((r) => r.message),
            ongoing: changes.ongoing.map((o) => ({ message: o.finding.message, since: o.since })),
          },
    calicoConfig,
    ...(sample ? { sample: sample.result } : {}),
    findings,
  };
  const sections: ReportSection[] = [
    {
      kind: 'table',
      title: `Nodes${kubeProxyConfig ? ` (kube-proxy's ConfigMap: mode ${kubeProxyConfig.configured || `"" = ${kubeProxyConfig.mode}`})` : ''}`,
      columns: ['NODE', 'IP', 'REACHABLE', 'TUNNEL', 'ROUTES', 'SERVICES BY', 'CALICO'],
      rows: result.nodes.map((n) => [
        n.name,
        n.ip,
        n.reachable ? 'yes' : `NO: ${n.error}`,
        n.tunnel ?? '-',
        String(n.routes),
        // Calico's eBPF dataplane replaces kube-proxy's rules; else the mode kube-proxy runs (its word, else its rules).
        n.calicoEbpf ? 'Calico eBPF' : n.kubeProxyMode ? `kube-proxy ${n.kubeProxyMode}` : '?',
        n.calicoDataplane ?? '?',
      ]),
    },
    {
      kind: 'table',
      title: 'IP pools',
      columns: ['POOL', 'CIDR', 'VXLAN', 'IPIP', 'NAT OUT', 'DISABLED'],
      rows: result.pools.map((p) => [
        p.name,
        p.cidr,
        p.vxlanMode,
        p.ipipMode,
        String(p.natOutgoing),
        String(p.disabled),
      ]),
    },
    calicoConfigSection(calicoConfig),
  ];
  if (sample) sections.push(sample.section);
  if (result.changes) {
    const lines = [
      ...result.changes.appeared.map((m) => `NEW       ${m}`),
      ...result.changes.resolved.map((m) => `RESOLVED  ${m}`),
      ...result.changes.ongoing.map((o) => `ONGOING   ${o.message} since ${o.since}`),
    ];
    sections.unshift({
      kind: 'preformatted',
      title: 'Changes since the previous report',
      text: lines.join('\n') || 'nothing changed',
    });
  }
  const changed =
    result.changes && (result.changes.appeared.length > 0 || result.changes.resolved.length > 0)
      ? ` (${result.changes.appeared.length} new, ${result.changes.resolved.length} resolved)`
      : '';
  return {
    memory: changes.memory,
    result,
    report: {
      title: `network health — ${nodes.length} nodes`,
      headline: `${findings.some((f) => f.severity !== 'info') ? headlineFor(findings) : 'all good'}${changed}`,
      findings,
      sections,
      attachments: [],
    },
  };
}
