/**
 * Walks kube-proxy's rules (iptables mode) the way an engineer reads `iptables-save`: in the nat table, from the
 * KUBE-NODEPORTS rule for a port (or the KUBE-SERVICES rule for a ClusterIP:port) through KUBE-EXT / KUBE-SVC to
 * each KUBE-SEP and its DNAT. Pure. Works for old kube-proxy (KUBE-NODEPORTS → KUBE-SVC directly) and new
 * (→ KUBE-EXT → KUBE-SVC), and keeps every rule line it followed as evidence.
 */
import type { ServiceEntry, ServiceWalk } from './service-dataplane.ts';
import { canonicalHostPort, canonicalIp } from '../net/host-port.ts';

/** Splits a rule line into arguments, honouring iptables-save's double quotes. */
export function ruleArgs(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) =>
    m[1] !== undefined ? m[1].replace(/\\"/g, '"') : m[2]!,
  );
}

function option(args: readonly string[], name: string): string | null {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] ?? null) : null;
}

/** Chains kube-proxy jumps through on the way to an endpoint (not the marking and masquerading helpers). */
const FOLLOWED = /^KUBE-(EXT|SVC|SVL|SEP|FW|XLB)-/;

/**
 * Rule lines by chain, from one table of an iptables-save (`*nat` … `COMMIT`): KUBE-SERVICES and KUBE-NODEPORTS
 * exist in both nat (the DNAT path) and filter (kube-proxy's REJECTs), and must not be mixed. A bare excerpt without
 * table headers (`iptables-save | grep …`) counts as any table. `iptables-save -c` puts the rule's counters first
 * ("[0:0] -A …"), kept off the line here.
 */
export function rulesByChain(save: string, table: 'nat' | 'filter'): Map<string, string[]> {
  const chains = new Map<string, string[]>();
  let current: string | null = null;
  for (const raw of save.split('\n')) {
    const line = raw.trim().replace(/^\[\d+:\d+\]\s+/, '');
    const header = /^\*(\S+)$/.exec(line);
    if (header) current = header[1]!;
    if (current !== null && current !== table) continue;
    const m = /^-A (?<chain>\S+) /.exec(line);
    if (!m?.groups) continue;
    const list = chains.get(m.groups.chain!) ?? [];
    list.push(line);
    chains.set(m.groups.chain!, list);
  }
  return chains;
}

export const natRulesByChain = (save: string): Map<string, string[]> => rulesByChain(save, 'nat');

/** `-d 10.96.0.10/32`, `-d fd00:10:96::a/128` or a bare address names exactly `ip`. */
function destinationIs(args: readonly string[], ip: string): boolean {
  const d = option(args, '-d');
  if (d === null) return false;
  const [addr, len] = d.split('/');
  return (len === undefined || len === '32' || len === '128') && canonicalIp(addr!) === canonicalIp(ip);
}

/**
 * kube-proxy's REJECT of a NodePort with no endpoints: in KUBE-EXTERNAL-SERVICES or KUBE-NODEPORTS (filter), and in
 * older kube-proxy (before 1.13 or so) in KUBE-SERVICES itself, told from a ClusterIP's REJECT by having no `-d`
 * (it matches `-m addrtype --dst-type LOCAL`: any of the node's addresses).
 */
function isNodePortReject(chain: string, args: readonly string[]): boolean {
  if (chain !== 'KUBE-SERVICES') return true;
  return option(args, '-d') === null;
}

/** `save`: iptables-save of the nat table and, for the REJECTs of Services without endpoints, the filter table. */
export function kubeProxyWalk(save: string, entry: ServiceEntry): ServiceWalk {
  const chains = natRulesByChain(save);
  const filter = rulesByChain(save, 'filter');
  const sameProtocol = (a: readonly string[]) =>
    entry.protocol === undefined || option(a, '-p') === null || option(a, '-p') === entry.protocol.toLowerCase();
  const entryRules =
    'nodePort' in entry
      ? (chains.get('KUBE-NODEPORTS') ?? []).filter(
          (l) => option(ruleArgs(l), '--dport') === String(entry.nodePort) && sameProtocol(ruleArgs(l)),
        )
      : (chains.get('KUBE-SERVICES') ?? []).filter((l) => {
          const a = ruleArgs(l);
          return destinationIs(a, entry.clusterIP) && option(a, '--dport') === String(entry.port) && sameProtocol(a);
        });
  const rules: string[] = [...entryRules];
  const dnatTargets: string[] = [];
  const drops: string[] = [];
  const rejects = ['KUBE-EXTERNAL-SERVICES', 'KUBE-SERVICES', 'KUBE-NODEPORTS'].flatMap((chain) =>
    (filter.get(chain) ?? []).filter((l) => {
      const a = ruleArgs(l);
      if (
        option(a, '-j') !== 'REJECT' ||
        option(a, '--dport') !== String('nodePort' in entry ? entry.nodePort : entry.port) ||
        !sameProtocol(a)
      )
        return false;
      return 'nodePort' in entry ? isNodePortReject(chain, a) : destinationIs(a, entry.clusterIP);
    }),
  );
  const seen = new Set<string>();
  const queue = entryRules
    .map((l) => option(ruleArgs(l), '-j') ?? option(ruleArgs(l), '-g'))
    .filter((c): c is string => c !== null && FOLLOWED.test(c));
  while (queue.length > 0) {
    const chain = queue.shift()!;
    if (seen.has(chain)) continue;
    seen.add(chain);
    for (const line of chains.get(chain) ?? []) {
      rules.push(line);
      const a = ruleArgs(line);
      const target = option(a, '-j') ?? option(a, '-g');
      if (target === 'KUBE-MARK-DROP') drops.push(line);
      if (target === 'DNAT') {
        const to = option(a, '--to-destination');
        // ip6tables-save writes `[fd00::5]:8080`; one spelling for both families (net/host-port.ts).
        if (to) dnatTargets.push(canonicalHostPort(to));
      } else if (target && FOLLOWED.test(target)) {
        queue.push(target);
      }
    }
  }
  return { entryRule: entryRules.length > 0, rules, dnatTargets: [...new Set(dnatTargets)], rejects, drops };
}

/** NodePorts a node's KUBE-NODEPORTS chain handles (from iptables-save -t nat). */
export function nodePortsInSave(save: string): number[] {
  const ports = new Set<number>();
  for (const line of natRulesByChain(save).get('KUBE-NODEPORTS') ?? []) {
    const args = ruleArgs(line);
    const i = args.indexOf('--dport');
    if (i >= 0 && /^\d+$/.test(args[i + 1] ?? '')) ports.add(Number(args[i + 1]));
  }
  return [...ports].sort((a, b) => a - b);
}
