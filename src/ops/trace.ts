/**
 * `trace SRC DST`: the by-hand walk from one pod to another, done by software. Resolves both pods, their nodes
 * and the IP pool; inspects both nodes (routes, links, forwarding); looks inside the destination pod for a
 * listener; captures at the same moment on the source cali, the source node's tunnel and uplink and the
 * destination node's tunnel (or cali) while a bounded test connection runs; then judges (trace-diagnosis.ts).
 */
import type { Readable } from 'node:stream';
import type { NodeInfo, PodInfo } from '../cluster/types.ts';
import type { CaptureSpec, NodeTarget } from '../node/types.ts';
import { summarizeCapture, type CaptureSummary } from '../pcap/index.ts';
import { CAPTURE_LIMITS } from '../node/catalogue.ts';
import { calicoPodGateway, caliInterfaceName } from '../calico/naming.ts';
import { headlineFor, sortFindings, type Finding, type ReportAttachment, type ReportSection } from '../model/report.ts';
import { InvalidInputError, describeError } from '../errors.ts';
import { ipFamily } from '../validate.ts';
import { ipFamilyOf } from '../net/ip-range.ts';
import {
  diagnoseTrace,
  lookupRoute,
  nestTraceFindings,
  overlayBetween,
  podPacketDecision,
  poolFor,
} from './trace-diagnosis.ts';
import { decisionEvidence, type RouteDecision } from './route-lookup.ts';
import {
  firewallFindings,
  packetPathVerdicts,
  tunnelAllowlistFindings,
  type NodeFirewallFacts,
} from './packet-path.ts';
import { hostKillers } from '../calico/felix-chains.ts';
import { ebpfNodeFinding, runsCalicoEbpf } from '../calico/ebpf.ts';
import type { CapturePointFacts, NodeFacts, PodEnd, PodInside, TraceFacts } from './trace-facts.ts';
import { CAPTURE_SETUP_SECONDS, runCaptures, type CapturePointRequest } from './capture-session.ts';
import { capturePointsTable, sampleSection } from './capture-report.ts';
import { nodeTarget, type OperationDeps } from './deps.ts';
import {
  TEST_CONNECT_SECONDS,
  detectModeFromSave,
  discoverNetns,
  inspectNode,
  listenersIn,
  readPodInside,
  testConnect,
} from './node-facts.ts';
import type { OperationContext, OperationOutcome } from './types.ts';
import { bgpAddressesOf, diagnoseBgp, nestBgpFindings, routedByBgp, type BgpNodeFacts } from './bgp-diagnosis.ts';
import { calicoOwnBlocks } from './calico-blocks.ts';
import { diagnoseCalicoConfig } from './calico-config-diagnosis.ts';
import { SESSION_COLUMNS, readBirdProtocols, sessionRow, sessionsJson, type BgpSessionJson } from './bird-read.ts';
import type { CalicoConfig } from '../cluster/types.ts';
import type { SideVerdict } from '../policy/index.ts';
import type { CalicoDataplane } from '../dataplane/kube-proxy-mode.ts';
import type { KubeProxyMode } from '../dataplane/service-dataplane.ts';
import {
  counterDelta,
  counterTool,
  dropFindings,
  programmedFindings,
  calicoDataplaneOf,
  readCounters,
  readTunnelAllowlists,
  walkWorkload,
  workloadChainText,
  type NodeCounterDelta,
} from './enforcement-facts.ts';
import {
  judgeConnection,
  podEndpoint,
  policyFindings,
  policyReadFailed,
  policySection,
  portsToJudge,
  readPolicyContext,
  type PolicyContext,
  type PortVerdict,
} from './policy-facts.ts';

export interface TraceCommand {
  namespace: string;
  src: string;
  dst: string;
  /** Namespace of DST when it differs (`ns/pod`). */
  dstNamespace?: string;
  /** The destination port to test and judge; default: the destination's container ports (the first TCP one is tested). */
  port?: number;
  /** Skip the bounded test connection (and so the counters' before/after) when there is no capture. */
  noTest?: boolean;
  /** The address family to trace in (`--ipv4`/`--ipv6`, for dual-stack pods); default: the pods' primary addresses. */
  family?: 4 | 6;
  capture: { enabled: boolean; seconds: number };
}

export interface TraceEndResult {
  name: string;
  namespace: string;
  ip: string | null;
  node: string | null;
  nodeIP: string | null;
  caliInterface: string;
  caliExists: boolean | null;
  phase: string;
  /** The node's uplink (the interface holding its address). */
  uplink: string | null;
  /** Calico's dataplane on the pod's node: eBPF devices, Felix's nftables table, or its cali-* iptables chains. */
  calicoDataplane: CalicoDataplane | null;
  /** kube-proxy's mode on the pod's node, from its rules (nat KUBE-SERVICES, else its nftables table); null: not seen. */
  kubeProxyMode: KubeProxyMode | null;
  /** Inside the pod's namespace, after the test connection (null: not read). */
  inside: null | {
    eth0: { up: boolean; mtu: number | null; addresses: string[] } | null;
    routes: string[];
    gateway: string | null;
    error: string | null;
  };
}

export interface TraceResult {
  src: TraceEndResult;
  dst: TraceEndResult;
  overlay: { mode: string; device: string | null };
  pool: { name: string; cidr: string; vxlanMode: string; ipipMode: string } | null;
  /** The source node's route that carries the packet, as the node printed it. */
  routeToDst: string | null;
  /** The destination node's route to the pod. */
  routeToPod: string | null;
  testConnection: { port: number; ok: boolean; detail: string } | null;
  /** Per node: the DROP/REJECT rules whose counters grew during the test connection (null: tables not read). */
  counters: {
    node: string;
    error: string | null;
    drops: { table: string; chain: string; rule: string; packets: number }[];
  }[];
  /** The network policy verdict per judged port; null when policies could not be read. */
  policy: null | {
    read: string[];
    verdicts: {
      port: number;
      protocol: string;
      allowed: boolean | 'unknown';
      egress: PolicySideJson;
      ingress: PolicySideJson;
    }[];
  };
  capture: null | {
    seconds: number;
    points: {
      node: string;
      interface: string;
      role: string;
      packets: number;
      badUdpChecksums: number;
      flows: ReturnType<typeof flowJson>[];
      error: string | null;
    }[];
  };
  /** BIRD's sessions on the two nodes, where the path's pool is routed by BGP (null: not routed by BGP). */
  bgp: null | { node: string; via: string | null; error: string | null; sessions: BgpSessionJson[] }[];
  /** Where the test connection's packets stop, per direction (the path findings' messages); [] when they arrive or nothing was captured. */
  path: string[];
  findings: Finding[];
}

type Role = CapturePointFacts['role'];

interface PolicySideJson {
  isolated: boolean;
  verdict: string;
  reason: string;
  decidedBy: SideVerdict['decidedBy'];
}

const sideJson = (s: SideVerdict): PolicySideJson => ({
  isolated: s.isolated,
  verdict: s.verdict,
  reason: s.reason,
  decidedBy: s.decidedBy,
});

const ROLE_TEXT: Record<Role, string> = {
  'src-pod': 'source pod',
  'src-tunnel': 'source tunnel',
  'src-uplink': 'source uplink',
  'dst-uplink': 'destination uplink',
  'dst-tunnel': 'destination tunnel',
  'dst-pod': 'destination pod',
};
/** Sample lines per shown capture point: enough for a handshake and its close. */
const TRACE_SAMPLE_LINES = 8;

function flowJson(f: CaptureSummary['flows'][number]) {
  return {
    src: f.src,
    dst: f.dst,
    proto: f.proto,
    sport: f.sport,
    dport: f.dport,
    packets: f.packets,
    bytes: f.bytes,
    tunnel: f.tunnel,
    tcpFlags: f.tcpFlags,
    handshake: f.handshake,
    resets: f.resets,
    retransmissions: f.retransmissions,
  };
}

function firstTcpPort(pod: PodInfo): number | null {
  for (const c of pod.containers)
    for (const p of c.ports) if (p.protocol.toUpperCase() === 'TCP') return p.containerPort;
  return null;
}

async function nodeOf(deps: OperationDeps, pod: PodInfo): Promise<NodeInfo | null> {
  return pod.nodeName ? deps.cluster.getNode(pod.nodeName) : null;
}

function insideJson(inside: PodInside): NonNullable<TraceEndResult['inside']> {
  const eth0 = inside.links.find((l) => l.name === 'eth0');
  const gw = inside.neighbours.find((n) => n.ip === calicoPodGateway(inside.family ?? 4));
  return {
    eth0: eth0 ? { up: eth0.up, mtu: eth0.mtu, addresses: inside.addresses.eth0 ?? [] } : null,
    routes: inside.routes.map((r) => r.raw),
    gateway: gw ? `${gw.ip}${gw.lladdr ? ` lladdr ${gw.lladdr}` : ''} ${gw.state.join(' ')}`.trim() : null,
    error: inside.error,
  };
}

function endResult(
  end: PodEnd,
  calicoDataplane: CalicoDataplane | null,
  kubeProxyMode: KubeProxyMode | null,
): TraceEndResult {
  return {
    name: end.pod.name,
    namespace: end.pod.namespace,
    ip: end.pod.podIP,
    node: end.pod.nodeName,
    nodeIP: end.node?.ip ?? null,
    caliInterface: end.caliInterface,
    caliExists: end.node?.links ? end.node.links.some((l) => l.name === end.caliInterface) : null,
    phase: end.pod.phase,
    uplink: end.node?.uplink ?? null,
    calicoDataplane,
    kubeProxyMode,
    inside: end.inside ? insideJson(end.inside) : null,
  };
}

/**
 * The node-side bound covers the test connection too (up to TEST_CONNECT_SECONDS when nothing answers), so a short
 * window still sees its last SYN; the capture itself is stopped by runCaptures once the window and the test are over.
 */
function captureSpec(
  deps: OperationDeps,
  iface: string,
  hosts: string[],
  seconds: number,
  includeTunnel: boolean,
  netns?: string,
): CaptureSpec {
  // IPv6's headers are 20 bytes longer than IPv4's, twice in a VXLAN-over-IPv6 packet: the same room past them.
  const ipv6 = hosts.some((h) => h.includes(':'));
  return {
    interface: iface,
    hosts,
    ports: [],
    includeTunnel,
    maxPackets: deps.capture.maxPackets,
    maxSeconds: Math.max(seconds, TEST_CONNECT_SECONDS) + CAPTURE_SETUP_SECONDS,
    snapLength: Math.min(deps.capture.snapLength + (ipv6 ? IPV6_EXTRA_HEADER_BYTES : 0), CAPTURE_LIMITS.snapLength.max),
    ...(netns ? { netns } : {}),
  };
}

/** An IPv6 header (40) less an IPv4 one (20), for the outer and the inner header of a tunnelled packet. */
const IPV6_EXTRA_HEADER_BYTES = 2 * (40 - 20);

/** An uplink that could not be found (no `ip addr` answer) is captured as eth0, the most common name. */
const FALLBACK_UPLINK = 'eth0';

/**
 * Every hop at once: the source pod's cali, the source tunnel and uplink, the destination uplink and tunnel, the
 * destination pod's cali (same-node pairs: the two cali interfaces; no overlay: cali, uplink, uplink, cali).
 */
function capturePoints(
  deps: OperationDeps,
  facts: TraceFacts,
  targets: { src: NodeTarget; dst: NodeTarget },
  seconds: number,
): CapturePointRequest<Role>[] {
  const pods = [facts.src.pod.podIP!, facts.dst.pod.podIP!];
  const at = (node: NodeTarget, role: Role, iface: string, tunnel = false): CapturePointRequest<Role> => ({
    node,
    role,
    spec: captureSpec(deps, iface, pods, seconds, tunnel),
  });
  if (targets.src.name === targets.dst.name)
    return [at(targets.src, 'src-pod', facts.src.caliInterface), at(targets.dst, 'dst-pod', facts.dst.caliInterface)];
  const device = facts.overlay.device;
  // On the uplinks the pods' packets are inside the tunnel: keep the tunnel between the two nodes too.
  return [
    at(targets.src, 'src-pod', facts.src.caliInterface),
    ...(device ? [at(targets.src, 'src-tunnel', device)] : []),
    at(targets.src, 'src-uplink', facts.src.node?.uplink ?? FALLBACK_UPLINK, true),
    at(targets.dst, 'dst-uplink', facts.dst.node?.uplink ?? FALLBACK_UPLINK, true),
    ...(device ? [at(targets.dst, 'dst-tunnel', device)] : []),
    at(targets.dst, 'dst-pod', facts.dst.caliInterface),
  ];
}

function toPointFacts(p: {
  node: string;
  interface: string;
  role: Role;
  summary: CaptureSummary | null;
  error: string | null;
}): CapturePointFacts {
  return {
    node: p.node,
    interface: p.interface,
    role: p.role,
    packets: p.summary?.packets ?? 0,
    badUdpChecksums: p.summary?.badUdpChecksums ?? 0,
    flows: p.summary?.flows ?? [],
    error: p.error ?? p.summary?.errors[0] ?? null,
  };
}

/**
 * The pod as seen in one family: its address of that family as podIP, so every later step (routes, counters, the
 * test connection, captures) works in it. A pod with no address of that family cannot be traced in it.
 */
export function podInFamily(pod: PodInfo, family: 4 | 6): PodInfo {
  if (pod.hostNetwork || pod.podIPs.length === 0) return pod;
  const ip = pod.podIPs.find((a) => ipFamilyOf(a) === family);
  if (ip === undefined)
    throw new InvalidInputError(
      `--ipv${family}`,
      `${pod.namespace}/${pod.name} has no IPv${family} address (status.podIPs: ${pod.podIPs.join(', ')})`,
    );
  return { ...pod, podIP: ip };
}

export async function runTrace(
  deps: OperationDeps,
  cmd: TraceCommand,
  ctx: OperationContext,
): Promise<OperationOutcome<TraceResult>> {
  ctx.onStep('resolving pods');
  const [srcPod, dstPod] = (
    await Promise.all([
      deps.cluster.getPod(cmd.namespace, cmd.src),
      deps.cluster.getPod(cmd.dstNamespace ?? cmd.namespace, cmd.dst),
    ])
  ).map((pod) => (cmd.family ? podInFamily(pod, cmd.family) : pod)) as [PodInfo, PodInfo];
  const [srcNodeInfo, dstNodeInfo, pools] = await Promise.all([
    nodeOf(deps, srcPod),
    nodeOf(deps, dstPod),
    deps.cluster.listIpPools(),
  ]);
  const srcTarget = srcNodeInfo ? nodeTarget(deps, srcNodeInfo) : null;
  const dstTarget = dstNodeInfo ? nodeTarget(deps, dstNodeInfo) : null;

  ctx.onStep('inspecting nodes and pods, reading network policies');
  const sameNode = srcTarget !== null && srcTarget.name === dstTarget?.name;
  // A dual-stack pod is traced in the family of its primary address (the one asked for): ip -6 and ip6tables-save for IPv6.
  const family = dstPod.podIP ? ipFamily(dstPod.podIP) : 4;
  // The tables with counters before and after the test connection: the rules that counted its packets are the
  // evidence of where they died. Read on each node once (same-node pairs share one read).
  const counterNodes = [srcTarget, sameNode ? null : dstTarget].filter((t): t is NodeTarget => t !== null);
  const readAll = () => Promise.all(counterNodes.map((t) => readCounters(deps.shell, t, ctx.signal, family)));
  const inspect = (t: NodeTarget | null): Promise<NodeFacts | null> =>
    t ? inspectNode(deps.shell, t, ctx.signal, { family }) : Promise.resolve(null);
  const netnsOf = (t: NodeTarget | null, pod: PodInfo) =>
    t ? discoverNetns(deps.shell, t, pod, ctx.signal) : Promise.resolve(null);
  // None of these depends on another: the nodes, the pods' namespaces, the policies and the counters' first read
  // go out in one round (a node that cannot be inspected has its namespace lookup fail too, which is then null).
  const [srcNode, dstNodeMaybe, policyRead, srcNs, dstNs, countersBefore, calicoConfig] = await Promise.all([
    inspect(srcTarget),
    sameNode ? Promise.resolve(null) : inspect(dstTarget),
    readPolicyContext(deps.cluster).then(
      (context): { context: PolicyContext } | { error: unknown } => ({ context }),
      (error: unknown) => ({ error }),
    ),
    netnsOf(srcTarget, srcPod),
    netnsOf(dstTarget, dstPod),
    readAll(),
    // Calico's configuration explains findings on the path (the address it autodetected, the MTU it was told).
    deps.cluster.readCalicoConfig().catch((): CalicoConfig | null => null),
  ]);
  const dstNode = dstNodeMaybe ?? (sameNode ? srcNode : null);

  const pool = dstPod.podIP ? poolFor(pools, dstPod.podIP) : null;
  // The node's own packet to the other node (the tunnel's outer header): from its address, out of lo, no mark.
  const toDstNode =
    srcNode?.routes && dstNode
      ? lookupRoute(srcNode.routes, dstNode.ip, {
          rules: srcNode.rules ?? null,
          from: srcNode.ip,
          iif: 'lo',
          fwmark: 0,
        })
      : null;
  const sameSubnet =
    toDstNode !== null &&
    toDstNode.gateway === null &&
    toDstNode.type === 'unicast' &&
    toDstNode.destination !== 'default';
  const overlay = overlayBetween(pool, sameNode, sameSubnet);

  const src: PodEnd = {
    pod: srcPod,
    caliInterface: caliInterfaceName(srcPod.namespace, srcPod.name),
    node: srcNode,
    listeners: null,
    netns: null,
  };
  const dst: PodEnd = {
    pod: dstPod,
    caliInterface: caliInterfaceName(dstPod.namespace, dstPod.name),
    node: dstNode,
    listeners: null,
    netns: null,
  };
  const testPort = cmd.port ?? firstTcpPort(dstPod);

  src.netns = srcNode && !srcNode.error ? (srcNs?.found?.netns ?? null) : null;
  dst.netns = dstNode && !dstNode.error ? (dstNs?.found?.netns ?? null) : null;
  if (srcNs && !srcNs.found) src.netnsSteps = srcNs.steps;
  if (dstNs && !dstNs.found) dst.netnsSteps = dstNs.steps;
  // What listens in the destination pod is read while the test connection runs (neither changes the other).
  const listenersRead =
    dstTarget && dst.netns ? listenersIn(deps.shell, dstTarget, dst.netns, ctx.signal) : Promise.resolve(null);

  const facts: TraceFacts = { src, dst, pool, overlay, testPort: null, capture: null };
  let testConnection: TraceResult['testConnection'] = null;
  const sections: ReportSection[] = [];
  const attachments: ReportAttachment[] = [];

  const testOnce = async () => {
    if (testPort === null || !src.netns || !srcTarget || !dstPod.podIP) return null;
    try {
      return await testConnect(deps.shell, srcTarget, src.netns, dstPod.podIP, testPort, ctx.signal);
    } catch (err) {
      return { ok: false, detail: describeError(err) };
    }
  };

  const canCapture =
    cmd.capture.enabled && srcTarget && dstTarget && srcPod.podIP && dstPod.podIP && !srcNode?.error && !dstNode?.error;
  if (canCapture) {
    const seconds = Math.min(cmd.capture.seconds, deps.capture.maxSeconds);
    const points = capturePoints(deps, facts, { src: srcTarget, dst: dstTarget }, seconds);
    ctx.onStep(`capturing for ${seconds} s on ${points.map((p) => `${p.node.name}/${p.spec.interface}`).join(', ')}`);
    const { points: results, traffic } = await runCaptures(
      deps.shell,
      points,
      (pcap: Readable) => summarizeCapture(pcap, { signal: ctx.signal }),
      {
        signal: ctx.signal,
        locks: deps.captureLocks,
        whileCapturing: testOnce,
        windowMs: seconds * 1000,
      },
    );
    if (traffic) {
      facts.testPort = testPort;
      testConnection = { port: testPort!, ...traffic };
    }
    facts.capture = { seconds, points: results.map(toPointFacts) };
    sections.push(
      capturePointsTable(
        `Capture (${seconds} s): what each point saw`,
        results.map((r) => ({
          label: `${r.node}/${r.interface} (${ROLE_TEXT[r.role]})`,
          summary: r.summary,
          error: r.error,
        })),
      ),
    );
    // The first packets where the tunnel shows best: bare at the pod, then outer vs inner on the uplink.
    for (const r of results.filter((x) => x.role === 'src-pod' || x.role === 'src-uplink')) {
      const sample = r.summary
        ? sampleSection(`${r.node}/${r.interface}: first packets`, r.summary, TRACE_SAMPLE_LINES)
        : null;
      if (sample) sections.push(sample);
    }
    for (const r of results) {
      if (r.pcap && r.pcap.length > 24)
        attachments.push({
          filename: `trace-${r.node}-${r.interface}.pcap`,
          title: `capture on ${r.node}/${r.interface}`,
          contentType: 'application/vnd.tcpdump.pcap',
          data: r.pcap,
        });
    }
  }

  if (!canCapture && !cmd.noTest) {
    // No capture: the bounded test connection still runs (it is cheap), so counters and policy have something to show.
    ctx.onStep('testing the connection');
    const traffic = await testOnce();
    if (traffic) {
      facts.testPort = testPort;
      testConnection = { port: testPort!, ...traffic };
    }
  }
  // After the test: the counters, and each pod's own namespace (the gateway's ARP entry has had its chance).
  // BIRD's sessions on the two nodes, where the path's pool is routed by BGP (read once each; bounded by BIRD_SECONDS).
  const bgpRouted = pool !== null && !sameNode && srcNodeInfo !== null && dstNodeInfo !== null && routedByBgp([pool]);
  const birdOn = (t: NodeTarget | null, n: NodeFacts | null) =>
    bgpRouted && t && n && !n.error ? readBirdProtocols(deps.shell, t, ctx.signal, family) : Promise.resolve(null);
  const [countersAfter, srcInside, dstInside, listeners, srcBird, dstBird, calicoNodes, perNode] = await Promise.all([
    testConnection ? readAll() : Promise.resolve(countersBefore),
    srcTarget && src.netns ? readPodInside(deps.shell, srcTarget, src.netns, ctx.signal, family) : null,
    dstTarget && dst.netns ? readPodInside(deps.shell, dstTarget, dst.netns, ctx.signal, family) : null,
    listenersRead,
    birdOn(srcTarget, srcNode),
    birdOn(dstTarget, dstNode),
    // Only Calico's API server serves Calico Nodes; without it the annotations are all there is.
    bgpRouted ? deps.cluster.listCalicoNodes().catch(() => null) : null,
    // Per node, from the rules read before the test: Felix's tunnel allowlists (one ipset list each), and
    // kube-proxy's mode for the summary (a pod-to-pod trace walks no Service rules).
    Promise.all(
      counterNodes.map(async (t, i) => {
        const before = countersBefore[i]!;
        const [allowlists, proxy] = await Promise.all([
          sameNode ? [] : readTunnelAllowlists(deps.shell, t, before, overlay.mode, family, ctx.signal),
          detectModeFromSave(deps.shell, t, 'save' in before ? before.save : null, ctx.signal).catch(() => null),
        ]);
        return { allowlists, kubeProxyMode: proxy?.mode ?? null };
      }),
    ),
  ]);
  dst.listeners = listeners;
  src.inside = srcInside;
  dst.inside = dstInside;
  const deltas: NodeCounterDelta[] = testConnection
    ? counterNodes.map((t, i) => counterDelta(t.name, countersBefore[i]!, countersAfter[i]!, family))
    : [];
  const readOf = (t: NodeTarget | null) =>
    t ? countersAfter[counterNodes.findIndex((n) => n.name === t.name)] : undefined;
  const srcAfter = readOf(srcTarget);
  const dstAfter = readOf(dstTarget);
  // An eBPF node has no Felix policy chains to walk: looking for them would report every policy "not programmed".
  const ebpf = (facts: NodeFacts | null) => runsCalicoEbpf(facts?.links?.map((l) => l.name) ?? null) === true;
  const srcChains = srcAfter && !ebpf(srcNode) ? walkWorkload(srcTarget!.name, srcAfter, src.caliInterface) : null;
  const dstChains = dstAfter && !ebpf(dstNode) ? walkWorkload(dstTarget!.name, dstAfter, dst.caliInterface) : null;
  const ebpfNodes = [...new Set([srcNode, dstNode].filter(ebpf).map((n) => n!.name))];

  const srcEndpoint = podEndpoint(srcPod);
  const dstEndpoint = podEndpoint(dstPod);
  let verdicts: PortVerdict[] | null = null;
  const policyFound: Finding[] = [];
  const policySections: ReportSection[] = [];
  policyFound.push(...ebpfNodes.map((name) => ebpfNodeFinding(name, 'policy')));
  if ('error' in policyRead) policyFound.push(policyReadFailed(policyRead.error));
  else if (srcEndpoint && dstEndpoint) {
    verdicts = judgeConnection(policyRead.context, srcEndpoint, dstEndpoint, portsToJudge(dstPod, cmd.port));
    policyFound.push(...policyFindings(policyRead.context, srcEndpoint, dstEndpoint, verdicts));
    const first = verdicts[0]?.verdict;
    const tested = testConnection
      ? verdicts.find((v) => v.port === testConnection!.port && v.protocol === 'TCP')
      : undefined;
    if (tested && testConnection?.ok && tested.verdict.allowed === false) {
      policyFound.push({
        severity: 'warning',
        code: 'policy_not_enforced',
        message: `the test connection to ${dstPod.podIP}:${testConnection.port} connected although network policy denies it: the nodes do not enforce what the API says`,
        evidence: `test connection ${srcPod.name} → ${dstPod.podIP}:${testConnection.port}: connected`,
      });
    }
    if (first)
      policyFound.push(...programmedFindings(srcChains, first.egress), ...programmedFindings(dstChains, first.ingress));
    policySections.push(policySection(srcEndpoint, dstEndpoint, verdicts));
    const chainTexts = [
      srcChains && first?.egress.isolated ? workloadChainText(srcChains, 'egress') : null,
      dstChains && first?.ingress.isolated ? workloadChainText(dstChains, 'ingress') : null,
    ].filter((t): t is string => t !== null);
    if (chainTexts.length > 0)
      policySections.push({
        kind: 'preformatted',
        title: `Calico policy chains on the nodes (${counterTool(family)})`,
        text: chainTexts.join('\n\n'),
      });
  }
  const firewalls: NodeFirewallFacts[] = counterNodes.map((t, i) => {
    const after = countersAfter[i]!;
    const filter = 'save' in after ? after.save.tables.get('filter') : undefined;
    return {
      node: t.name,
      diff: deltas[i]?.diff ?? null,
      killers: filter ? hostKillers(filter) : [],
      error: deltas[i]?.error ?? ('error' in after ? after.error : null),
      ...(family === 6 ? { family } : {}),
      ...(perNode[i]!.allowlists.length > 0 ? { allowlists: perNode[i]!.allowlists } : {}),
    };
  });
  const pathVerdicts = packetPathVerdicts(facts, firewalls);
  const pathNodes = [
    { info: srcNodeInfo, facts: srcNode, bird: srcBird },
    { info: dstNodeInfo, facts: dstNode, bird: dstBird },
  ];
  const bgpFound = bgpRouted
    ? diagnoseBgp(
        pathNodes.map((n): BgpNodeFacts => ({
          name: n.info!.name,
          ...bgpAddressesOf(
            n.info!,
            calicoNodes?.find((c) => c.name === n.info!.name),
            family,
          ),
          routes: n.facts?.routes ?? null,
          bird: n.bird?.bird ?? null,
          birdError: n.bird === null ? 'not read' : n.bird.bird ? null : n.bird.error,
          ...(n.bird && !n.bird.bird ? { birdUnreadable: n.bird.failed } : {}),
          bgpDrops: (firewalls.find((f) => f.node === n.info!.name)?.killers ?? []).filter(
            (k) => k.kind === 'input-drops-bgp',
          ),
          blocks: calicoOwnBlocks(n.facts?.routes ?? null, [pool!]),
        })),
      )
    : [];
  const configFound = calicoConfig
    ? diagnoseCalicoConfig({
        config: calicoConfig,
        pools: pool ? [pool] : [],
        nodes: pathNodes
          .filter((n) => n.info !== null && (n !== pathNodes[1] || !sameNode))
          .map((n) => ({
            name: n.info!.name,
            internalIP: n.info!.internalIP,
            calicoIPv4Address: n.info!.calicoIPv4Address ?? null,
            links: n.facts?.links ?? null,
          })),
      })
    : [];
  const findings = sortFindings(
    nestTraceFindings(
      nestBgpFindings(
        [
          ...pathVerdicts.map((v) => v.finding),
          ...diagnoseTrace(facts),
          ...policyFound,
          ...dropFindings(deltas),
          ...tunnelAllowlistFindings(
            firewalls,
            [srcNode, dstNode],
            (name) => [srcNodeInfo, dstNodeInfo].find((n) => n?.name === name)?.calicoIPv4Address ?? null,
          ),
          ...firewallFindings(firewalls, overlay.mode, testConnection !== null),
          ...bgpFound,
          ...configFound,
        ],
        dstNodeInfo ? { dstNode: dstNodeInfo.name } : {},
      ),
      pathVerdicts,
    ),
  );
  // As the kernel decides them (ip rule first); a route of a table other than main is shown with its rule and table.
  const evidenceOf = (d: RouteDecision | null): string | null => (d ? decisionEvidence(d) : null);
  const routeToDst = srcNode ? evidenceOf(podPacketDecision(facts, srcNode, 'src')) : null;
  const routeToPod = dstNode ? evidenceOf(podPacketDecision(facts, dstNode, 'dst')) : null;
  const dataplaneOf = (t: NodeTarget | null, n: NodeFacts | null) => {
    const read = readOf(t);
    return read ? calicoDataplaneOf(read, ebpf(n)) : null;
  };
  const srcDataplane = dataplaneOf(srcTarget, srcNode);
  const dstDataplane = sameNode ? srcDataplane : dataplaneOf(dstTarget, dstNode);
  const proxyModeOf = (t: NodeTarget | null) =>
    t ? (perNode[counterNodes.findIndex((n) => n.name === t.name)]?.kubeProxyMode ?? null) : null;
  const result: TraceResult = {
    src: endResult(src, srcDataplane, proxyModeOf(srcTarget)),
    dst: endResult(dst, dstDataplane, proxyModeOf(dstTarget)),
    overlay,
    pool: pool ? { name: pool.name, cidr: pool.cidr, vxlanMode: pool.vxlanMode, ipipMode: pool.ipipMode } : null,
    routeToDst,
    routeToPod,
    testConnection,
    counters: deltas.map((d) => ({
      node: d.node,
      error: d.error,
      drops: (d.diff?.rules ?? [])
        .filter((r) => r.drop !== null)
        .map((r) => ({ table: r.table, chain: r.chain, rule: r.raw, packets: r.packets })),
    })),
    policy:
      verdicts && !('error' in policyRead)
        ? {
            read: policyRead.context.read,
            verdicts: verdicts.map((v) => ({
              port: v.port,
              protocol: v.protocol,
              allowed: v.verdict.allowed,
              egress: sideJson(v.verdict.egress),
              ingress: sideJson(v.verdict.ingress),
            })),
          }
        : null,
    capture: facts.capture
      ? {
          seconds: facts.capture.seconds,
          points: facts.capture.points.map((p) => ({
            node: p.node,
            interface: p.interface,
            role: p.role,
            packets: p.packets,
            badUdpChecksums: p.badUdpChecksums ?? 0,
            flows: (p.flows as CaptureSummary['flows']).map(flowJson),
            error: p.error,
          })),
        }
      : null,
    bgp: bgpRouted
      ? pathNodes.map((n) => ({
          node: n.info!.name,
          via: n.bird?.bird ? n.bird.via : null,
          error: n.bird && !n.bird.bird ? n.bird.error : null,
          sessions: n.bird?.bird ? sessionsJson(n.bird.bird) : [],
        }))
      : null,
    path: pathVerdicts.map((v) => v.finding.message),
    findings,
  };

  const endRow = (label: string, e: TraceEndResult) => [
    label,
    `${e.namespace}/${e.name}`,
    e.ip ?? '-',
    e.node ?? '-',
    e.nodeIP ?? '-',
    e.caliInterface,
    e.caliExists === null ? '?' : e.caliExists ? 'yes' : 'MISSING',
    e.phase,
  ];
  const dataplanes = [
    { node: srcNode?.name ?? '?', calico: srcDataplane, proxy: proxyModeOf(srcTarget) },
    ...(sameNode ? [] : [{ node: dstNode?.name ?? '?', calico: dstDataplane, proxy: proxyModeOf(dstTarget) }]),
  ];
  const pathText = [
    `overlay: ${overlay.mode}${overlay.device ? ` (${overlay.device})` : ''}${pool ? `, IPPool ${pool.name} ${pool.cidr} vxlanMode=${pool.vxlanMode} ipipMode=${pool.ipipMode}` : ''}`,
    `dataplanes: ${dataplanes.map((d) => `${d.node} Calico ${d.calico ?? 'not seen'}, kube-proxy ${d.proxy ?? 'not seen'}`).join('; ')}`,
    `${srcNode?.name ?? '?'} → ${dstPod.podIP ?? '?'}: ${routeToDst ?? 'no route'}`,
    ...(sameNode ? [] : [`${dstNode?.name ?? '?'} → ${dstPod.podIP ?? '?'}: ${routeToPod ?? 'no route'}`]),
    ...(testConnection
      ? [
          `test connection ${src.pod.name} → ${dstPod.podIP}:${testConnection.port}: ${testConnection.ok ? 'connected' : `failed (${testConnection.detail})`}`,
        ]
      : []),
  ].join('\n');
  sections.unshift(
    {
      kind: 'table',
      title: 'Pods',
      columns: ['', 'POD', 'IP', 'NODE', 'NODE IP', 'CALI', 'CALI EXISTS', 'PHASE'],
      rows: [endRow('src', result.src), endRow('dst', result.dst)],
    },
    { kind: 'preformatted', title: 'Path', text: pathText },
    ...policySections,
    ...(result.bgp
      ? [
          {
            kind: 'table' as const,
            title: "BGP sessions (BIRD) on the path's nodes",
            columns: ['NODE', ...SESSION_COLUMNS],
            rows: result.bgp.flatMap((b) =>
              b.sessions.length > 0
                ? b.sessions.map((x) => [b.node, ...sessionRow(x)])
                : [[b.node, '-', '-', 'not read', b.error ?? '']],
            ),
          },
        ]
      : []),
    ...[srcNode, sameNode ? null : dstNode]
      .filter((n): n is NodeFacts => n !== null && n.routeTableText !== null)
      .map((n) => ({ kind: 'preformatted' as const, title: `${n.name}: ip route`, text: n.routeTableText! })),
  );
  return {
    result,
    report: {
      title: `trace ${srcPod.namespace}/${srcPod.name} → ${dstPod.namespace}/${dstPod.name}`,
      headline: headlineFor(findings),
      findings,
      sections,
      attachments,
    },
  };
}
