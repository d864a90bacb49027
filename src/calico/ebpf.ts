/**
 * Calico's eBPF dataplane (FelixConfiguration bpfEnabled, calico-node env FELIX_BPFENABLED): Felix attaches BPF
 * programs to every workload and host interface and replaces kube-proxy, so Services are NATed by BPF maps and policy
 * is enforced by BPF programs — no KUBE-* chains, no cali-tw-/cali-fw- policy chains, no DROP counters to read. On a
 * node it shows as the `bpfin.cali` / `bpfout.cali` veth pair Felix creates for Service traffic
 * (felix/dataplane/linux/dataplanedefs). Pure: what it is, and what to run instead of the rule walks.
 */
import type { Finding } from '../model/report.ts';

/** The veth pair Felix's eBPF dataplane creates on each node (dataplanedefs.BPFInDev, BPFOutDev). */
export const FELIX_BPF_DEVICES = ['bpfin.cali', 'bpfout.cali'] as const;

/** What shows an eBPF node's Services and policy, run in its calico-node container (calico-node -bpf; bpftool). */
export const EBPF_INSTEAD = [
  'calico-node -bpf nat dump (Services: frontends → backends)',
  'calico-node -bpf conntrack dump (connections BPF has NATed)',
  'calico-node -bpf policy dump <iface> all (the policy program of an interface)',
  'bpftool net show (which programs are attached where)',
] as const;

/** Whether a node's links show the eBPF dataplane; null when the links could not be read. */
export function runsCalicoEbpf(linkNames: readonly string[] | null): boolean | null {
  if (linkNames === null) return null;
  return FELIX_BPF_DEVICES.some((d) => linkNames.includes(d));
}

/** The plain words for a node in eBPF mode: which checks do not apply there, and what to run instead. */
export function ebpfNodeFinding(node: string, checks: 'service' | 'policy'): Finding {
  const skipped =
    checks === 'service'
      ? "kube-proxy's rules (KUBE-* chains, table ip kube-proxy, IPVS) are not walked there: Calico's BPF programs load-balance Services in their place"
      : "Felix's policy chains (cali-tw-/cali-fw- → cali-pi-/cali-po-) and their DROP counters are not read there: BPF programs enforce policy in their place";
  return {
    severity: 'info',
    code: 'calico_ebpf_node',
    message: `${node} runs Calico's eBPF dataplane, so ${skipped}; to see what it does, run in its calico-node: ${EBPF_INSTEAD.join('; ')}`,
    evidence: `ip link on ${node}: ${FELIX_BPF_DEVICES.join(', ')} present`,
  };
}
