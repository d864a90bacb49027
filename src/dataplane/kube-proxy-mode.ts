/**
 * Which mode kube-proxy runs in on a node, from what the node shows: kube-proxy's own answer on /proxyMode (its
 * metrics server on 127.0.0.1:10249), the tables it wrote (`table ip kube-proxy` → nftables, KUBE-SERVICES matching
 * the KUBE-CLUSTER-IP ipset → IPVS, other KUBE-SERVICES rules → iptables), and whether iptables rules are split between the legacy and nf_tables backends;
 * and which dataplane Calico's Felix runs there (eBPF devices, `table ip calico`, cali-* chains). Pure.
 */
import type { KubeProxyMode, ServiceDataplane } from './service-dataplane.ts';
import { iptablesDataplane } from './iptables-dataplane.ts';
import { nftablesDataplane } from './nftables-dataplane.ts';
import { ipvsDataplane } from './ipvs-dataplane.ts';
import { runsCalicoEbpf } from '../calico/ebpf.ts';
import { linksFromIpJson } from '../parse/ip-json.ts';

/** Outputs of the catalogue commands read for detection; null where the command failed (or the table is absent). */
export interface ModeOutputs {
  nftTable: string | null;
  natSave: string | null;
  proxyMode: string | null;
  legacySave: string | null;
  nftSave: string | null;
  /** `ip -j link show`: Calico's eBPF devices, where kube-proxy's rules are not what carries Services. */
  links?: string | null;
  /** `nft list tables`: Felix's `table ip calico` when Calico runs its nftables dataplane. */
  nftTables?: string | null;
}

/** Which dataplane Calico's Felix programs on the node, from what is there; null where nothing of Felix shows. */
export type CalicoDataplane = 'iptables' | 'nftables' | 'ebpf';

export interface DetectedMode {
  /** The mode walked: kube-proxy's own word when it answered, else what the tables show; null when nothing shows. */
  mode: KubeProxyMode | null;
  /** What kube-proxy answered on /proxyMode (null: no answer). */
  reported: KubeProxyMode | null;
  /** `ipvs`: KUBE-SERVICES matches the KUBE-CLUSTER-IP ipset (IPVS mode keeps that chain too, so `iptables` is true as well). */
  tables: { nftables: boolean; iptables: boolean; ipvs: boolean };
  /** Rules (`-A` lines) in each iptables backend; null where that backend's save could not run. */
  backends: { legacy: number | null; nft: number | null };
  /** The node runs Calico's eBPF dataplane (bpfin.cali / bpfout.cali); null where the links could not be read. */
  calicoEbpf: boolean | null;
  /** Calico's dataplane on the node: eBPF devices, else Felix's nftables table, else its cali-* iptables chains. */
  calicoDataplane: CalicoDataplane | null;
}

const MODES: readonly KubeProxyMode[] = ['iptables', 'nftables', 'ipvs'];

/** The body of a /proxyMode answer (curl prints the body; bash's /dev/tcp the whole HTTP response). */
export function proxyModeFrom(text: string | null): KubeProxyMode | null {
  if (text === null) return null;
  const body = text.includes('\r\n\r\n') ? text.slice(text.indexOf('\r\n\r\n') + 4) : text;
  const word = body.trim();
  return (MODES as readonly string[]).includes(word) ? (word as KubeProxyMode) : null;
}

/** Rules in an iptables-save: its `-A CHAIN …` lines (counters or not). */
export function iptablesRuleCount(save: string): number {
  return save.split('\n').filter((l) => /^(\[\d+:\d+\]\s+)?-A /.test(l.trim())).length;
}

function hasNftTable(json: string | null): boolean {
  if (json === null || json.trim() === '') return false;
  try {
    return ((JSON.parse(json) as { nftables?: unknown[] }).nftables ?? []).some(
      (o) => typeof o === 'object' && o !== null && 'table' in o,
    );
  } catch {
    return false;
  }
}

function linkNames(json: string | null): boolean | null {
  if (json === null) return null;
  try {
    return runsCalicoEbpf(linksFromIpJson(json).map((l) => l.name));
  } catch {
    return null;
  }
}

export function detectKubeProxyMode(o: ModeOutputs): DetectedMode {
  const tables = {
    nftables: hasNftTable(o.nftTable) || (o.nftTables != null && /^table ip6? kube-proxy$/m.test(o.nftTables)),
    iptables: o.natSave !== null && /^(:KUBE-SERVICES |-A KUBE-SERVICES )/m.test(o.natSave),
    ipvs: o.natSave !== null && /^-A KUBE-SERVICES .*--match-set KUBE-CLUSTER-IP /m.test(o.natSave),
  };
  const reported = proxyModeFrom(o.proxyMode);
  const calicoEbpf = linkNames(o.links ?? null);
  const byTables: KubeProxyMode | null = tables.nftables
    ? 'nftables'
    : tables.ipvs
      ? 'ipvs'
      : tables.iptables
        ? 'iptables'
        : null;
  return {
    mode: reported ?? byTables,
    reported,
    tables,
    backends: {
      legacy: o.legacySave === null ? null : iptablesRuleCount(o.legacySave),
      nft: o.nftSave === null ? null : iptablesRuleCount(o.nftSave),
    },
    calicoEbpf,
    calicoDataplane: calicoEbpf
      ? 'ebpf'
      : o.nftTables && /^table ip6? calico$/m.test(o.nftTables)
        ? 'nftables'
        : [o.legacySave, o.nftSave, o.natSave].some(
              (t) => t !== null && t !== undefined && /^(?::cali-\S+ |(?:\[\d+:\d+\] )?-A cali-)/m.test(t),
            )
          ? 'iptables'
          : null,
  };
}

/** The walker for a mode. A node whose mode is unknown is read as iptables. */
export function dataplaneFor(mode: KubeProxyMode | null): ServiceDataplane {
  if (mode === 'nftables') return nftablesDataplane;
  if (mode === 'ipvs') return ipvsDataplane;
  return iptablesDataplane;
}
