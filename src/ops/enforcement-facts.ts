/**
 * The node side of network policy and of the host firewall: each node's tables read with counters before and after
 * the test connection, so the rule that counted the test's packets is the evidence of where they died; and Felix's
 * chains for a workload walked to see whether the node programmed the policies the API holds. Reading is I/O over
 * NodeShell with the catalogue's one command; the judging is pure.
 */
import type { NodeShell, NodeTarget } from '../node/types.ts';
import { iptablesSaveCounters, ipsetList, nftListTable } from '../node/catalogue.ts';
import { parseIptablesSave, type IptablesSave } from '../parse/iptables-save.ts';
import { felixNftSets, felixNftTables, withFelixNft } from '../calico/felix-nft.ts';
import { parseNftTable } from '../parse/nft-json.ts';
import { diffCounters, type CounterDiff } from '../parse/iptables-counters.ts';
import {
  policyProgrammed,
  tunnelAllowlists,
  walkFelixChains,
  type FelixWalk,
  type TunnelAllowlist,
} from '../calico/felix-chains.ts';
import { parseIpsetList } from '../parse/ipset.ts';
import type { CalicoDataplane } from '../dataplane/kube-proxy-mode.ts';
import type { PolicyKind } from '../calico/felix-names.ts';
import type { Finding } from '../model/report.ts';
import type { ConsideredPolicy, SideVerdict } from '../policy/index.ts';

/**
 * One node's tables with counters, or why they could not be read. `sets`: the members of Felix's nftables sets, when
 * it runs that dataplane (in iptables mode its sets are ipsets, read apart).
 */
export type CounterRead = { save: IptablesSave; sets?: ReadonlyMap<string, string[]> } | { error: string };

/** What read the counters, as the evidence names it. */
export function counterTool(family: 4 | 6 = 4): string {
  return family === 6 ? 'ip6tables-save -c' : 'iptables-save -c';
}

/**
 * `iptables-save -c` (family 6: `ip6tables-save -c`, for IPv6 pods), with Felix's chains from its nftables table
 * (`nft -j list table ip calico`, every rule counted) laid over it when Calico runs its nftables dataplane. A node
 * without that table (iptables mode) answers nft with an error, which is no error here.
 */
export async function readCounters(
  shell: NodeShell,
  node: NodeTarget,
  signal: AbortSignal,
  family: 4 | 6 = 4,
): Promise<CounterRead> {
  try {
    const [r, nft] = await Promise.all([
      shell.run(node, iptablesSaveCounters({ family }), signal),
      shell
        .run(node, nftListTable(family === 6 ? 'ip6' : 'ip', 'calico'), signal)
        .then((n) => (n.exitCode === 0 && !n.timedOut ? parseNftTable(n.stdout) : null))
        .catch(() => null),
    ]);
    const felix = nft ? felixNftTables(nft) : null;
    const sets = nft && felix && felix.tables.size > 0 ? { sets: felixNftSets(nft) } : {};
    if (r.exitCode !== 0) {
      // An nftables-mode node may have no iptables at all; Felix's table alone is what it enforces.
      if (felix && felix.tables.size > 0) return { save: felix, ...sets };
      return {
        error:
          `${counterTool(family)} on ${node.name} exited ${r.exitCode ?? r.signal ?? '?'}: ${r.stderr.trim().split('\n').at(-1) ?? ''}`.trim(),
      };
    }
    const save = parseIptablesSave(r.stdout);
    return { save: felix ? withFelixNft(save, felix) : save, ...sets };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/**
 * Calico's dataplane on a node from its tables as read: eBPF (its devices, `ebpf`), Felix's own nftables table, or
 * Felix's cali-* chains in iptables; null when nothing of Felix shows (or the tables could not be read).
 */
export function calicoDataplaneOf(read: CounterRead, ebpf: boolean): CalicoDataplane | null {
  if (ebpf) return 'ebpf';
  if (!('save' in read)) return null;
  if (read.sets) return 'nftables';
  const felixChains = [...read.save.tables.values()].some((t) =>
    [...t.chains.keys()].some((c) => c.startsWith('cali-')),
  );
  return felixChains ? 'iptables' : null;
}

/** One of Felix's tunnel allowlists on a node and the set's members as read (null: `ipset list` failed). */
export interface AllowlistReading {
  allowlist: TunnelAllowlist;
  members: string[] | null;
  /** Where the members were read, as the evidence names it: `ipset list <set>` or Felix's nftables table. */
  source: string;
}

/**
 * The members of Felix's allowlist sets for this tunnel and family, found in the node's cali-INPUT as already read
 * (`read`): one `ipset list <set>` each. A node without the rules (no VXLAN, another dataplane) reads nothing.
 */
export async function readTunnelAllowlists(
  shell: NodeShell,
  node: NodeTarget,
  read: CounterRead,
  tunnel: string,
  family: 4 | 6,
  signal: AbortSignal,
): Promise<AllowlistReading[]> {
  const filter = 'save' in read ? read.save.tables.get('filter') : undefined;
  const lists = filter
    ? tunnelAllowlists(filter).filter((a) => a.tunnel === tunnel && a.family === family && a.set !== null)
    : [];
  return Promise.all(
    lists.map(async (allowlist) => {
      // Felix's nftables dataplane keeps the set in its own table, already read with the rules.
      const inTable = 'save' in read ? read.sets?.get(allowlist.set!) : undefined;
      if (inTable)
        return { allowlist, members: inTable, source: `nft list table ${family === 6 ? 'ip6' : 'ip'} calico, set ${allowlist.set}` }; // prettier-ignore
      const cmd = ipsetList(allowlist.set!);
      const r = await shell.run(node, cmd, signal).catch(() => null);
      const set = r && r.exitCode === 0 && !r.timedOut ? parseIpsetList(r.stdout).sets.get(allowlist.set!) : undefined;
      return { allowlist, members: set ? set.members : null, source: cmd.argv.join(' ') };
    }),
  );
}

export interface NodeCounterDelta {
  node: string;
  diff: CounterDiff | null;
  error: string | null;
  /** The family the counters were read in (absent: 4). */
  family?: 4 | 6;
}

export function counterDelta(
  node: string,
  before: CounterRead,
  after: CounterRead,
  family: 4 | 6 = 4,
): NodeCounterDelta {
  const f = family === 6 ? { family } : {};
  if ('error' in before) return { node, diff: null, error: before.error, ...f };
  if ('error' in after) return { node, diff: null, error: after.error, ...f };
  return { node, diff: diffCounters(before.save, after.save), error: null, ...f };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Problems for every DROP or REJECT whose counter grew while the test connection ran, and for chain policies (a
 * FORWARD policy DROP) that counted packets: "dropped on k8s-node1 by …", with the rule and its counter growth as
 * evidence. Felix's "no policy passed the packet" drops are worded as policy drops.
 */
export function dropFindings(deltas: readonly NodeCounterDelta[]): Finding[] {
  const out: Finding[] = [];
  for (const d of deltas) {
    if (!d.diff) continue;
    for (const p of d.diff.policies.filter((x) => x.drop)) {
      out.push({
        severity: 'error',
        code: 'chain_policy_dropped',
        message: `${d.node}: the ${p.table} table's ${p.chain} chain policy ${p.policy} dropped ${plural(p.packets, 'packet')} during the test connection (a host firewall: Docker, firewalld or a hand-made rule)`,
        evidence: `:${p.chain} ${p.policy} — ${plural(p.packets, 'packet')} counted (${counterTool(d.family)}, before → after)`,
      });
    }
    for (const r of d.diff.rules.filter((x) => x.drop !== null)) {
      const felixNoPolicy = r.comments.some((c) => /Drop if no (policies|profiles)/i.test(c));
      const where = r.chain.startsWith('cali-') ? `Calico's ${r.chain}` : `${r.table}/${r.chain}`;
      const message = felixNoPolicy
        ? `${d.node}: Calico dropped ${plural(r.packets, 'packet')} of the test connection in ${r.chain}: no network policy allowed them (${r.comments.join('; ')})`
        : `${d.node}: ${plural(r.packets, 'packet')} of the test connection ${r.drop === 'reject' ? 'rejected' : 'dropped'} by a rule in ${where}`;
      out.push({
        severity: 'error',
        code: felixNoPolicy ? 'policy_drop_counted' : 'drop_rule_counted',
        message,
        evidence: `[+${r.packets}] ${r.raw}`,
      });
    }
  }
  return out;
}

/** The Felix kind a normalized policy is programmed as. */
function felixKind(kind: ConsideredPolicy['kind']): PolicyKind {
  if (kind === 'NetworkPolicy') return 'KubernetesNetworkPolicy';
  if (kind === 'GlobalNetworkPolicy') return 'GlobalNetworkPolicy';
  return 'NetworkPolicy';
}

export interface WorkloadChains {
  node: string;
  iface: string;
  walk: FelixWalk;
}

export function walkWorkload(node: string, read: CounterRead, iface: string): WorkloadChains | null {
  if ('error' in read) return null;
  // iptables-save prints no table that holds no rules: a node without a filter table has no Felix chains either.
  const filter = read.save.tables.get('filter') ?? { name: 'filter', chains: new Map() };
  return { node, iface, walk: walkFelixChains(filter, iface) };
}

/**
 * A policy that the API says selects the workload, but that the node's Felix chains do not reference: the node has
 * not programmed it (Felix down, out of sync, or a hand-edited table), so what the node enforces is not what the API
 * says. Only checked where Felix's chains for the workload exist at all (an eBPF or nftables node has none).
 */
export function programmedFindings(chains: WorkloadChains | null, side: SideVerdict): Finding[] {
  if (!chains) return [];
  const direction = side.direction;
  const walk = direction === 'ingress' ? chains.walk.ingress : chains.walk.egress;
  if (!walk.workloadChainExists) {
    if (side.considered.length === 0) return [];
    return [
      {
        severity: 'warning',
        code: 'workload_chain_missing',
        message: `${chains.node} has no Felix chain ${walk.workloadChain} for ${chains.iface}: the ${direction} policies the API holds for it are not programmed there (Felix not running, not in sync, or another dataplane)`,
        evidence: `no ${walk.workloadChain} in iptables-save -t filter on ${chains.node}`,
      },
    ];
  }
  const out: Finding[] = [];
  for (const p of side.considered) {
    const answer = policyProgrammed(chains.walk, {
      direction,
      kind: felixKind(p.kind),
      ...(p.namespace ? { namespace: p.namespace } : {}),
      name: p.name,
      tier: p.tier,
    });
    if (answer.programmed && answer.match?.chainExists !== false) continue;
    out.push({
      severity: 'error',
      code: 'policy_not_programmed',
      message: `${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name} selects the ${direction === 'ingress' ? 'destination' : 'source'} pod in the API, but ${chains.node} has not programmed it: ${walk.workloadChain} does not jump to its chain`,
      evidence: `expected one of ${answer.expectedChains.join(', ')} in ${walk.workloadChain} on ${chains.node}`,
    });
  }
  return out;
}

/** The workload chain as the node has it, with counters: the Policy section's node-side half. */
export function workloadChainText(chains: WorkloadChains, direction: 'ingress' | 'egress'): string {
  const walk = direction === 'ingress' ? chains.walk.ingress : chains.walk.egress;
  if (!walk.workloadChainExists) return `${chains.node}: no ${walk.workloadChain}`;
  return [
    `${chains.node}: ${walk.workloadChain}`,
    ...walk.rules.map((r) => `  ${r.counters ? `[${r.counters.packets}:${r.counters.bytes}] ` : ''}${r.raw}`),
  ].join('\n');
}
