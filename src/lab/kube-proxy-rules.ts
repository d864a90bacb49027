/**
 * The nat table kube-proxy (iptables mode, v1.28+) writes for the lab's Services, and the filter table's REJECTs for
 * Services and NodePorts without endpoints, as `iptables-restore` input.
 * Pure: the same text goes on every node, like kube-proxy's, and unit tests pin it. Rule shapes and comments follow
 * pkg/proxy/iptables/proxier.go so our own parsers are exercised on what real nodes show.
 */
import type { LabPlan } from './plan.ts';

/** kube-proxy's masquerade mark (--iptables-masquerade-bit 14). */
const MASQ_MARK = '0x4000/0x4000';

function q(text: string): string {
  return `"${text}"`;
}

export function kubeProxyNatRules(plan: LabPlan): string {
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

  for (const svc of plan.services) {
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
        `-A KUBE-SERVICES -d ${svc.clusterIP}/32 -p ${proto} -m comment --comment ${q(`${name} cluster IP`)} -m ${proto} --dport ${port.port} -j ${port.svcChain}`,
      );
      chainRules.push(
        `-A ${port.svcChain} ! -s ${plan.ipPool.cidr} -d ${svc.clusterIP}/32 -p ${proto} -m comment --comment ${q(`${name} cluster IP`)} -m ${proto} --dport ${port.port} -j KUBE-MARK-MASQ`,
      );
      if (port.nodePort !== undefined && port.extChain !== undefined) {
        chains.push(port.extChain);
        nodePortRules.push(`-A KUBE-NODEPORTS ${match.replace(' -m', ` -m comment --comment ${q(name)} -m`)} --dport ${port.nodePort} -j ${port.extChain}`);
        chainRules.push(
          `-A ${port.extChain} -m comment --comment ${q(`masquerade traffic for ${name} external destinations`)} -j KUBE-MARK-MASQ`,
          `-A ${port.extChain} -j ${port.svcChain}`,
        );
      }
      port.endpoints.forEach((ep, i) => {
        const target = `${ep.ip}:${ep.port}`;
        const remaining = port.endpoints.length - i;
        // kube-proxy spreads load with decreasing probabilities: 1/n, 1/(n-1), …, and the last rule takes the rest.
        const statistic = remaining > 1 ? ` -m statistic --mode random --probability ${(1 / remaining).toFixed(11)}` : '';
        chainRules.push(`-A ${port.svcChain} -m comment --comment ${q(`${name} -> ${target}`)}${statistic} -j ${ep.sepChain}`);
        chains.push(ep.sepChain);
        chainRules.push(
          `-A ${ep.sepChain} -s ${ep.ip}/32 -m comment --comment ${q(name)} -j KUBE-MARK-MASQ`,
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
 * kube-proxy's filter table: a Service port without endpoints gets no nat chain but a REJECT ("has no endpoints") in
 * KUBE-SERVICES for its ClusterIP and in KUBE-EXTERNAL-SERVICES for its NodePort, reached from INPUT, FORWARD and
 * OUTPUT for new connections (pkg/proxy/iptables/proxier.go: kubeServicesChain, kubeExternalServicesChain).
 */
export function kubeProxyFilterRules(plan: LabPlan): string {
  const services: string[] = [];
  const external: string[] = [];
  const reject = '-j REJECT --reject-with icmp-port-unreachable';
  for (const svc of plan.services) {
    for (const port of svc.ports) {
      if (port.endpoints.length > 0) continue;
      const name = `${svc.namespace}/${svc.name}:${port.name}`;
      const proto = port.protocol.toLowerCase();
      services.push(`-A KUBE-SERVICES -d ${svc.clusterIP}/32 -p ${proto} -m comment --comment ${q(`${name} has no endpoints`)} -m ${proto} --dport ${port.port} ${reject}`);
      if (port.nodePort !== undefined) {
        external.push(`-A KUBE-EXTERNAL-SERVICES -p ${proto} -m comment --comment ${q(`${name} has no endpoints`)} -m addrtype --dst-type LOCAL -m ${proto} --dport ${port.nodePort} ${reject}`);
      }
    }
  }
  const portals = q('kubernetes service portals');
  const visible = q('kubernetes externally visible service portals');
  return [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':KUBE-EXTERNAL-SERVICES - [0:0]',
    ':KUBE-SERVICES - [0:0]',
    `-A INPUT -m conntrack --ctstate NEW -m comment --comment ${visible} -j KUBE-EXTERNAL-SERVICES`,
    `-A FORWARD -m conntrack --ctstate NEW -m comment --comment ${portals} -j KUBE-SERVICES`,
    `-A FORWARD -m conntrack --ctstate NEW -m comment --comment ${visible} -j KUBE-EXTERNAL-SERVICES`,
    `-A OUTPUT -m conntrack --ctstate NEW -m comment --comment ${portals} -j KUBE-SERVICES`,
    ...services,
    ...external,
    'COMMIT',
    '',
  ].join('\n');
}
