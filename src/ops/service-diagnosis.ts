/**
 * Judges a NodePort or a ClusterIP Service from what the cluster says (Service, endpoints) and what each node's
 * kube-proxy rules and listeners show. Pure; nodeport.ts and svc.ts gather the facts.
 */
import type { Finding } from '../model/report.ts';
import type { EndpointInfo, ServiceInfo } from '../cluster/types.ts';
import type { Listener } from '../parse/listeners.ts';
import { joinHostPort } from '../net/host-port.ts';
import { ipFamily } from '../validate.ts';

/** One node's kube-proxy view of the port: the rule chain walked from KUBE-NODEPORTS / KUBE-SERVICES to DNAT. */
export interface NodeRuleFacts {
  name: string;
  ip: string;
  /** Rule lines from the entry rule down to the DNATs, as iptables-save printed them; [] when the entry is missing. */
  rules: string[];
  /** ip:port the DNAT rules send to. */
  dnatTargets: string[];
  /** Whether the entry rule (KUBE-NODEPORTS --dport / KUBE-SERVICES -d clusterIP) exists. */
  entryRule: boolean;
  /** kube-proxy's REJECT rules for the port (the Service has no endpoints). */
  rejects: string[];
  /** Rules reached that drop the traffic (externalTrafficPolicy: Local, no local endpoint). */
  drops: string[];
  /** Sockets listening on the port on the node, any address (kube-proxy before v1.26 held NodePorts open); null: not checked. */
  listeners: Listener[] | null;
  /** Whether one of them takes connections to the node's address (a wildcard or that address; 127.0.0.1 does not); null: not checked. */
  listening: boolean | null;
  error: string | null;
}

export interface ServiceFacts {
  kind: 'nodeport' | 'clusterip';
  port: number;
  service: ServiceInfo | null;
  endpoints: EndpointInfo[];
  nodes: NodeRuleFacts[];
}

const err = (code: string, message: string, evidence = ''): Finding => ({ severity: 'error', code, message, evidence });
const warn = (code: string, message: string, evidence = ''): Finding => ({ severity: 'warning', code, message, evidence });
const info = (code: string, message: string, evidence = ''): Finding => ({ severity: 'info', code, message, evidence });

function endpointTargets(facts: ServiceFacts): Set<string> {
  const svcPort = facts.service?.ports.find((p) => (facts.kind === 'nodeport' ? p.nodePort === facts.port : p.port === facts.port));
  const targets = new Set<string>();
  // Each family's rules DNAT to that family's endpoints: a dual-stack Service's other family is not "missing".
  const anchor = facts.kind === 'clusterip' ? facts.service?.clusterIP : facts.nodes.find((n) => n.ip.includes('.') || n.ip.includes(':'))?.ip;
  const family = anchor ? ipFamily(anchor) : null;
  for (const ep of facts.endpoints.filter((e) => e.ready && (family === null || ipFamily(e.ip) === family))) {
    const port = ep.ports.find((p) => svcPort?.name == null || p.name === svcPort.name) ?? ep.ports[0];
    // The DNAT targets are in joinHostPort's spelling (`[fd00::5]:8080` for IPv6), so the endpoints are too.
    if (port) targets.add(joinHostPort(ep.ip, port.port));
  }
  return targets;
}

export function diagnoseService(facts: ServiceFacts): Finding[] {
  const out: Finding[] = [];
  const what = facts.kind === 'nodeport' ? `NodePort ${facts.port}` : `port ${facts.port}`;
  if (!facts.service) {
    return [err('no_service', `no Service uses ${what}`, facts.kind === 'nodeport' ? 'no spec.ports[].nodePort matches in any namespace' : 'no such Service port')];
  }
  const name = `${facts.service.namespace}/${facts.service.name}`;
  const ready = facts.endpoints.filter((e) => e.ready);
  if (ready.length === 0) {
    out.push(err('no_endpoints', `${name} has no ready endpoints: kube-proxy rejects or drops its traffic`, facts.endpoints.length === 0 ? `selector ${JSON.stringify(facts.service.selector)} matches no ready pod` : `${facts.endpoints.length} endpoints, none ready`));
  }
  const expected = endpointTargets(facts);
  for (const node of facts.nodes) {
    if (node.error) {
      out.push(err('node_unreachable', `could not inspect ${node.name} (${node.ip}): ${node.error}`, node.error));
      continue;
    }
    if (node.rejects.length > 0) {
      // Older kube-proxy kept the NodePort's nat rules next to a filter REJECT it wrote when it saw no endpoints.
      const also = node.entryRule ? ', although its nat rules still forward it: kube-proxy on this node saw the Service without endpoints' : ' because the Service has no endpoints';
      out.push(err('rejected_no_endpoints', `${node.name} rejects ${what}: kube-proxy installed a REJECT${also}`, node.rejects.join('\n')));
      if (!node.entryRule) continue;
    }
    if (node.drops.length > 0) {
      out.push(warn('dropped_no_local_endpoint', `${node.name} drops ${what} from outside the cluster: externalTrafficPolicy is Local and no endpoint runs on ${node.name}`, node.drops.join('\n')));
    }
    if (!node.entryRule) {
      out.push(
        err(
          facts.kind === 'nodeport' ? 'nodeport_rule_missing' : 'clusterip_rule_missing',
          facts.kind === 'nodeport' ? `${node.name} has no KUBE-NODEPORTS rule for ${facts.port}: connections to ${node.ip}:${facts.port} are not forwarded` : `${node.name} has no KUBE-SERVICES rule for ${facts.service.clusterIP}:${facts.port}`,
          `iptables-save -t nat on ${node.name}: no rule matches`,
        ),
      );
      continue;
    }
    if (ready.length > 0 && node.dnatTargets.length === 0) {
      out.push(err('no_dnat', `${node.name}'s rules for ${what} end without a DNAT to any endpoint`, node.rules.join('\n')));
    }
    const stale = node.dnatTargets.filter((t) => !expected.has(t));
    const missing = [...expected].filter((t) => !node.dnatTargets.includes(t));
    if (stale.length > 0) out.push(warn('stale_endpoint_rule', `${node.name} still sends ${what} to ${stale.join(', ')}, which is no longer a ready endpoint`, node.rules.filter((r) => stale.some((s) => r.includes(s))).join('\n')));
    if (missing.length > 0 && node.dnatTargets.length > 0) out.push(warn('endpoint_rule_missing', `${node.name} has no rule for endpoint ${missing.join(', ')} yet`, `DNAT targets on ${node.name}: ${node.dnatTargets.join(', ')}`));
  }
  const healthy = facts.nodes.filter((n) => !n.error && n.entryRule && n.dnatTargets.length > 0);
  if (healthy.length > 0 && healthy.length === facts.nodes.length && ready.length > 0) {
    out.push(info('rules_present', `every node (${healthy.map((n) => n.name).join(', ')}) forwards ${what} to ${[...expected].join(', ')}`, healthy[0]!.rules[0] ?? ''));
  }
  return out;
}
