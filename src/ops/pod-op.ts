/**
 * `pod NAME`: the pod's sandbox (pause) container and network namespace, the containers sharing it, `ip addr` and
 * `ip route` inside it, and the host side (cali interface and /32 route). Judged by pod-diagnosis.ts.
 */
import { caliInterfaceName } from '../calico/naming.ts';
import { K8snetError } from '../errors.ts';
import { headlineFor, sortFindings, type Finding, type ReportSection } from '../model/report.ts';
import { diagnosePod, type PodNetnsFacts } from './pod-diagnosis.ts';
import { lookupRoute } from './trace-diagnosis.ts';
import { nodeTarget, type OperationDeps } from './deps.ts';
import { findPodNetns, inspectNode, listenersIn, podNetworkInside } from './node-facts.ts';
import { listenerText } from '../parse/listeners.ts';
import type { OperationContext, OperationOutcome } from './types.ts';

export interface PodCommand {
  namespace: string;
  name: string;
}

export interface PodResult {
  name: string;
  namespace: string;
  ip: string | null;
  node: string | null;
  phase: string;
  sandbox: { netns: string | null; foundBy: string | null; sandboxId: string | null };
  containers: { name: string; id: string | null; ready: boolean; sharesSandboxNetns: boolean }[];
  caliInterface: string;
  hostRoute: string | null;
  inside: {
    addresses: Record<string, string[]>;
    routes: string[];
    listeners: { address: string; port: number; process: string | null }[] | null;
  } | null;
  findings: Finding[];
}

export async function runPod(
  deps: OperationDeps,
  cmd: PodCommand,
  ctx: OperationContext,
): Promise<OperationOutcome<PodResult>> {
  ctx.onStep(`reading pod ${cmd.namespace}/${cmd.name}`);
  const pod = await deps.cluster.getPod(cmd.namespace, cmd.name);
  if (!pod.nodeName)
    throw new K8snetError(
      'not_found',
      `pod ${cmd.namespace}/${cmd.name} is not scheduled on a node yet (${pod.phase})`,
    );
  const target = nodeTarget(deps, await deps.cluster.getNode(pod.nodeName));
  const cali = caliInterfaceName(pod.namespace, pod.name);

  ctx.onStep(`inspecting ${target.name}`);
  const node = await inspectNode(deps.shell, target, ctx.signal);
  if (node.error)
    throw new K8snetError('ssh_connect', `could not inspect ${target.name}: ${node.error}`, { retryable: true });
  const ns = pod.hostNetwork ? null : await findPodNetns(deps.shell, target, pod, ctx.signal);
  ctx.onStep("looking inside the pod's network namespace");
  const [inside, listeners] = ns
    ? await Promise.all([
        podNetworkInside(deps.shell, target, ns.netns, ctx.signal),
        listenersIn(deps.shell, target, ns.netns, ctx.signal),
      ])
    : [null, null];
  const hostRoute = pod.podIP && node.routes ? lookupRoute(node.routes, pod.podIP) : null;

  const facts: PodNetnsFacts = {
    podLabel: `${pod.namespace}/${pod.name}`,
    podIP: pod.podIP,
    node: target.name,
    caliInterface: cali,
    netns: ns?.netns ?? null,
    foundBy: ns?.foundBy ?? null,
    addresses: inside?.addresses ?? null,
    routesInPod: inside?.routes ?? null,
    hostLinks: node.links,
    hostRoute,
    hostNetwork: pod.hostNetwork,
    listeners,
    containerPorts: [
      ...new Set(
        pod.containers.flatMap((c) =>
          c.ports.filter((p) => p.protocol.toUpperCase() === 'TCP').map((p) => p.containerPort),
        ),
      ),
    ],
  };
  const findings = sortFindings(diagnosePod(facts));
  // Every app container joins the sandbox's network namespace (that is what the pause container is for).
  const containers = pod.containers.map((c) => ({
    name: c.name,
    id: c.containerID,
    ready: c.ready,
    sharesSandboxNetns: !pod.hostNetwork && ns !== null,
  }));
  const result: PodResult = {
    name: pod.name,
    namespace: pod.namespace,
    ip: pod.podIP,
    node: target.name,
    phase: pod.phase,
    sandbox: { netns: ns?.netns ?? null, foundBy: ns?.foundBy ?? null, sandboxId: ns?.sandboxId ?? null },
    containers,
    caliInterface: cali,
    hostRoute: hostRoute?.raw ?? null,
    inside: inside ? { addresses: inside.addresses, routes: inside.routes.map((r) => r.raw), listeners } : null,
    findings,
  };
  const sections: ReportSection[] = [
    {
      kind: 'table',
      title: 'Pod',
      columns: ['POD', 'IP', 'NODE', 'PHASE', 'NETNS', 'FOUND BY'],
      rows: [
        [
          `${pod.namespace}/${pod.name}`,
          pod.podIP ?? '-',
          target.name,
          pod.phase,
          ns?.netns ?? '-',
          ns?.foundBy ?? '-',
        ],
      ],
    },
    {
      kind: 'table',
      title: 'Containers sharing the sandbox network namespace',
      columns: ['CONTAINER', 'ID', 'READY'],
      rows: containers.map((c) => [c.name, c.id?.replace(/^\w+:\/\//, '').slice(0, 13) ?? '-', c.ready ? 'yes' : 'no']),
    },
  ];
  if (inside) {
    sections.push(
      { kind: 'preformatted', title: `ip netns exec ${ns!.netns} ip addr`, text: inside.addrText },
      { kind: 'preformatted', title: `ip netns exec ${ns!.netns} ip route`, text: inside.routeText },
    );
    if (listeners)
      sections.push({
        kind: 'preformatted',
        title: `ip netns exec ${ns!.netns} ss -lnt`,
        text: listeners.map(listenerText).join('\n') || 'no TCP listeners',
      });
  }
  sections.push({
    kind: 'preformatted',
    title: `${target.name}: host side`,
    text: [
      `${cali}: ${node.links?.find((l) => l.name === cali) ? 'present' : 'MISSING'}`,
      `route: ${hostRoute?.raw ?? 'none'}`,
    ].join('\n'),
  });
  return {
    result,
    report: {
      title: `pod ${pod.namespace}/${pod.name}`,
      headline: headlineFor(findings),
      findings,
      sections,
      attachments: [],
    },
  };
}
