/**
 * The cluster-wide network health check behind `report` and scheduled reports: for every node, a route to
 * every other node's blocks and to each local pod's cali interface, the tunnel device, forwarding; Services
 * without endpoints; NodePorts missing from some node's rules; pods not Running. Pure, plus the comparison with
 * the previous report ("… missing on k8s-node1 since 09:00").
 */
import { enabledPools } from '../cluster/families.ts';
import { isIP } from 'node:net';
import type { Finding } from '../model/report.ts';
import type { IpPoolInfo, PodInfo, ServiceInfo } from '../cluster/types.ts';
import { lookupRoute, overlayBetween } from './trace-diagnosis.ts';
import type { LinkFacts, RouteLine } from './trace-facts.ts';

import type { DetectedMode } from '../dataplane/kube-proxy-mode.ts';

export interface HealthNodeFacts {
  name: string;
  ip: string;
  /** Pod blocks routed to this node: Calico's own (its proto 80 / bird blackholes) where Calico IPAM shows, else spec.podCIDRs (calico-blocks.ts). */
  blocks: string[];
  routes: RouteLine[] | null;
  links: LinkFacts[] | null;
  ipForward: boolean | null;
  /** NodePorts this node's KUBE-NODEPORTS chain handles. */
  nodePorts: number[] | null;
  /** NodePorts in the IPv6 tables (ip6tables), read when the cluster has IPv6 Services; absent: not read. */
  nodePortsV6?: number[] | null;
  /** With an IPv6 pool: the node's IPv6 routes (`ip -6 route`), blocks, InternalIP and forwarding; absent: not read. */
  ipv6?: { routes: RouteLine[] | null; blocks: string[]; address: string | null; forwarding?: boolean | null };
  /** The uplink's addresses (the interface holding the node's address): where its tunnel packets may come from. */
  underlayIPs?: string[];
  /** kube-proxy's mode and Calico's eBPF dataplane as the node shows them (absent or null: not read). */
  detected?: DetectedMode | null;
  error: string | null;
}

export interface HealthFacts {
  nodes: HealthNodeFacts[];
  pools: IpPoolInfo[];
  pods: (PodInfo & { caliInterface: string })[];
  services: (ServiceInfo & { readyEndpoints: number })[];
}

const err = (code: string, message: string, evidence = ''): Finding => ({ severity: 'error', code, message, evidence });
const warn = (code: string, message: string, evidence = ''): Finding => ({
  severity: 'warning',
  code,
  message,
  evidence,
});

/** The first enabled pool of a family: the one whose encapsulation Calico uses for it. */
function firstPoolOf(pools: readonly IpPoolInfo[], family: 4 | 6): IpPoolInfo | null {
  return enabledPools(pools, family)[0] ?? null;
}

function firstAddress(cidr: string): string {
  return cidr.split('/')[0]!;
}

/**
 * One family's routes on `node`: every other node's blocks through the pool's tunnel device (vxlan.calico, tunl0;
 * vxlan-v6.calico for IPv6) or straight to that node, and every local pod's address to its cali interface.
 */
function routeChecks(node: HealthNodeFacts, facts: HealthFacts, family: 4 | 6): Finding[] {
  const routesOf = (n: HealthNodeFacts) => (family === 6 ? (n.ipv6?.routes ?? null) : n.routes);
  const blocksOf = (n: HealthNodeFacts) => (family === 6 ? (n.ipv6?.blocks ?? []) : n.blocks);
  const routes = routesOf(node);
  if (!routes) return [];
  const out: Finding[] = [];
  const overlay = overlayBetween(firstPoolOf(facts.pools, family), false, false);
  for (const other of facts.nodes.filter((n) => n.name !== node.name)) {
    for (const block of blocksOf(other)) {
      const route = lookupRoute(routes, firstAddress(block));
      const good =
        route &&
        route.type === 'unicast' &&
        route.destination !== 'default' &&
        (overlay.device === null ||
          route.device === overlay.device ||
          route.gateway === (family === 6 ? other.ipv6?.address : other.ip));
      if (!good)
        out.push(
          err(
            'route_to_block_missing',
            `route to ${block} (${other.name}) missing on ${node.name}`,
            route?.raw ?? `no matching route${family === 6 ? ' (ip -6 route)' : ''}`,
          ),
        );
    }
  }
  for (const pod of facts.pods.filter((p) => p.nodeName === node.name && !p.hostNetwork)) {
    const ip = (pod.podIPs.length > 0 ? pod.podIPs : [pod.podIP ?? '']).find((a) => isIP(a) === family);
    if (!ip) continue;
    const route = lookupRoute(routes, ip);
    if (route?.device !== pod.caliInterface)
      out.push(
        err(
          'route_to_pod_missing',
          `route to ${pod.namespace}/${pod.name} (${ip} via ${pod.caliInterface}) missing on ${node.name}`,
          route?.raw ?? `no matching route${family === 6 ? ' (ip -6 route)' : ''}`,
        ),
      );
  }
  return out;
}

function nodeChecks(node: HealthNodeFacts, facts: HealthFacts): Finding[] {
  if (node.error)
    return [err('node_unreachable', `${node.name} (${node.ip}) could not be inspected: ${node.error}`, node.error)];
  const out: Finding[] = [];
  if (node.ipForward === false)
    out.push(err('ip_forward_off', `IP forwarding is off on ${node.name}`, 'net.ipv4.ip_forward = 0'));
  if (node.ipv6?.forwarding === false)
    out.push(err('ip_forward_off', `IPv6 forwarding is off on ${node.name}`, 'net.ipv6.conf.all.forwarding = 0'));
  // Each family's first enabled pool says which tunnel device the node needs (vxlan-v6.calico for IPv6).
  for (const family of [4, 6] as const) {
    const overlay = overlayBetween(firstPoolOf(facts.pools, family), false, false);
    if (!overlay.device || !node.links) continue;
    const tunnel = node.links.find((l) => l.name === overlay.device);
    if (!tunnel)
      out.push(err('tunnel_missing', `${node.name} has no ${overlay.device}`, `no ${overlay.device} in ip link`));
    else if (!tunnel.up)
      out.push(err('tunnel_down', `${overlay.device} is down on ${node.name}`, `${overlay.device} state DOWN`));
  }
  for (const family of [4, 6] as const) out.push(...routeChecks(node, facts, family));
  for (const svc of facts.services) {
    // Each family the Service has a ClusterIP of has its NodePorts in that family's tables.
    const ips = svc.clusterIPs.length > 0 ? svc.clusterIPs : [svc.clusterIP ?? ''];
    const families = new Set(ips.filter((ip) => isIP(ip) !== 0).map((ip) => (isIP(ip) === 6 ? 6 : 4)));
    if (families.size === 0) families.add(4);
    for (const family of families) {
      const listed = family === 6 ? node.nodePortsV6 : node.nodePorts;
      if (!listed) continue;
      for (const p of svc.ports) {
        if (p.nodePort !== null && !listed.includes(p.nodePort)) {
          const tables = family === 6 ? 'ip6tables' : 'iptables';
          out.push(
            err(
              'nodeport_rule_missing',
              `NodePort ${p.nodePort} (${svc.namespace}/${svc.name}) missing from ${node.name}'s ${tables}`,
              `KUBE-NODEPORTS on ${node.name}${family === 6 ? ' (ip6tables)' : ''}: ${listed.join(', ') || 'empty'}`,
            ),
          );
        }
      }
    }
  }
  return out;
}

export function diagnoseHealth(facts: HealthFacts): Finding[] {
  const out = facts.nodes.flatMap((n) => nodeChecks(n, facts));
  for (const svc of facts.services) {
    if (Object.keys(svc.selector).length > 0 && svc.readyEndpoints === 0) {
      out.push(
        warn(
          'service_no_endpoints',
          `Service ${svc.namespace}/${svc.name} has no ready endpoints`,
          `selector ${JSON.stringify(svc.selector)}`,
        ),
      );
    }
  }
  for (const pod of facts.pods) {
    if (pod.phase !== 'Running' && pod.phase !== 'Succeeded')
      out.push(
        warn('pod_not_running', `pod ${pod.namespace}/${pod.name} is ${pod.phase}`, `status.phase: ${pod.phase}`),
      );
  }
  return out;
}

/** What a previous report remembered: each problem's key and when it was first seen. */
export type ProblemMemory = Record<string, { firstSeen: string; message: string }>;

export interface HealthChanges {
  appeared: Finding[];
  resolved: { message: string; firstSeen: string }[];
  /** Still present, with when they started. */
  ongoing: { finding: Finding; since: string }[];
  memory: ProblemMemory;
}

export function problemKey(f: Finding): string {
  return `${f.code}|${f.message}`;
}

export function compareWithPrevious(
  findings: readonly Finding[],
  previous: ProblemMemory | null,
  now: string,
): HealthChanges {
  const problems = findings.filter((f) => f.severity !== 'info');
  const memory: ProblemMemory = {};
  const appeared: Finding[] = [];
  const ongoing: HealthChanges['ongoing'] = [];
  for (const f of problems) {
    const key = problemKey(f);
    const before = previous?.[key];
    memory[key] = { firstSeen: before?.firstSeen ?? now, message: f.message };
    if (before) ongoing.push({ finding: f, since: before.firstSeen });
    else if (previous !== null) appeared.push(f);
  }
  const resolved =
    previous === null
      ? []
      : Object.entries(previous)
          .filter(([k]) => !(k in memory))
          .map(([, v]) => ({ message: v.message, firstSeen: v.firstSeen }));
  return { appeared, resolved, ongoing, memory };
}
