import { describe, expect, it } from '@jest/globals';
import { felixNftComments, felixNftTables, withFelixNft } from '../../../src/calico/felix-nft.ts';
import { parseNftTable } from '../../../src/parse/nft-json.ts';

/** `nft -j list table ip calico` text to iptables-shaped tables, as readCounters reads it (empty text: none). */
const felixNftSave = (json: string) => felixNftTables(parseNftTable(json));
import { hostKillers, walkFelixChains } from '../../../src/calico/felix-chains.ts';
import { parseIptablesSave } from '../../../src/parse/iptables-save.ts';
import { counterDelta, dropFindings, readCounters, walkWorkload } from '../../../src/ops/enforcement-facts.ts';
import { answeringShell } from '../../support/answering-shell.ts';
import { calicoFixture } from './fixture.ts';

const before = calicoFixture('felix-nftables-calico-9290.json');
const IFACE = 'cali11239f98883';

/** The same table after the test connection: the "Drop if no policies passed packet" rule counted 3 packets. */
function afterDrops(packets: number): string {
  const doc = JSON.parse(before) as { nftables: Record<string, Record<string, unknown>>[] };
  for (const item of doc.nftables) {
    const rule = item.rule;
    if (rule?.comment !== 'Drop if no policies passed packet') continue;
    for (const e of rule.expr as Record<string, unknown>[])
      if ('counter' in e) e.counter = { packets, bytes: 60 * packets };
  }
  return JSON.stringify(doc);
}

describe("Felix's nftables table read as its iptables chains", () => {
  const filter = felixNftSave(before).tables.get('filter')!;

  it('splits the rule id from the comments Felix joins into one nft comment', () => {
    expect(felixNftComments('cali:zeZtiiPDsE6BwqUG; Unknown interface')).toEqual([
      'cali:zeZtiiPDsE6BwqUG',
      'Unknown interface',
    ]);
    expect(felixNftComments('cali:ljtHSLJQhigspPd1;')).toEqual(['cali:ljtHSLJQhigspPd1']);
    expect(felixNftComments('Drop if no policies passed packet')).toEqual(['Drop if no policies passed packet']);
  });

  it('lays each layer out as a table, chains without the layer prefix, base chains with their policy', () => {
    const tables = felixNftSave(before).tables;
    expect([...tables.keys()].sort()).toEqual(['filter', 'mangle', 'nat', 'raw']);
    expect(filter.chains.get('FORWARD')).toMatchObject({ policy: 'ACCEPT' });
    expect(filter.chains.get('FORWARD')!.rules[0]).toMatchObject({
      target: { kind: 'jump', name: 'cali-FORWARD' },
      matches: { comments: ['cali:dpfqBgJrpRwlrqw1'] },
      packets: 0,
      bytes: 0,
      raw: 'add rule ip calico filter-FORWARD counter jump filter-cali-FORWARD comment "cali:dpfqBgJrpRwlrqw1;"',
    });
    // `meta mark set mark & 0xfffdffff` clears the pass bit, as `--set-xmark 0x0/0x20000` does.
    const startOfPolicies = filter.chains.get(`cali-tw-${IFACE}`)!.rules[3]!;
    expect(startOfPolicies.target).toMatchObject({ name: 'MARK', setMark: { value: 0, mask: 0x20000 } });
    expect(startOfPolicies.matches.comments).toEqual(['cali:6lKycZxeeZ1PugZz', 'Start of policies']);
  });

  it('walks FORWARD → the dispatch verdict map → the workload chain → its policy and the no-policy drop', () => {
    const walk = walkFelixChains(filter, IFACE);
    expect(walk.ingress.forwardEntry?.raw).toBe(
      'add rule ip calico filter-cali-FORWARD oifname "cali*" counter jump filter-cali-to-wl-dispatch comment "cali:j573pOiV4ETpv7o4;"',
    );
    expect(walk.ingress.dispatchEntry?.raw).toBe(
      `element filter-cali-to-wl-dispatch { ${IFACE} : goto filter-cali-tw-${IFACE} }`,
    );
    expect(walk.ingress.workloadChainExists).toBe(true);
    expect(walk.ingress.policies.map((p) => [p.chain, p.chainExists])).toEqual([
      ['cali-pi-_DGlcbEzkd1cvh5X1F7M', true],
    ]);
    expect(walk.ingress.noPolicyDrops).toHaveLength(1);
    // The egress map holds no element for it in this table: no dispatch entry, not a false one.
    expect(walk.egress.dispatchEntry).toBeNull();
    expect(walk.egress.workloadChainExists).toBe(false);
  });

  it("counts the test connection's packets on Felix's no-policy drop, worded as a policy drop", () => {
    const delta = counterDelta('k8s-node2', { save: felixNftSave(before) }, { save: felixNftSave(afterDrops(3)) });
    const found = dropFindings([delta]);
    expect(found.map((f) => f.code)).toEqual(['policy_drop_counted']);
    expect(found[0]!.message).toBe(
      `k8s-node2: Calico dropped 3 packets of the test connection in cali-tw-${IFACE}: no network policy allowed them (Drop if no policies passed packet)`,
    );
    expect(found[0]!.evidence).toContain(`[+3] add rule ip calico filter-cali-tw-${IFACE}`);
    // Unchanged counters are no finding; nor is Felix's FORWARD (policy accept) a host firewall.
    expect(
      dropFindings([counterDelta('k8s-node2', { save: felixNftSave(before) }, { save: felixNftSave(before) })]),
    ).toEqual([]);
    expect(hostKillers(filter)).toEqual([]);
  });

  it('is read on a node alongside iptables-save -c, and a node without the table is read as before', async () => {
    const node = { name: 'k8s-node2', address: '10.254.0.12' };
    const nftNode = answeringShell({ 'iptables-save -c': '', 'nft -j list table ip calico': before });
    const read = await readCounters(nftNode, node, AbortSignal.timeout(5000));
    const chains = walkWorkload('k8s-node2', read, IFACE);
    expect(chains?.walk.ingress.workloadChainExists).toBe(true);
    expect(chains?.walk.ingress.policies.map((p) => p.chain)).toEqual(['cali-pi-_DGlcbEzkd1cvh5X1F7M']);

    const save = '*filter\n:FORWARD ACCEPT [0:0]\n[5:300] -A FORWARD -j ACCEPT\nCOMMIT\n';
    const iptablesNode = answeringShell({ 'iptables-save -c': save });
    const plain = await readCounters(iptablesNode, node, AbortSignal.timeout(5000));
    expect(plain).toEqual({ save: parseIptablesSave(save) });
    expect(withFelixNft(parseIptablesSave(save), felixNftSave(''))).toEqual(parseIptablesSave(save));
  });
});
