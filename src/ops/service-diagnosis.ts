/**
 * Judges a NodePort or a ClusterIP Service from what the cluster says (Service, endpoints) and what each node's
 * kube-proxy rules and listeners show. Pure; nodeport.ts and svc.ts gather the facts.
 */
import { nestConsequences, type Finding } from '../model/report.ts';
import type { EndpointInfo, ServiceInfo } from '../cluster/types.ts';
import type { Listener } from '../parse/listeners.ts';
import { joinHostPort } from '../net/host-port.ts';
import { ipFamily } from '../validate.ts';
import type { IpsetGap, KubeProxyMode } from '../dataplane/service-dataplane.ts';
import type { DetectedMode } from '../dataplane/kube-proxy-mode.ts';
import type { KubeProxyConfigInfo } from '../cluster/kube-proxy-config.ts';
import { conntrackTableFindings, testConnectionConntrackFinding, type ConntrackReading } from './conntrack-findings.ts';
import { ebpfNodeFinding } from '../calico/ebpf.ts';

/** One node's kube-proxy view of the port: the rule chain walked from KUBE-NODEPORTS / KUBE-SERVICES to DNAT. */
export interface NodeRuleFacts {
  name: string;
  ip: string;
  /** The kube-proxy mode whose rules were walked (null: the node could not be read). */
  mode?: KubeProxyMode | null;
  /** What mode detection saw (null: a walker was given, or the node could not be read). */
  detected?: DetectedMode | null;
  /** NodePort: where the mode lets NodePorts answer (nftables: the nodeport-ips set, or 'local'; never 127.0.0.1). */
  nodePortAddresses?: string[] | 'local';
  /** IPVS: kube-proxy ipset members the Service needs that the node lacks (absent: not read or not IPVS). */
  ipsetGaps?: IpsetGap[];
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
  /** net.netfilter.nf_conntrack_count / _max (null or absent: not read). */
  conntrackTable?: { count: number; max: number } | null;
  /** The test connection to the Service address through this node, and its conntrack entries here (absent: no test). */
  testConntrack?: {
    destination: { ip: string; port: number };
    source: string | null;
    reading: ConntrackReading;
  } | null;
  error: string | null;
}

export interface ServiceFacts {
  kind: 'nodeport' | 'clusterip';
  port: number;
  service: ServiceInfo | null;
  endpoints: EndpointInfo[];
  nodes: NodeRuleFacts[];
  /** kube-proxy's ConfigMap (kube-system/kube-proxy): the mode it was told (absent or null: not read). */
  kubeProxyConfig?: KubeProxyConfigInfo | null;
}

const err = (code: string, message: string, evidence = ''): Finding => ({ severity: 'error', code, message, evidence });
const warn = (code: string, message: string, evidence = ''): Finding => ({
  severity: 'warning',
  code,
  message,
  evidence,
});
const info = (code: string, message: string, evidence = ''): Finding => ({ severity: 'info', code, message, evidence });

function endpointTargets(facts: ServiceFacts): Set<string> {
  const svcPort = facts.service?.ports.find((p) =>
    facts.kind === 'nodeport' ? p.nodePort === facts.port : p.port === facts.port,
  );
  const targets = new Set<string>();
  // Each family's rules DNAT to that family's endpoints: a dual-stack Service's other family is not "missing". The
  // rules walked are the Service's family (its ClusterIP's), NodePorts' too (inspectServiceRules).
  const anchor = facts.service?.clusterIP ?? facts.nodes.find((n) => n.ip.includes('.') || n.ip.includes(':'))?.ip;
  const family = anchor ? ipFamily(anchor) : null;
  for (const ep of facts.endpoints.filter((e) => e.ready && (family === null || ipFamily(e.ip) === family))) {
    const port = ep.ports.find((p) => svcPort?.name == null || p.name === svcPort.name) ?? ep.ports[0];
    // The DNAT targets are in joinHostPort's spelling (`[fd00::5]:8080` for IPv6), so the endpoints are too.
    if (port) targets.add(joinHostPort(ep.ip, port.port));
  }
  return targets;
}

/** What each mode's entry for a Service is called, for a finding that it is missing. */
const ENTRY_NAME: Record<KubeProxyMode, { nodeport: string; clusterip: string }> = {
  iptables: { nodeport: 'KUBE-NODEPORTS rule', clusterip: 'KUBE-SERVICES rule' },
  nftables: { nodeport: 'service-nodeports dispatch', clusterip: 'service-ips dispatch' },
  ipvs: {
    nodeport: 'IPVS virtual server on its address',
    clusterip: 'IPVS virtual server (with the address on kube-ipvs0)',
  },
};

/** What the node's mode detection says that matters: both modes' tables, a mode not walked, split iptables backends. */
/**
 * What a node's kube-proxy mode detection shows wrong, whatever the command: both modes' rules, the mode it reports
 * against the rules present, a split iptables backend, a mode other than the ConfigMap's.
 */
export function kubeProxyModeFindings(
  node: Pick<NodeRuleFacts, 'name' | 'detected' | 'mode'>,
  config: KubeProxyConfigInfo | null,
): Finding[] {
  const d = node.detected;
  if (!d) return [];
  const out: Finding[] = [];
  // What kube-proxy runs (its own word, else its tables) against what its ConfigMap says: a change not rolled out.
  const running = d.reported ?? d.mode;
  if (config?.mode && running && running !== config.mode && !d.calicoEbpf) {
    out.push(
      warn(
        'kube_proxy_config_differs',
        `kube-proxy on ${node.name} runs ${running} (${d.reported ? 'its /proxyMode answer' : 'the rules on the node'}), but its ConfigMap asks for ${config.mode}: it has not been restarted since the ConfigMap changed, or that node's kube-proxy runs with other flags`,
        `${config.evidence}\n${d.reported ? `proxyMode on ${node.name}: ${d.reported}` : `rules on ${node.name}: ${running}`}`,
      ),
    );
  }
  if (d.tables.nftables && d.tables.iptables) {
    out.push(
      warn(
        'kube_proxy_both_modes',
        `${node.name} has kube-proxy rules of both modes (table ip kube-proxy and KUBE-SERVICES in iptables); ${d.reported ? `kube-proxy says it runs ${d.reported}` : 'kube-proxy did not answer on 127.0.0.1:10249/proxyMode'}, so k8snet read the ${node.mode} rules — the others are leftovers that may still catch traffic`,
        `nft list table ip kube-proxy: present; iptables-save -t nat: KUBE-SERVICES present`,
      ),
    );
  }
  if (
    d.reported !== null &&
    d.mode !== null &&
    ((d.reported === 'nftables' && !d.tables.nftables && d.tables.iptables) ||
      (d.reported === 'iptables' && !d.tables.iptables && d.tables.nftables))
  ) {
    out.push(
      warn(
        'kube_proxy_mode_mismatch',
        `kube-proxy on ${node.name} says it runs ${d.reported}, but only the other mode's rules are on the node`,
        `proxyMode: ${d.reported}`,
      ),
    );
  }
  if (d.backends.legacy !== null && d.backends.nft !== null && d.backends.legacy > 0 && d.backends.nft > 0) {
    out.push(
      err(
        'iptables_backends_split',
        `${node.name} has iptables rules in both backends: ${d.backends.legacy} in iptables-legacy and ${d.backends.nft} in iptables-nft; each tool shows only its half, and packets go through both`,
        `iptables-legacy-save: ${d.backends.legacy} rules; iptables-nft-save: ${d.backends.nft} rules`,
      ),
    );
  }
  return out;
}

export function diagnoseService(facts: ServiceFacts): Finding[] {
  const out: Finding[] = [];
  const what = facts.kind === 'nodeport' ? `NodePort ${facts.port}` : `port ${facts.port}`;
  if (!facts.service) {
    return [
      err(
        'no_service',
        `no Service uses ${what}`,
        facts.kind === 'nodeport' ? 'no spec.ports[].nodePort matches in any namespace' : 'no such Service port',
      ),
    ];
  }
  const name = `${facts.service.namespace}/${facts.service.name}`;
  const ready = facts.endpoints.filter((e) => e.ready);
  if (ready.length === 0) {
    out.push(
      err(
        'no_endpoints',
        `${name} has no ready endpoints: kube-proxy rejects or drops its traffic`,
        facts.endpoints.length === 0
          ? `selector ${JSON.stringify(facts.service.selector)} matches no ready pod`
          : `${facts.endpoints.length} endpoints, none ready`,
      ),
    );
  }
  const expected = endpointTargets(facts);
  for (const node of facts.nodes) {
    out.push(...kubeProxyModeFindings(node, facts.kubeProxyConfig ?? null));
    // No kube-proxy rules are expected on an eBPF node: judging them would be a false "rule missing".
    if (node.detected?.calicoEbpf) {
      out.push(ebpfNodeFinding(node.name, 'service'));
      continue;
    }
    if (node.error) {
      out.push(err('node_unreachable', `could not inspect ${node.name} (${node.ip}): ${node.error}`, node.error));
      continue;
    }
    out.push(...conntrackTableFindings(node.name, node.conntrackTable ?? null));
    const tracked = node.testConntrack
      ? testConnectionConntrackFinding({ node: node.name, endpoints: expected, ...node.testConntrack })
      : null;
    // The conntrack entry is the evidence of the node's rule finding it confirms, shown under it; else its own finding.
    let trackedPlaced = tracked === null;
    const withTracked = (f: Finding, codes: readonly string[]): Finding => {
      if (trackedPlaced || !codes.includes(tracked!.code)) return f;
      trackedPlaced = true;
      return { ...f, children: [...(f.children ?? []), tracked!] };
    };
    const placeTracked = () => {
      if (!trackedPlaced) out.push(tracked!);
      trackedPlaced = true;
    };
    if (node.rejects.length > 0) {
      // Older kube-proxy kept the NodePort's nat rules next to a filter REJECT it wrote when it saw no endpoints.
      const also = node.entryRule
        ? ', although its nat rules still forward it: kube-proxy on this node saw the Service without endpoints'
        : ' because the Service has no endpoints';
      out.push(
        withTracked(
          err(
            'rejected_no_endpoints',
            node.mode === 'ipvs'
              ? `${node.name} refuses ${what}: its IPVS virtual server has no real server to send to`
              : `${node.name} rejects ${what}: kube-proxy installed a REJECT${also}`,
            node.rejects.join('\n'),
          ),
          ['conntrack_no_entry'],
        ),
      );
      if (!node.entryRule || node.mode === 'ipvs') {
        placeTracked();
        continue;
      }
    }
    if (node.drops.length > 0) {
      out.push(
        warn(
          'dropped_no_local_endpoint',
          `${node.name} drops ${what} from outside the cluster: externalTrafficPolicy is Local and no endpoint runs on ${node.name}`,
          node.drops.join('\n'),
        ),
      );
    }
    if (!node.entryRule) {
      out.push(
        withTracked(
          err(
            facts.kind === 'nodeport' ? 'nodeport_rule_missing' : 'clusterip_rule_missing',
            facts.kind === 'nodeport'
              ? `${node.name} has no ${ENTRY_NAME[node.mode ?? 'iptables'].nodeport} for ${facts.port}: connections to ${node.ip}:${facts.port} are not forwarded`
              : `${node.name} has no ${ENTRY_NAME[node.mode ?? 'iptables'].clusterip} for ${facts.service.clusterIP}:${facts.port}`,
            node.mode === 'nftables'
              ? `nft list table ip kube-proxy on ${node.name}: ${node.rules.length === 0 ? 'no rule of the services chain (nat-prerouting / nat-output → services → vmap) leads there — flushed or never written' : 'no element matches'}`
              : node.mode === 'ipvs'
                ? `ipvsadm -L -n on ${node.name}: ${node.rules.length === 0 ? 'no virtual server matches' : node.rules.join('\n')}`
                : `iptables-save -t nat on ${node.name}: no rule matches`,
          ),
          ['conntrack_not_translated', 'conntrack_no_entry'],
        ),
      );
      placeTracked();
      continue;
    }
    if (
      facts.kind === 'nodeport' &&
      Array.isArray(node.nodePortAddresses) &&
      !node.nodePortAddresses.includes(node.ip)
    ) {
      out.push(
        err(
          'nodeport_not_on_node_ip',
          node.mode === 'ipvs'
            ? `${node.name} answers NodePort ${facts.port} only on ${node.nodePortAddresses.join(', ') || 'no address'} (the IPVS virtual servers kube-proxy made, per --nodeport-addresses), not on ${node.ip}`
            : `${node.name} answers NodePort ${facts.port} only on ${node.nodePortAddresses.join(', ') || 'no address'} (kube-proxy nftables' nodeport-ips set), not on ${node.ip}; NodePorts never answer on 127.0.0.1 in nftables mode`,
          node.rules[0] ?? '',
        ),
      );
    }
    for (const gap of node.ipsetGaps ?? []) out.push(ipsetGapFinding(node, gap, what, ready));
    if (ready.length > 0 && node.dnatTargets.length === 0) {
      out.push(
        withTracked(
          err('no_dnat', `${node.name}'s rules for ${what} end without a DNAT to any endpoint`, node.rules.join('\n')),
          ['conntrack_not_translated'],
        ),
      );
    }
    const stale = node.dnatTargets.filter((t) => !expected.has(t));
    const missing = [...expected].filter((t) => !node.dnatTargets.includes(t));
    if (stale.length > 0)
      out.push(
        withTracked(
          warn(
            'stale_endpoint_rule',
            `${node.name} still sends ${what} to ${stale.join(', ')}, which is no longer a ready endpoint`,
            node.rules.filter((r) => stale.some((s) => r.includes(s))).join('\n'),
          ),
          ['conntrack_dnat_stale'],
        ),
      );
    if (missing.length > 0 && node.dnatTargets.length > 0)
      out.push(
        warn(
          'endpoint_rule_missing',
          `${node.name} has no rule for endpoint ${missing.join(', ')} yet`,
          `DNAT targets on ${node.name}: ${node.dnatTargets.join(', ')}`,
        ),
      );
    placeTracked();
  }
  const healthy = facts.nodes.filter(
    (n) => !n.error && n.entryRule && n.dnatTargets.length > 0 && (n.ipsetGaps ?? []).length === 0,
  );
  if (healthy.length > 0 && healthy.length === facts.nodes.length && ready.length > 0) {
    out.push(
      info(
        'rules_present',
        `every node (${healthy.map((n) => n.name).join(', ')}) forwards ${what} to ${[...expected].join(', ')}`,
        healthy[0]!.rules[0] ?? '',
      ),
    );
  }
  return nestConsequences(out, (cause, f) => cause.code === 'no_endpoints' && FOLLOW_FROM_NO_ENDPOINTS.has(f.code));
}

/** An IPVS node whose kube-proxy ipsets lack the Service: what that breaks, for whom, with the set and rule. */
function ipsetGapFinding(node: NodeRuleFacts, gap: IpsetGap, what: string, ready: EndpointInfo[]): Finding {
  const evidence = gap.evidence.join('\n');
  const lacks = `${gap.set} lacks ${gap.member}`;
  if (gap.effect === 'rejected')
    return err(
      'ipvs_filter_rejects',
      `${node.name} refuses new connections to ${what}: ${lacks}, and KUBE-IPVS-FILTER rejects addresses on kube-ipvs0 that no Service ipset lists`,
      evidence,
    );
  if (!gap.set.includes('NODE-PORT'))
    return warn(
      'clusterip_not_masqueraded',
      `${node.name} does not masquerade ${what} for clients outside the pod network (${lacks}): their connections through ${node.name} get replies that bypass it`,
      evidence,
    );
  // Without the mark, IPVS forwards with the client's address: an endpoint elsewhere answers the client directly.
  const remote = ready.filter((e) => e.nodeName !== null && e.nodeName !== node.name).map((e) => e.ip);
  return remote.length > 0
    ? err(
        'nodeport_not_masqueraded',
        `${node.name} does not masquerade ${what} (${lacks}): connections through ${node.name} to endpoints on other nodes (${remote.join(', ')}) fail, their replies going straight to the client`,
        evidence,
      )
    : warn(
        'nodeport_not_masqueraded',
        `${node.name} does not masquerade ${what} (${lacks}); harmless while every endpoint runs on ${node.name}`,
        evidence,
      );
}

/**
 * What a node's kube-proxy does for a Service without endpoints: it writes no nat entry (no KUBE-NODEPORTS /
 * KUBE-SERVICES rule, no DNAT) and a filter-table REJECT instead. Those per-node findings follow from the one cause.
 */
const FOLLOW_FROM_NO_ENDPOINTS = new Set([
  'rejected_no_endpoints',
  'nodeport_rule_missing',
  'clusterip_rule_missing',
  'no_dnat',
]);
