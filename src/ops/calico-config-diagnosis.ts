/**
 * Findings from Calico's and the cluster's configuration (CalicoConfig) where they explain something: the MTU Calico
 * was told vs the MTU the interfaces have, --cluster-cidr not holding an IP pool, first-found autodetection picking
 * another address than the node's InternalIP, the eBPF dataplane. Pure; `report` calls it, and trace can too.
 */
import type { Finding, ReportSection } from '../model/report.ts';
import type { CalicoConfig, IpPoolInfo } from '../cluster/types.ts';
import type { LinkFacts } from './trace-facts.ts';
import { cidrContains, parseIpv4Cidr } from '../net/ipv4.ts';
import { CALICO_IPIP_DEVICE, CALICO_VXLAN } from '../calico/naming.ts';

export interface CalicoConfigNodeFacts {
  name: string;
  internalIP: string | null;
  /** The address calico/node autodetected (projectcalico.org/IPv4Address). */
  calicoIPv4Address: string | null;
  /** `ip link` of the node; null when it could not be inspected. */
  links: LinkFacts[] | null;
}

export interface CalicoConfigFacts {
  config: CalicoConfig;
  pools: IpPoolInfo[];
  nodes: CalicoConfigNodeFacts[];
}

const warn = (code: string, message: string, evidence: string): Finding => ({
  severity: 'warning',
  code,
  message,
  evidence,
});
const info = (code: string, message: string, evidence: string): Finding => ({
  severity: 'info',
  code,
  message,
  evidence,
});

/** A configured MTU and where it was read; 0 means "auto-detect" in every one of these places. */
interface ToldMtu {
  source: string;
  mtu: number;
  /** Which interfaces it sets: pod veths (and tunnels), or one tunnel device. */
  applies: 'veth' | 'vxlan' | 'ipip';
}

function toldMtus(config: CalicoConfig): ToldMtu[] {
  const out: ToldMtu[] = [];
  if (config.installation?.mtu)
    out.push({ source: 'Installation default spec.calicoNetwork.mtu', mtu: config.installation.mtu, applies: 'veth' });
  if (config.vethMtu) out.push({ source: 'calico-config veth_mtu', mtu: config.vethMtu, applies: 'veth' });
  // Felix's env overrides its FelixConfiguration (Felix's config priority: env, file, datastore).
  const envVxlan = Number(config.calicoNodeEnv?.FELIX_VXLANMTU ?? 0);
  const envIpip = Number(config.calicoNodeEnv?.FELIX_IPINIPMTU ?? 0);
  if (envVxlan > 0 && !config.vethMtu)
    out.push({ source: 'calico-node env FELIX_VXLANMTU', mtu: envVxlan, applies: 'vxlan' });
  else if (!envVxlan && config.felix?.vxlanMTU)
    out.push({
      source: `FelixConfiguration default vxlanMTU (${config.felix.apiVersion})`,
      mtu: config.felix.vxlanMTU,
      applies: 'vxlan',
    });
  if (envIpip > 0 && !config.vethMtu)
    out.push({ source: 'calico-node env FELIX_IPINIPMTU', mtu: envIpip, applies: 'ipip' });
  else if (!envIpip && config.felix?.ipipMTU)
    out.push({
      source: `FelixConfiguration default ipipMTU (${config.felix.apiVersion})`,
      mtu: config.felix.ipipMTU,
      applies: 'ipip',
    });
  return out;
}

function interfacesFor(applies: ToldMtu['applies'], links: LinkFacts[]): LinkFacts[] {
  const tunnel = (name: string) => links.filter((l) => l.name === name);
  if (applies === 'vxlan') return tunnel(CALICO_VXLAN.device);
  if (applies === 'ipip') return tunnel(CALICO_IPIP_DEVICE);
  // veth_mtu / Installation mtu: CNI_MTU on both ends of each pod veth (cali* on the node), and Felix's tunnels.
  return links.filter(
    (l) => l.name.startsWith('cali') || l.name === CALICO_VXLAN.device || l.name === CALICO_IPIP_DEVICE,
  );
}

function mtuFindings(facts: CalicoConfigFacts): Finding[] {
  const out: Finding[] = [];
  for (const told of toldMtus(facts.config)) {
    const wrong = facts.nodes.flatMap((n) =>
      interfacesFor(told.applies, n.links ?? [])
        .filter((l) => l.mtu !== null && l.mtu !== told.mtu)
        .map((l) => ({ node: n.name, link: l })),
    );
    if (wrong.length === 0) continue;
    const shown =
      wrong
        .slice(0, 4)
        .map((w) => `${w.node} ${w.link.name} mtu ${w.link.mtu}`)
        .join(', ') + (wrong.length > 4 ? ` and ${wrong.length - 4} more` : '');
    out.push(
      warn(
        'calico_mtu_mismatch',
        `Calico was told MTU ${told.mtu} (${told.source}) but ${wrong.length} interface(s) have another: packets near the MTU may be dropped or fragmented`,
        `${told.source}: ${told.mtu}; ${shown}`,
      ),
    );
  }
  return out;
}

function clusterCidrFindings(facts: CalicoConfigFacts): Finding[] {
  const cidrs =
    facts.config.clusterCIDR
      ?.split(',')
      .map((c) => c.trim())
      .filter((c) => c !== '' && !c.includes(':')) ?? [];
  if (cidrs.length === 0) return [];
  const out: Finding[] = [];
  for (const pool of facts.pools.filter((p) => !p.disabled && !p.cidr.includes(':'))) {
    const inside = cidrs.some((c) => {
      try {
        const outer = parseIpv4Cidr(c);
        const inner = parseIpv4Cidr(pool.cidr);
        return outer.prefix <= inner.prefix && cidrContains(outer, pool.cidr.split('/')[0]!);
      } catch {
        return true; // a CIDR we cannot parse is not evidence of anything
      }
    });
    if (!inside)
      out.push(
        warn(
          'cluster_cidr_excludes_pool',
          `IP pool ${pool.name} (${pool.cidr}) is outside kube-controller-manager's --cluster-cidr ${facts.config.clusterCIDR}: kube-proxy's clusterCIDR masquerading and node podCIDRs disagree with the pod addresses`,
          `--cluster-cidr=${facts.config.clusterCIDR}; IPPool ${pool.name} cidr ${pool.cidr}`,
        ),
      );
  }
  return out;
}

function autodetectFindings(facts: CalicoConfigFacts): Finding[] {
  const nodeEnv = facts.config.calicoNodeEnv;
  if (nodeEnv === null) return [];
  const method = nodeEnv.IP_AUTODETECTION_METHOD ?? 'first-found'; // calico/node's default
  const installationFirstFound = facts.config.installation?.nodeAddressAutodetectionV4?.firstFound === true;
  if (method !== 'first-found' && !installationFirstFound) return [];
  const differing = facts.nodes.filter(
    (n) => n.calicoIPv4Address && n.internalIP && n.calicoIPv4Address !== n.internalIP,
  );
  if (differing.length === 0) return [];
  return [
    warn(
      'calico_autodetect_first_found',
      `calico-node autodetects node addresses with first-found, and on ${differing.map((n) => n.name).join(', ')} it picked another address than the InternalIP: tunnels and BGP may use the wrong interface (hint: IP_AUTODETECTION_METHOD=kubernetes-internal-ip or interface=…)`,
      differing
        .map((n) => `${n.name}: projectcalico.org/IPv4Address ${n.calicoIPv4Address}, InternalIP ${n.internalIP}`)
        .join('; '),
    ),
  ];
}

function ebpfFindings(facts: CalicoConfigFacts): Finding[] {
  const felix = facts.config.felix;
  const envOn = facts.config.calicoNodeEnv?.FELIX_BPFENABLED?.toLowerCase() === 'true';
  if (felix?.bpfEnabled !== true && !envOn) return [];
  return [
    info(
      'calico_ebpf_dataplane',
      "Calico's eBPF dataplane is on: Services and policy are handled by BPF programs, so the kube-proxy iptables/nftables rule walks (nodeport, svc), Felix's iptables policy chains and DROP counters do not apply; routes, tunnels and captures still do",
      envOn
        ? 'calico-node env FELIX_BPFENABLED=true'
        : `FelixConfiguration default bpfEnabled: true (${felix!.apiVersion})`,
    ),
  ];
}

export function diagnoseCalicoConfig(facts: CalicoConfigFacts): Finding[] {
  return [...mtuFindings(facts), ...clusterCidrFindings(facts), ...autodetectFindings(facts), ...ebpfFindings(facts)];
}

/** The report's "Calico configuration" table: what was read, and where. */
export function calicoConfigSection(config: CalicoConfig): ReportSection {
  const nodeEnv = config.calicoNodeEnv;
  const shown = (v: string | number | boolean | null | undefined) => (v === null || v === undefined ? '-' : String(v));
  const rows: string[][] = [
    [
      'calico-node env',
      config.calicoNodeSource ?? 'not found',
      nodeEnv
        ? `CALICO_IPV4POOL_CIDR=${shown(nodeEnv.CALICO_IPV4POOL_CIDR)} IP_AUTODETECTION_METHOD=${shown(nodeEnv.IP_AUTODETECTION_METHOD)} CALICO_NETWORKING_BACKEND=${shown(nodeEnv.CALICO_NETWORKING_BACKEND)} FELIX_VXLANMTU=${shown(nodeEnv.FELIX_VXLANMTU)}`
        : '-',
    ],
    ['veth_mtu', 'ConfigMap calico-config', config.vethMtu === 0 ? '0 (auto-detect)' : shown(config.vethMtu)],
    ['calico_backend', 'ConfigMap calico-config', shown(config.calicoBackend)],
    [
      'Installation',
      'operator.tigera.io/v1 default',
      config.installation
        ? `mtu=${shown(config.installation.mtu)} autodetectV4=${JSON.stringify(config.installation.nodeAddressAutodetectionV4)} pools=${config.installation.ipPools.map((p) => p.cidr).join(',') || '-'}`
        : 'none (manifest install)',
    ],
    [
      'FelixConfiguration',
      config.felix?.apiVersion ?? 'default',
      config.felix
        ? `vxlanMTU=${shown(config.felix.vxlanMTU)} ipipMTU=${shown(config.felix.ipipMTU)} bpfEnabled=${shown(config.felix.bpfEnabled)} iptablesBackend=${shown(config.felix.iptablesBackend)} nftablesMode=${shown(config.felix.nftablesMode)}`
        : 'none',
    ],
    ['--cluster-cidr', 'kube-controller-manager pod', shown(config.clusterCIDR)],
  ];
  for (const e of config.errors) rows.push(['unreadable', e, '-']);
  return { kind: 'table', title: 'Calico configuration', columns: ['SETTING', 'READ FROM', 'VALUE'], rows };
}
