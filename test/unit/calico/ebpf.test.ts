import { describe, expect, it } from '@jest/globals';
import { FELIX_BPF_DEVICES, runsCalicoEbpf } from '../../../src/calico/ebpf.ts';
import { linksFromIpJson } from '../../../src/parse/ip-json.ts';
import { inspectServiceRules } from '../../../src/ops/node-facts.ts';
import { diagnoseService } from '../../../src/ops/service-diagnosis.ts';
import { answeringShell } from '../../support/answering-shell.ts';
import { nodePortService } from '../../support/service-info.ts';
import { publishedFixture } from '../parse/published-fixture.ts';
import { calicoFixture } from './fixture.ts';

const ebpfLinks = calicoFixture('lab-ebpf-devices-ip-j-link.json');
const labLinks = publishedFixture('lab-ip-j-d-link.json');
const names = (json: string) => linksFromIpJson(json).map((l) => l.name);

describe("Calico's eBPF dataplane on a node", () => {
  it('is seen in the veth pair Felix creates, and not on a node without it', () => {
    expect(names(ebpfLinks)).toEqual(expect.arrayContaining([...FELIX_BPF_DEVICES]));
    expect(runsCalicoEbpf(names(ebpfLinks))).toBe(true);
    expect(runsCalicoEbpf(names(labLinks))).toBe(false);
    expect(runsCalicoEbpf(null)).toBeNull();
  });

  describe('nodeport on an eBPF node (kube-proxy off: no KUBE-* rules, no table ip kube-proxy)', () => {
    const node = { name: 'k8s-node1', address: '10.254.0.11' };
    const svc = nodePortService({
      name: 'web',
      clusterIP: '10.96.0.20',
      selector: { app: 'web' },
      port: 80,
      targetPort: 8080,
      nodePort: 31080,
    });
    const endpoints = [
      {
        ip: '10.244.0.2',
        ready: true,
        nodeName: 'k8s-node1',
        pod: null,
        ports: [{ name: null, port: 8080, protocol: 'TCP' }],
      },
    ];
    // What such a node answers: empty nat and filter tables (Felix's few iptables rules aside), no nft table.
    const outputs = (links: string) => ({
      'ip -j link show': links,
      'iptables-save -t nat': '',
      'iptables-save -t filter': '',
    });
    const diagnose = async (links: string) => {
      const rules = await inspectServiceRules(
        answeringShell(outputs(links)),
        node,
        'nodeport',
        svc,
        31080,
        AbortSignal.timeout(5000),
      );
      return diagnoseService({ kind: 'nodeport', port: 31080, service: svc, endpoints, nodes: [rules] });
    };

    it('yields no false "rule missing", only what does not apply and what to run instead', async () => {
      const found = await diagnose(ebpfLinks);
      expect(found.map((f) => `${f.severity}:${f.code}`)).toEqual(['info:calico_ebpf_node']);
      expect(found[0]!.message).toContain("k8s-node1 runs Calico's eBPF dataplane");
      expect(found[0]!.message).toContain('calico-node -bpf nat dump');
      expect(found[0]!.message).toContain('bpftool');
      expect(found[0]!.evidence).toBe('ip link on k8s-node1: bpfin.cali, bpfout.cali present');
    });

    it('the same empty tables on a node without the eBPF devices are a missing rule', async () => {
      const found = await diagnose(labLinks);
      expect(found.map((f) => `${f.severity}:${f.code}`)).toContain('error:nodeport_rule_missing');
    });
  });
});
