/**
 * The nat table kube-proxy (iptables mode, v1.28+) writes for the lab's Services, as `iptables-restore` input (or,
 * for the lab's IPv6 Services, `ip6tables-restore`: kube-proxy's IPv6 proxier writes the same chains).
 * Pure: the same text goes on every node, like kube-proxy's, and unit tests pin it. Rule shapes and comments follow
 * pkg/proxy/iptables/proxier.go so our own parsers are exercised on what real nodes show.
 */
import { nftablesChainBase, servicesOfFamily, type LabPlan, type PlannedNode } from './plan.ts';
import { joinHostPort } from '../net/host-port.ts';

/** kube-proxy's masquerade mark (--iptables-masquerade-bit 14). */
const MASQ_MARK = '0x4000/0x4000';

function q(text: string): string {
  return `"${text}"`;
}

/** The family's Services, and how its rules spell addresses (kube-proxy's IPv6 proxier writes the same chains). */
function familyOf(plan: LabPlan, family: 4 | 6) {
  return {
    services: servicesOfFamily(plan, family),
    host: family === 6 ? 128 : 32,
    podCidr: family === 6 ? (plan.ipPoolV6?.cidr ?? plan.ipPool.cidr) : plan.ipPool.cidr,
    reject: family === 6 ? 'icmp6-port-unreachable' : 'icmp-port-unreachable',
  };
}

/** Whether the lab needs kube-proxy's ip6tables rules at all (an IPv6 or dual-stack Service). */
export function hasIpv6Services(plan: LabPlan): boolean {
  return servicesOfFamily(plan, 6).length > 0;
}

export function kubeProxyNatRules(plan: LabPlan, family: 4 | 6 = 4): string {
  const f = familyOf(plan, family);
  const chains = ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ'];
  const rules: string[] = [
    `-A PREROUTING -m comment --comment ${q('kubernetes service portals')} -j KUBE-SERVICES`,
    `-A OUTPUT -m comment --comment ${q('kubernetes service portals')} -j KUBE-SERVICES`,
    `-A POSTROUTING -m comment --comment ${q('kubernetes postrouting rules')} -j KUBE-POSTROUTING`,
    `-A KUBE-MARK-MASQ -j MARK --set-xmark ${MASQ_MARK}`,
    `-A KUBE-POSTROUTING -m mark ! --mark ${MASQ_MARK} -j RETURN`,
    '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
    `-A KUBE-POSTROUTING -m comment --comment ${q('kubernetes service traffic requiring SNAT')} -j MASQUERADE --random-fully`,
  ];
  const serviceRules: string[] = [];
  const nodePortRules: string[] = [];
  const chainRules: string[] = [];

  for (const svc of f.services) {
    for (const port of svc.ports) {
      const name = `${svc.namespace}/${svc.name}:${port.name}`;
      const proto = port.protocol.toLowerCase();
      const match = `-p ${proto} -m ${proto}`;
      if (port.endpoints.length === 0) {
        // kube-proxy rejects traffic to a Service without endpoints in the filter table; the nat table has no chain.
        continue;
      }
      chains.push(port.svcChain);
      serviceRules.push(
        `-A KUBE-SERVICES -d ${svc.clusterIP}/${f.host} -p ${proto} -m comment --comment ${q(`${name} cluster IP`)} -m ${proto} --dport ${port.port} -j ${port.svcChain}`,
      );
      chainRules.push(
        `-A ${port.svcChain} ! -s ${f.podCidr} -d ${svc.clusterIP}/${f.host} -p ${proto} -m comment --comment ${q(`${name} cluster IP`)} -m ${proto} --dport ${port.port} -j KUBE-MARK-MASQ`,
      );
      if (port.nodePort !== undefined && port.extChain !== undefined) {
        chains.push(port.extChain);
        nodePortRules.push(
          `-A KUBE-NODEPORTS ${match.replace(' -m', ` -m comment --comment ${q(name)} -m`)} --dport ${port.nodePort} -j ${port.extChain}`,
        );
        chainRules.push(
          `-A ${port.extChain} -m comment --comment ${q(`masquerade traffic for ${name} external destinations`)} -j KUBE-MARK-MASQ`,
          `-A ${port.extChain} -j ${port.svcChain}`,
        );
      }
      port.endpoints.forEach((ep, i) => {
        const target = joinHostPort(ep.ip, ep.port);
        const remaining = port.endpoints.length - i;
        // kube-proxy spreads load with decreasing probabilities: 1/n, 1/(n-1), …, and the last rule takes the rest.
        const statistic =
          remaining > 1 ? ` -m statistic --mode random --probability ${(1 / remaining).toFixed(11)}` : '';
        chainRules.push(
          `-A ${port.svcChain} -m comment --comment ${q(`${name} -> ${target}`)}${statistic} -j ${ep.sepChain}`,
        );
        chains.push(ep.sepChain);
        chainRules.push(
          `-A ${ep.sepChain} -s ${ep.ip}/${f.host} -m comment --comment ${q(name)} -j KUBE-MARK-MASQ`,
          `-A ${ep.sepChain} ${match.replace(' -m', ` -m comment --comment ${q(name)} -m`)} -j DNAT --to-destination ${target}`,
        );
      });
    }
  }
  serviceRules.push(
    `-A KUBE-SERVICES -m comment --comment ${q('kubernetes service nodeports; NOTE: this must be the last rule in this chain')} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`,
  );

  return [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ...chains.map((c) => `:${c} - [0:0]`),
    ...rules,
    ...serviceRules,
    ...nodePortRules,
    ...chainRules,
    'COMMIT',
    '',
  ].join('\n');
}

/**
 * The filter table kube-proxy (iptables mode) writes for Services without endpoints: a REJECT per ClusterIP port in
 * KUBE-SERVICES and per NodePort in KUBE-EXTERNAL-SERVICES, hooked from INPUT / FORWARD / OUTPUT for new
 * connections. `iptables-restore --noflush` input, so Felix's chains in the same table stay.
 */
export function kubeProxyFilterRules(plan: LabPlan, family: 4 | 6 = 4): string {
  const f = familyOf(plan, family);
  const chains = ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES'];
  const rules = [
    `-A INPUT -m conntrack --ctstate NEW -m comment --comment ${q('kubernetes externally-visible service portals')} -j KUBE-EXTERNAL-SERVICES`,
    `-A FORWARD -m conntrack --ctstate NEW -m comment --comment ${q('kubernetes service portals')} -j KUBE-SERVICES`,
    `-A OUTPUT -m conntrack --ctstate NEW -m comment --comment ${q('kubernetes service portals')} -j KUBE-SERVICES`,
  ];
  for (const svc of f.services) {
    for (const port of svc.ports) {
      if (port.endpoints.length > 0) continue;
      const proto = port.protocol.toLowerCase();
      const comment = q(`${svc.namespace}/${svc.name}:${port.name} has no endpoints`);
      rules.push(
        `-A KUBE-SERVICES -d ${svc.clusterIP}/${f.host} -p ${proto} -m comment --comment ${comment} -m ${proto} --dport ${port.port} -j REJECT --reject-with ${f.reject}`,
      );
      if (port.nodePort !== undefined) {
        rules.push(
          `-A KUBE-EXTERNAL-SERVICES -p ${proto} -m comment --comment ${comment} -m addrtype --dst-type LOCAL -m ${proto} --dport ${port.nodePort} -j REJECT --reject-with ${f.reject}`,
        );
      }
    }
  }
  return ['*filter', ...chains.map((c) => `:${c} - [0:0]`), ...rules, 'COMMIT', ''].join('\n');
}

/** kube-proxy's masquerade mark (--masquerade-bit 14), as the nftables proxier prints it. */
const NFT_MASQ_MARK = '0x4000';

/**
 * `table ip kube-proxy` as kube-proxy's nftables proxier (v1.31+, pkg/proxy/nftables/proxier.go) writes it on one
 * node, as `nft -f` input: the same base chains, dispatch maps, no-endpoint reject handling, masquerading marks and
 * hashed per-service / per-endpoint chain names. The node's own address is the nodeport-ips set (the default
 * --nodeport-addresses `primary`). Objects come before the rules that refer to them; pure, pinned by unit tests.
 * Family 6: `table ip6 kube-proxy`, the same shape over the IPv6 Services, the node's IPv6 address and ranges.
 */
export function kubeProxyNftRules(plan: LabPlan, node: PlannedNode, family: 4 | 6 = 4): string {
  const ip = family === 6 ? 'ip6' : 'ip';
  const addr = family === 6 ? 'ipv6_addr' : 'ipv4_addr';
  const t = `${ip} kube-proxy`;
  const serviceCidr = family === 6 ? plan.serviceCIDRv6! : plan.serviceCIDR;
  const podCidr = family === 6 ? (plan.ipPoolV6?.cidr ?? plan.ipPool.cidr) : plan.ipPool.cidr;
  const nodeAddress = family === 6 ? node.ipv6! : node.ip;
  const objects: string[] = [
    `add table ${t} { comment "rules for kube-proxy" ; }`,
    `add set ${t} cluster-ips { type ${addr} ; comment "Active ClusterIPs" ; }`,
    `add set ${t} nodeport-ips { type ${addr} ; comment "IPs that accept NodePort traffic" ; }`,
    `add map ${t} firewall-ips { type ${addr} . inet_proto . inet_service : verdict ; comment "destinations that are subject to LoadBalancerSourceRanges" ; }`,
    `add map ${t} no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }`,
    `add map ${t} no-endpoint-services { type ${addr} . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to services with no endpoints" ; }`,
    `add map ${t} service-ips { type ${addr} . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }`,
    `add map ${t} service-nodeports { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }`,
    `add chain ${t} cluster-ips-check`,
    `add chain ${t} filter-prerouting-pre-dnat { type filter hook prerouting priority -110 ; }`,
    `add chain ${t} filter-output-pre-dnat { type filter hook output priority -110 ; }`,
    `add chain ${t} filter-forward { type filter hook forward priority 0 ; }`,
    `add chain ${t} filter-input { type filter hook input priority 0 ; }`,
    `add chain ${t} filter-output { type filter hook output priority 0 ; }`,
    `add chain ${t} firewall-check`,
    `add chain ${t} mark-for-masquerade`,
    `add chain ${t} masquerading`,
    `add chain ${t} nat-output { type nat hook output priority -100 ; }`,
    `add chain ${t} nat-postrouting { type nat hook postrouting priority 100 ; }`,
    `add chain ${t} nat-prerouting { type nat hook prerouting priority -100 ; }`,
    `add chain ${t} nodeport-endpoints-check`,
    `add chain ${t} reject-chain { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }`,
    `add chain ${t} services`,
    `add chain ${t} service-endpoints-check`,
  ];
  const rules: string[] = [
    `add rule ${t} cluster-ips-check ${ip} daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"`,
    `add rule ${t} cluster-ips-check ${ip} daddr { ${serviceCidr} } drop comment "Drop traffic to unallocated ClusterIPs"`,
    `add rule ${t} filter-prerouting-pre-dnat ct state new jump firewall-check`,
    `add rule ${t} filter-forward ct state new jump service-endpoints-check`,
    `add rule ${t} filter-forward ct state new jump cluster-ips-check`,
    `add rule ${t} filter-input ct state new jump nodeport-endpoints-check`,
    `add rule ${t} filter-input ct state new jump service-endpoints-check`,
    `add rule ${t} filter-output ct state new jump service-endpoints-check`,
    `add rule ${t} filter-output-pre-dnat ct state new jump firewall-check`,
    `add rule ${t} filter-output ct state new jump cluster-ips-check`,
    `add rule ${t} firewall-check ${ip} daddr . meta l4proto . th dport vmap @firewall-ips`,
    `add rule ${t} mark-for-masquerade mark set mark or ${NFT_MASQ_MARK}`,
    `add rule ${t} masquerading mark and ${NFT_MASQ_MARK} == 0 return`,
    `add rule ${t} masquerading mark set mark xor ${NFT_MASQ_MARK}`,
    `add rule ${t} masquerading masquerade fully-random`,
    `add rule ${t} nat-output jump services`,
    `add rule ${t} nat-postrouting jump masquerading`,
    `add rule ${t} nat-prerouting jump services`,
    `add rule ${t} nodeport-endpoints-check ${ip} daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports`,
    `add rule ${t} reject-chain reject`,
    `add rule ${t} services ${ip} daddr . meta l4proto . th dport vmap @service-ips`,
    `add rule ${t} services ${ip} daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports`,
    `add rule ${t} service-endpoints-check ${ip} daddr . meta l4proto . th dport vmap @no-endpoint-services`,
  ];
  const elements: string[] = [`add element ${t} nodeport-ips { ${nodeAddress} }`];

  for (const svc of servicesOfFamily(plan, family)) {
    elements.push(`add element ${t} cluster-ips { ${svc.clusterIP} }`);
    for (const port of svc.ports) {
      const proto = port.protocol.toLowerCase();
      const name = `${svc.namespace}/${svc.name}/${proto}/${port.name}`;
      const comment = `${svc.namespace}/${svc.name}:${port.name}`;
      if (port.endpoints.length === 0) {
        elements.push(
          `add element ${t} no-endpoint-services { ${svc.clusterIP} . ${proto} . ${port.port} comment "${comment}" : goto reject-chain }`,
        );
        if (port.nodePort !== undefined)
          elements.push(
            `add element ${t} no-endpoint-nodeports { ${proto} . ${port.nodePort} comment "${comment}" : goto reject-chain }`,
          );
        continue;
      }
      const base = nftablesChainBase(name);
      const serviceChain = `service-${base}`;
      const endpointChains = port.endpoints.map((ep) => ({
        ep,
        // proxier.go servicePortEndpointChainNameBase: an IPv6 endpoint's colons become dots (not allowed in a name).
        chain: `endpoint-${nftablesChainBase(`${name}__${ep.ip.replaceAll(':', '.')}/${ep.port}`)}`,
      }));
      objects.push(`add chain ${t} ${serviceChain}`);
      rules.push(
        `add rule ${t} ${serviceChain} ${ip} daddr ${svc.clusterIP} ${ip} saddr != ${podCidr} jump mark-for-masquerade`,
        `add rule ${t} ${serviceChain} numgen random mod ${endpointChains.length} vmap { ${endpointChains.map((e, i) => `${i} : goto ${e.chain}`).join(' , ')} }`,
      );
      for (const { ep, chain } of endpointChains) {
        objects.push(`add chain ${t} ${chain}`);
        rules.push(
          `add rule ${t} ${chain} ${ip} saddr ${ep.ip} jump mark-for-masquerade`,
          `add rule ${t} ${chain} meta l4proto ${proto} dnat to ${joinHostPort(ep.ip, ep.port)}`,
        );
      }
      elements.push(
        `add element ${t} service-ips { ${svc.clusterIP} . ${proto} . ${port.port} : goto ${serviceChain} }`,
      );
      if (port.nodePort !== undefined) {
        const externalChain = `external-${base}`;
        objects.push(`add chain ${t} ${externalChain}`);
        rules.push(
          `add rule ${t} ${externalChain} jump mark-for-masquerade`,
          `add rule ${t} ${externalChain} goto ${serviceChain}`,
        );
        elements.push(`add element ${t} service-nodeports { ${proto} . ${port.nodePort} : goto ${externalChain} }`);
      }
    }
  }
  return [...objects, ...rules, ...elements, ''].join('\n');
}
