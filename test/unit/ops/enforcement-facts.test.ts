import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseIptablesSave } from '../../../src/parse/iptables-save.ts';
import {
  calicoDataplaneOf,
  counterDelta,
  dropFindings,
  programmedFindings,
  walkWorkload,
  workloadChainText,
} from '../../../src/ops/enforcement-facts.ts';
import type { SideVerdict } from '../../../src/policy/index.ts';
import { felixNftSets, felixNftTables } from '../../../src/calico/felix-nft.ts';
import { parseNftTable } from '../../../src/parse/nft-json.ts';

/** A Felix workload's chains as published (monzo/calico-accountant's test input), without the `# Source:` line. */
function published(name: string): string {
  const text = readFileSync(new URL(`../calico/fixtures/${name}`, import.meta.url), 'utf8');
  return `*filter\n${text
    .split('\n')
    .filter((l) => !l.startsWith('# Source:'))
    .join('\n')}\nCOMMIT\n`;
}

const before = published('calico-accountant-iptables-save-c.txt');
// The same node after three SYNs met "Drop if no policies passed packet" in the workload's ingress chain.
const after = before.replace(
  /\[0:0\] (-A cali-tw-cali5125b8e5d77 .*Drop if no policies passed packet.*)/,
  '[3:180] $1',
);

const side = (over: Partial<SideVerdict>): SideVerdict => ({
  direction: 'ingress',
  isolated: true,
  verdict: 'deny',
  decidedBy: null,
  reason: '',
  considered: [],
  logged: [],
  caveats: [],
  ...over,
});

describe("the node's counters around the test connection", () => {
  it("names Calico's no-policy drop that counted the test's packets, with the counter growth as evidence", () => {
    const delta = counterDelta('k8s-node1', { save: parseIptablesSave(before) }, { save: parseIptablesSave(after) });
    const findings = dropFindings([delta]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'error', code: 'policy_drop_counted' });
    expect(findings[0]!.message).toBe(
      'k8s-node1: Calico dropped 3 packets of the test connection in cali-tw-cali5125b8e5d77: no network policy allowed them (Drop if no policies passed packet)',
    );
    expect(findings[0]!.evidence).toMatch(/^\[\+3\] -A cali-tw-cali5125b8e5d77 .*-j DROP$/);
  });

  it('names a FORWARD policy DROP that counted packets (Docker, firewalld)', () => {
    const table = (n: number) =>
      `*filter\n:INPUT ACCEPT [10:600]\n:FORWARD DROP [${n}:${n * 60}]\n:OUTPUT ACCEPT [10:600]\nCOMMIT\n`;
    const findings = dropFindings([
      counterDelta('k8s-node1', { save: parseIptablesSave(table(4)) }, { save: parseIptablesSave(table(7)) }),
    ]);
    expect(findings).toEqual([
      expect.objectContaining({
        code: 'chain_policy_dropped',
        message: expect.stringContaining('FORWARD chain policy DROP dropped 3 packets'),
      }),
    ]);
  });

  it('says nothing when no drop counted, and nothing for a node it could not read', () => {
    expect(
      dropFindings([counterDelta('n', { save: parseIptablesSave(before) }, { save: parseIptablesSave(before) })]),
    ).toEqual([]);
    expect(
      dropFindings([counterDelta('n', { error: 'iptables-save -c exited 1' }, { save: parseIptablesSave(before) })]),
    ).toEqual([]);
  });
});

describe("Calico's dataplane on a node, from the tables read with the counters", () => {
  it('iptables: Felix cali-* chains; nftables: its own table (published dump); eBPF: its devices; else not seen', () => {
    const nft = parseNftTable(readFileSync(new URL('../calico/fixtures/felix-nftables-calico-9290.json', import.meta.url), 'utf8').replace(/^# Source:.*\n/, '')); // prettier-ignore
    expect(calicoDataplaneOf({ save: parseIptablesSave(before) }, false)).toBe('iptables');
    expect(calicoDataplaneOf({ save: felixNftTables(nft), sets: felixNftSets(nft) }, false)).toBe('nftables');
    expect(calicoDataplaneOf({ save: parseIptablesSave(before) }, true)).toBe('ebpf');
    expect(calicoDataplaneOf({ save: parseIptablesSave('*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n') }, false)).toBeNull();
    expect(calicoDataplaneOf({ error: 'iptables-save -c exited 1' }, false)).toBeNull();
  });
});

describe('policies the API holds and the node has programmed', () => {
  const chains = walkWorkload('k8s-node1', { save: parseIptablesSave(after) }, 'cali5125b8e5d77');

  it('reports an API policy whose chain the workload chain does not jump to', () => {
    const findings = programmedFindings(
      chains,
      side({
        considered: [
          { kind: 'NetworkPolicy', tier: 'default', namespace: 'payments', name: 'default-deny-ingress', order: 1000 },
        ],
      }),
    );
    expect(findings).toEqual([expect.objectContaining({ severity: 'error', code: 'policy_not_programmed' })]);
    expect(findings[0]!.evidence).toContain('cali-pi-');
  });

  it('reports a workload with no Felix chain at all when the API has policies for it', () => {
    const none = walkWorkload('k8s-node1', { save: parseIptablesSave('') }, 'cali0000000000a');
    expect(
      programmedFindings(
        none,
        side({
          considered: [{ kind: 'NetworkPolicy', tier: 'default', namespace: 'payments', name: 'x', order: 1000 }],
        }),
      ),
    ).toEqual([expect.objectContaining({ code: 'workload_chain_missing' })]);
    expect(programmedFindings(none, side({ considered: [] }))).toEqual([]);
  });

  it('shows the workload chain with its counters', () => {
    expect(workloadChainText(chains!, 'ingress')).toContain('[3:180] -A cali-tw-cali5125b8e5d77');
  });
});
