import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import {
  dataplaneFor,
  detectKubeProxyMode,
  iptablesRuleCount,
  proxyModeFrom,
  type ModeOutputs,
} from '../../../src/dataplane/kube-proxy-mode.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8').replace(/^# Source:.*\n/, '');
const nftTable = fixture('kube-proxy-nftables-overall.json');
const natSave = fixture('lab-iptables-save-nat.txt');
const legacy = fixture('split-iptables-legacy-save.txt');
const nft = fixture('split-iptables-nft-save.txt');
const none: ModeOutputs = { nftTable: null, natSave: null, proxyMode: null, legacySave: null, nftSave: null };

describe('kube-proxy mode detection', () => {
  it('reads the mode from the tables: table ip kube-proxy → nftables, KUBE-SERVICES → iptables, neither → unknown', () => {
    expect(detectKubeProxyMode({ ...none, nftTable, natSave: '' })).toMatchObject({
      mode: 'nftables',
      tables: { nftables: true, iptables: false },
    });
    expect(detectKubeProxyMode({ ...none, natSave })).toMatchObject({
      mode: 'iptables',
      tables: { nftables: false, iptables: true },
    });
    expect(detectKubeProxyMode(none)).toMatchObject({ mode: null, reported: null });
  });

  it("with both tables, kube-proxy's own /proxyMode answer decides, and both are reported", () => {
    const d = detectKubeProxyMode({ ...none, nftTable, natSave, proxyMode: 'iptables' });
    expect(d).toMatchObject({ mode: 'iptables', reported: 'iptables', tables: { nftables: true, iptables: true } });
  });

  it("understands curl's body and bash's whole HTTP response, and nothing else", () => {
    expect(proxyModeFrom('nftables')).toBe('nftables');
    expect(proxyModeFrom('HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nipvs')).toBe('ipvs');
    expect(proxyModeFrom('404 page not found\n')).toBeNull();
    expect(proxyModeFrom(null)).toBeNull();
  });

  it('counts the rules of each iptables backend (real saves of a node split between legacy and nft)', () => {
    expect(iptablesRuleCount(legacy)).toBe(3);
    expect(iptablesRuleCount(nft)).toBe(2);
    expect(detectKubeProxyMode({ ...none, legacySave: legacy, nftSave: nft }).backends).toEqual({ legacy: 3, nft: 2 });
    expect(detectKubeProxyMode({ ...none, legacySave: null, nftSave: nft }).backends).toEqual({ legacy: null, nft: 2 });
  });

  it("tells Calico's dataplane: eBPF devices, else Felix's nftables table, else its cali-* chains", () => {
    const accountant = readFileSync(new URL('../calico/fixtures/calico-accountant-iptables-save-c.txt', import.meta.url), 'utf8'); // prettier-ignore
    // `nft list tables` as nftables v1.0.6 prints it on a node with Felix's and kube-proxy's tables.
    const tables = 'table ip calico\ntable ip6 calico\ntable ip kube-proxy\n';
    const ebpfLinks = JSON.stringify([{ ifname: 'bpfin.cali' }, { ifname: 'bpfout.cali' }]);
    expect(detectKubeProxyMode({ ...none, nftTables: tables }).calicoDataplane).toBe('nftables');
    expect(detectKubeProxyMode({ ...none, nftSave: accountant }).calicoDataplane).toBe('iptables');
    expect(detectKubeProxyMode({ ...none, nftSave: accountant, links: ebpfLinks }).calicoDataplane).toBe('ebpf');
    expect(
      detectKubeProxyMode({ ...none, nftTables: 'table ip kube-proxy\n', nftSave: nft }).calicoDataplane,
    ).toBeNull();
  });

  it('picks the walker per mode; an unknown mode reads iptables', () => {
    expect(dataplaneFor('nftables').mode).toBe('nftables');
    expect(dataplaneFor('iptables').mode).toBe('iptables');
    expect(dataplaneFor(null).mode).toBe('iptables');
    expect(dataplaneFor('ipvs').mode).toBe('ipvs');
  });
});
