/**
 * `nodeport PORT` and `svc NAME`: the Service behind a NodePort or name, its endpoints, and on every node the
 * kube-proxy rules (KUBE-NODEPORTS / KUBE-SERVICES → KUBE-SVC → KUBE-SEP → DNAT) and listeners; optionally a short
 * capture while a bounded test connection runs. Judged by service-diagnosis.ts.
 */
import { nodeInternalIP } from '../cluster/families.ts';
import type { Readable } from 'node:stream';
import type { EndpointInfo, NodeInfo, ServiceInfo } from '../cluster/types.ts';
import type { NodeTarget } from '../node/types.ts';
import type { Listener } from '../parse/listeners.ts';
import { K8snetError, describeError } from '../errors.ts';
import { summarizeCapture, type CaptureSummary } from '../pcap/index.ts';
import { headlineFor, sortFindings, type Finding, type ReportAttachment, type ReportSection } from '../model/report.ts';
import { diagnoseService, type NodeRuleFacts, type ServiceFacts } from './service-diagnosis.ts';
import { captureSections } from './capture-report.ts';
import { CAPTURE_SETUP_SECONDS, runCaptures, type CapturePointRequest } from './capture-session.ts';
import { nodeTarget, type OperationDeps } from './deps.ts';
import { inspectServiceRules, readConntrack, testConnect, uplinkInterfaceOn } from './node-facts.ts';
import { mapLimit } from './concurrency.ts';
import type { OperationContext, OperationOutcome } from './types.ts';
import type { IpsetGap, KubeProxyMode } from '../dataplane/service-dataplane.ts';
import type { CalicoDataplane } from '../dataplane/kube-proxy-mode.ts';
import { ipFamily } from '../validate.ts';
import { joinHostPort } from '../net/host-port.ts';
import { isIP } from 'node:net';

export interface NodePortCommand {
  port: number;
  capture: { enabled: boolean; seconds: number };
  /** A dual-stack Service's family to walk and test (absent: its primary ClusterIP's). */
  family?: 4 | 6;
}

export interface ServiceCommand {
  namespace: string;
  name: string;
  capture: { enabled: boolean; seconds: number };
  /** A dual-stack Service's family to walk and test (absent: its primary ClusterIP's). */
  family?: 4 | 6;
}

/**
 * The Service as one family sees it: its ClusterIP of that family (a dual-stack Service has one of each, in
 * spec.clusterIPs; kube-proxy writes each family's rules in that family's tables). Absent family: as it is.
 */
export function serviceInFamily(svc: ServiceInfo, family: 4 | 6 | undefined): ServiceInfo {
  if (family === undefined) return svc;
  const clusterIP = svc.clusterIPs.find((ip) => isIP(ip) === family);
  if (clusterIP === undefined)
    throw new K8snetError(
      'invalid_input',
      `Service ${svc.namespace}/${svc.name} has no IPv${family} ClusterIP (spec.clusterIPs: ${svc.clusterIPs.join(', ') || 'none'}): it is not dual-stack; ask again without -${family}`,
    );
  return { ...svc, clusterIP };
}

/** Nodes inspected at once: SSH sessions are cheap, but a 100-node cluster should not open 100 at a time. */
export const NODE_CONCURRENCY = 8;

export interface ServiceNodeResult {
  name: string;
  ip: string;
  /** NodePort: a socket takes connections to the node's address on the port (kube-proxy before v1.26 held it); 127.0.0.1 only does not count. */
  listening: boolean | null;
  /** NodePort: every socket listening on the port, with its bind address and process; null: not read. */
  listeners: Listener[] | null;
  /** kube-proxy's mode on the node, whose rules were walked (null: the node could not be read). */
  mode: KubeProxyMode | null;
  /** Calico's dataplane on the node (its eBPF devices, `table ip calico`, or cali-* chains); null: not seen. */
  calicoDataplane: CalicoDataplane | null;
  /** The entry rule exists (KUBE-NODEPORTS / KUBE-SERVICES; in nftables mode the services chain's map dispatch). */
  iptables: boolean;
  /** NodePort: where the mode lets it answer (nftables: the nodeport-ips set, or 'local'; never 127.0.0.1); null: not restricted. */
  nodePortAddresses: string[] | 'local' | null;
  /** IPVS: kube-proxy ipset members the Service lacks on this node, and what that does; null: not read or not IPVS. */
  ipsetGaps: IpsetGap[] | null;
  rules: string[];
  dnatTargets: string[];
  /** nf_conntrack_count / _max; null: not read. */
  conntrackTable: { count: number; max: number } | null;
  /** The test connection's conntrack entries on this node (`conntrack -L` filtered by its destination); null: no test. */
  testConntrack: { command: string; entries: string[]; error: string | null } | null;
  error: string | null;
}

export interface ServiceOpResult {
  port: number;
  service: { namespace: string; name: string; type: string; clusterIP: string | null } | null;
  endpoints: { ip: string; port: number; node: string | null; pod: string | null; ready: boolean }[];
  nodes: ServiceNodeResult[];
  /** kube-proxy's ConfigMap: the mode it was told (`configured` as written, '' for the default); null: not read. */
  kubeProxyConfig: { mode: KubeProxyMode | null; configured: string } | null;
  capture: null | {
    seconds: number;
    points: { node: string; interface: string; packets: number; error: string | null }[];
  };
  findings: Finding[];
}

function endpointRows(endpoints: readonly EndpointInfo[], portName: string | null): ServiceOpResult['endpoints'] {
  return endpoints.flatMap((e) => {
    const p = e.ports.find((x) => portName === null || x.name === portName) ?? e.ports[0];
    return p
      ? [
          {
            ip: e.ip,
            port: p.port,
            node: e.nodeName,
            pod: e.pod ? `${e.pod.namespace}/${e.pod.name}` : null,
            ready: e.ready,
          },
        ]
      : [];
  });
}

/**
 * The node address a NodePort is reached at in the Service's family: an IPv6 single-stack Service's NodePort answers
 * only on the nodes' IPv6 addresses (their IPv6 InternalIP), whatever address k8snet reaches the node at.
 */
function nodeAddressFor(nodes: readonly NodeInfo[], target: NodeTarget, svc: ServiceInfo): string {
  const family = svc.clusterIP ? ipFamily(svc.clusterIP) : ipFamily(target.address);
  if (ipFamily(target.address) === family) return target.address;
  return (
    nodeInternalIP(
      nodes.find((n) => n.name === target.name),
      family,
    ) ?? target.address
  );
}

async function inspectAllNodes(
  deps: OperationDeps,
  nodes: readonly NodeInfo[],
  kind: ServiceFacts['kind'],
  svc: ServiceInfo,
  port: number,
  ctx: OperationContext,
  configuredMode: KubeProxyMode | null,
): Promise<{ target: NodeTarget | null; facts: NodeRuleFacts }[]> {
  return mapLimit(nodes, NODE_CONCURRENCY, async (node) => {
    let target: NodeTarget | null = null;
    try {
      target = nodeTarget(deps, node);
      ctx.onStep(`reading kube-proxy rules on ${node.name}`);
      const facts = await inspectServiceRules(
        deps.shell,
        target,
        kind,
        svc,
        port,
        ctx.signal,
        undefined,
        configuredMode,
        nodeAddressFor(nodes, target, svc),
      );
      return { target, facts };
    } catch (err) {
      return {
        target,
        facts: {
          name: node.name,
          ip: node.internalIP ?? '?',
          mode: null,
          rules: [],
          dnatTargets: [],
          entryRule: false,
          rejects: [],
          drops: [],
          listeners: null,
          listening: null,
          error: describeError(err),
        },
      };
    }
  });
}

async function runServiceCheck(
  deps: OperationDeps,
  kind: ServiceFacts['kind'],
  svc: ServiceInfo | null,
  port: number,
  capture: NodePortCommand['capture'],
  ctx: OperationContext,
  title: string,
): Promise<OperationOutcome<ServiceOpResult>> {
  const svcPort = svc?.ports.find((p) => (kind === 'nodeport' ? p.nodePort === port : p.port === port)) ?? null;
  ctx.onStep('reading endpoints and nodes');
  const [allEndpoints, nodes, kubeProxyConfig] = await Promise.all([
    svc ? deps.cluster.listEndpoints(svc.namespace, svc.name) : Promise.resolve([]),
    deps.cluster.listNodes(),
    // What kube-proxy was told: compared with what each node runs, and the walker where a node shows nothing.
    deps.cluster.readKubeProxyConfig().catch(() => null),
  ]);
  // A dual-stack Service has an EndpointSlice per family; the rules walked are those of its ClusterIP's family.
  const family = svc?.clusterIP && isIP(svc.clusterIP) ? ipFamily(svc.clusterIP) : null;
  const endpoints = family === null ? allEndpoints : allEndpoints.filter((e) => ipFamily(e.ip) === family);
  const inspected = svc ? await inspectAllNodes(deps, nodes, kind, svc, port, ctx, kubeProxyConfig?.mode ?? null) : [];
  const facts: ServiceFacts = {
    kind,
    port,
    service: svc,
    endpoints,
    nodes: inspected.map((i) => i.facts),
    kubeProxyConfig,
  };
  /** Per node name: the test connection through it and its conntrack entries there. */
  const tracked = new Map<string, NonNullable<NodeRuleFacts['testConntrack']>>();
  const sections: ReportSection[] = [];
  const attachments: ReportAttachment[] = [];
  let captureResult: ServiceOpResult['capture'] = null;

  const reachable = inspected.filter(
    (i): i is { target: NodeTarget; facts: NodeRuleFacts } => i.target !== null && i.facts.error === null,
  );
  if (capture.enabled && svc && reachable.length > 0) {
    const seconds = Math.min(capture.seconds, deps.capture.maxSeconds);
    const endpointIps = endpoints.map((e) => e.ip);
    const ports = [
      kind === 'nodeport' ? port : (svcPort?.port ?? port),
      ...(typeof svcPort?.targetPort === 'number' ? [svcPort.targetPort] : []),
    ];
    const points: CapturePointRequest<string>[] = await Promise.all(
      reachable.map(async (r) => ({
        node: r.target,
        role: 'node',
        spec: {
          interface: await uplinkInterfaceOn(deps.shell, r.target, ctx.signal),
          hosts: kind === 'clusterip' ? endpointIps : [],
          ports,
          includeTunnel: true,
          maxPackets: deps.capture.maxPackets,
          maxSeconds: seconds + CAPTURE_SETUP_SECONDS,
          snapLength: deps.capture.snapLength,
        },
      })),
    );
    ctx.onStep(`capturing for ${seconds} s on ${points.map((p) => `${p.node.name}/${p.spec.interface}`).join(', ')}`);
    const { points: results } = await runCaptures(
      deps.shell,
      points,
      (pcap: Readable) => summarizeCapture(pcap, { signal: ctx.signal }),
      {
        signal: ctx.signal,
        locks: deps.captureLocks,
        windowMs: seconds * 1000,
        // A bounded test connection per node: NodePorts from the next node to this node's IP; ClusterIPs from the node itself.
        whileCapturing: async () => {
          await Promise.all(
            reachable.map(async (r, i) => {
              const from = kind === 'nodeport' ? reachable[(i + 1) % reachable.length]!.target : r.target;
              const to = kind === 'nodeport' ? nodeAddressFor(nodes, r.target, svc) : svc.clusterIP;
              if (!to) return;
              const destination = { ip: to, port: kind === 'nodeport' ? port : (svcPort?.port ?? port) };
              await testConnect(deps.shell, from, null, to, destination.port, ctx.signal).catch(() => undefined);
              // The node that translates the connection keeps its entry: where the NodePort is, or the ClusterIP's client.
              const reading = await readConntrack(deps.shell, r.target, destination, ctx.signal);
              tracked.set(r.target.name, {
                destination,
                source: kind === 'nodeport' ? nodeAddressFor(nodes, from, svc) : null,
                reading,
              });
            }),
          );
          return null;
        },
      },
    );
    captureResult = {
      seconds,
      points: results.map((r) => ({
        node: r.node,
        interface: r.interface,
        packets: r.summary?.packets ?? 0,
        error: r.error,
      })),
    };
    for (const r of results) {
      if (r.summary) sections.push(...captureSections(`capture ${r.node}/${r.interface}`, r.summary as CaptureSummary));
      if (r.pcap && r.pcap.length > 24)
        attachments.push({
          filename: `${kind}-${port}-${r.node}.pcap`,
          title: `capture on ${r.node}/${r.interface}`,
          contentType: 'application/vnd.tcpdump.pcap',
          data: r.pcap,
        });
    }
  }

  facts.nodes = facts.nodes.map((n) => (tracked.has(n.name) ? { ...n, testConntrack: tracked.get(n.name)! } : n));
  const findings = sortFindings(diagnoseService(facts));
  const result: ServiceOpResult = {
    port,
    service: svc ? { namespace: svc.namespace, name: svc.name, type: svc.type, clusterIP: svc.clusterIP } : null,
    endpoints: endpointRows(endpoints, svcPort?.name ?? null),
    nodes: facts.nodes.map((n) => ({
      name: n.name,
      ip: n.ip,
      mode: n.mode ?? null,
      calicoDataplane: n.detected?.calicoDataplane ?? null,
      listening: n.listening,
      listeners: n.listeners,
      iptables: n.entryRule,
      nodePortAddresses: n.nodePortAddresses ?? null,
      ipsetGaps: n.ipsetGaps ?? null,
      rules: n.rules,
      dnatTargets: n.dnatTargets,
      conntrackTable: n.conntrackTable ?? null,
      testConntrack: n.testConntrack
        ? {
            command: n.testConntrack.reading.command,
            entries: n.testConntrack.reading.entries.map((e) => e.raw),
            error: n.testConntrack.reading.error,
          }
        : null,
      error: n.error,
    })),
    kubeProxyConfig: kubeProxyConfig ? { mode: kubeProxyConfig.mode, configured: kubeProxyConfig.configured } : null,
    capture: captureResult,
    findings,
  };
  sections.unshift(
    {
      kind: 'table',
      title: 'Endpoints',
      columns: ['IP', 'PORT', 'NODE', 'POD', 'READY'],
      rows: result.endpoints.map((e) => [e.ip, String(e.port), e.node ?? '-', e.pod ?? '-', e.ready ? 'yes' : 'no']),
    },
    {
      kind: 'table',
      title: `Nodes${kubeProxyConfig ? ` (kube-proxy's ConfigMap: mode ${kubeProxyConfig.configured || `"" = ${kubeProxyConfig.mode}`})` : ''}`,
      columns: [
        'NODE',
        'IP',
        'MODE',
        'CALICO',
        'RULE',
        'DNAT TO',
        'LISTENING',
        ...(kind === 'nodeport' ? ['ANSWERS ON'] : []),
      ],
      rows: result.nodes.map((n) => [
        n.name,
        n.ip,
        n.mode ?? '?',
        n.calicoDataplane ?? '?',
        n.error ? `error: ${n.error}` : n.iptables ? 'yes' : 'MISSING',
        n.dnatTargets.join(', ') || '-',
        n.listening === null ? '?' : n.listening ? 'yes' : 'no',
        ...(kind === 'nodeport'
          ? [
              n.nodePortAddresses === null
                ? 'any local address'
                : n.nodePortAddresses === 'local'
                  ? 'local addresses but 127.0.0.0/8'
                  : `${n.nodePortAddresses.join(', ') || 'none'} (not 127.0.0.1)`,
            ]
          : []),
      ]),
    },
    ...facts.nodes
      .filter((n) => n.rules.length > 0)
      .map((n) => ({
        kind: 'preformatted' as const,
        title: `${n.name}: ${n.mode === 'nftables' ? `nft list table ${family === 6 ? 'ip6' : 'ip'} kube-proxy` : `${family === 6 ? 'ip6tables-save' : 'iptables-save'} -t nat`} (${kind === 'nodeport' ? `NodePort ${port}` : joinHostPort(svc?.clusterIP ?? '?', port)})`,
        text: n.rules.join('\n'),
      })),
  );
  return { result, report: { title, headline: headlineFor(findings), findings, sections, attachments } };
}

export async function runNodePort(
  deps: OperationDeps,
  cmd: NodePortCommand,
  ctx: OperationContext,
): Promise<OperationOutcome<ServiceOpResult>> {
  ctx.onStep(`finding the Service that owns NodePort ${cmd.port}`);
  const services = await deps.cluster.listServices();
  const owner = services.find((s) => s.ports.some((p) => p.nodePort === cmd.port)) ?? null;
  const svc = owner ? serviceInFamily(owner, cmd.family) : null;
  return runServiceCheck(
    deps,
    'nodeport',
    svc,
    cmd.port,
    cmd.capture,
    ctx,
    `nodeport ${cmd.port}${svc ? ` (${svc.namespace}/${svc.name})` : ''}`,
  );
}

export async function runService(
  deps: OperationDeps,
  cmd: ServiceCommand,
  ctx: OperationContext,
): Promise<OperationOutcome<ServiceOpResult>> {
  ctx.onStep(`reading Service ${cmd.namespace}/${cmd.name}`);
  const read = await deps.cluster.getService(cmd.namespace, cmd.name);
  const port = read.ports[0];
  if (!port) throw new K8snetError('not_found', `Service ${cmd.namespace}/${cmd.name} has no ports`);
  if (!read.clusterIP || read.clusterIP === 'None')
    throw new K8snetError(
      'invalid_input',
      `Service ${cmd.namespace}/${cmd.name} is headless (no ClusterIP): there are no kube-proxy rules to check; try \`pod\` on one of its pods`,
    );
  const svc = serviceInFamily(read, cmd.family);
  return runServiceCheck(
    deps,
    'clusterip',
    svc,
    port.port,
    cmd.capture,
    ctx,
    `svc ${svc.namespace}/${svc.name} (${joinHostPort(svc.clusterIP!, port.port)})`,
  );
}
