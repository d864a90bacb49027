/**
 * Compares two `iptables-save -c` reads of the same node and reports which rules counted packets in between: the
 * evidence "this DROP fired while we were sending". Pure.
 *
 * Rules are paired per table and chain by their text (without counters): the k-th occurrence of a text in the chain
 * before is paired with the k-th occurrence after. A rule inserted or removed between the two reads therefore shifts
 * positions without mispairing its neighbours. A rule whose counter went down was replaced or zeroed (`iptables -Z`):
 * it is reported with `reset` and its after-counters as the delta.
 */
import type { IptablesRule, IptablesSave } from './iptables-save.ts';

/** kube-proxy's KUBE-MARK-DROP mark (kubelet/kube-proxy `--iptables-drop-bit` default 15 → 0x8000). */
export const KUBE_MARK_DROP_CHAIN = 'KUBE-MARK-DROP';

export type DropKind =
  /** `-j DROP` / `-j REJECT` itself. */
  | 'drop'
  | 'reject'
  /** Sets a mark that a later DROP/REJECT rule of the same chain matches on (Felix's deny with multiple matches). */
  | 'marks-for-drop'
  /** Jumps to kube-proxy's KUBE-MARK-DROP. */
  | 'kube-mark-drop';

export interface RuleDelta {
  table: string;
  chain: string;
  /** Position in the after read. */
  position: number;
  raw: string;
  packets: number;
  bytes: number;
  /** The rule was not in the before read (its whole counter is the delta). */
  appeared: boolean;
  /** The counter went down (rule replaced or counters zeroed); the delta is the after counter. */
  reset: boolean;
  drop: DropKind | null;
  /** Felix's `cali:<hash>` rule id, when the rule has one. */
  felixRuleId: string | null;
  /** Every comment of the rule other than the `cali:` id (Felix's "Drop if no policies passed packet" …). */
  comments: string[];
}

export interface PolicyDelta {
  table: string;
  chain: string;
  policy: string;
  packets: number;
  bytes: number;
  drop: boolean;
}

export interface CounterDiff {
  rules: RuleDelta[];
  policies: PolicyDelta[];
  /** Either read was taken without `-c`: nothing can be compared. */
  missingCounters: boolean;
}

const FELIX_RULE_ID = /^cali:(?<id>[A-Za-z0-9_-]+)$/;

/** How a rule drops, if it does, given the rules of its chain. */
export function dropKind(rule: IptablesRule, chainRules: readonly IptablesRule[]): DropKind | null {
  const t = rule.target;
  if (!t) return null;
  if (t.name === 'DROP') return 'drop';
  if (t.name === 'REJECT') return 'reject';
  if (t.name === KUBE_MARK_DROP_CHAIN) return 'kube-mark-drop';
  if (t.name === 'MARK' && t.setMark && t.setMark.value !== 0) {
    const { value, mask } = t.setMark;
    // The set bits must be bits the later DROP tests for as set: `-m mark --mark 0x40000/0x40000 -j DROP`.
    const tests = (m: { value: number; mask: number; negated: boolean }) =>
      !m.negated && (m.value & m.mask) >>> 0 !== 0 && (value & mask & m.mask) >>> 0 === (m.value & m.mask) >>> 0;
    const later = chainRules.slice(rule.position + 1);
    if (later.some((r) => (r.target?.name === 'DROP' || r.target?.name === 'REJECT') && r.matches.marks.some(tests)))
      return 'marks-for-drop';
  }
  return null;
}

export function felixRuleIdOf(rule: IptablesRule): string | null {
  for (const c of rule.matches.comments) {
    const m = FELIX_RULE_ID.exec(c);
    if (m?.groups) return m.groups.id!;
  }
  return null;
}

export function diffCounters(before: IptablesSave, after: IptablesSave): CounterDiff {
  const rules: RuleDelta[] = [];
  const policies: PolicyDelta[] = [];
  for (const [tableName, table] of after.tables) {
    const beforeTable = before.tables.get(tableName);
    for (const [chainName, chain] of table.chains) {
      const beforeChain = beforeTable?.chains.get(chainName);
      if (chain.policy !== null && chain.policyCounters) {
        const b = beforeChain?.policyCounters ?? { packets: 0, bytes: 0 };
        const reset = chain.policyCounters.packets < b.packets;
        const packets = reset ? chain.policyCounters.packets : chain.policyCounters.packets - b.packets;
        const bytes = reset ? chain.policyCounters.bytes : chain.policyCounters.bytes - b.bytes;
        if (packets > 0)
          policies.push({
            table: tableName,
            chain: chainName,
            policy: chain.policy,
            packets,
            bytes,
            drop: chain.policy === 'DROP' || chain.policy === 'REJECT',
          });
      }
      // k-th occurrence of a text before ↔ k-th occurrence after.
      const byText = new Map<string, IptablesRule[]>();
      for (const r of beforeChain?.rules ?? []) {
        const list = byText.get(r.raw);
        if (list) list.push(r);
        else byText.set(r.raw, [r]);
      }
      const used = new Map<string, number>();
      for (const r of chain.rules) {
        if (r.packets === null || r.bytes === null) continue;
        const k = used.get(r.raw) ?? 0;
        used.set(r.raw, k + 1);
        const b = byText.get(r.raw)?.[k];
        const appeared = b === undefined;
        const bp = b?.packets ?? 0;
        const bb = b?.bytes ?? 0;
        const reset = r.packets < bp;
        const packets = reset ? r.packets : r.packets - bp;
        const bytes = reset ? r.bytes : r.bytes - bb;
        if (packets <= 0) continue;
        rules.push({
          table: tableName,
          chain: chainName,
          position: r.position,
          raw: r.raw,
          packets,
          bytes,
          appeared,
          reset,
          drop: dropKind(r, chain.rules),
          felixRuleId: felixRuleIdOf(r),
          comments: r.matches.comments.filter((c) => !FELIX_RULE_ID.test(c)),
        });
      }
    }
  }
  return { rules, policies, missingCounters: !before.withCounters || !after.withCounters };
}
