import { describe, expect, it } from '@jest/globals';
import { loadTopology, parseTopology, DEFAULT_TOPOLOGY_PATH } from '../../../src/lab/topology.ts';
import { nftablesChainBase, planLab } from '../../../src/lab/plan.ts';
import { kubeProxyFilterRules, kubeProxyNftRules } from '../../../src/lab/kube-proxy-rules.ts';
import { kubeProxyWalk } from '../../../src/dataplane/iptables-walk.ts';

const NFTABLES_TOPOLOGY = new URL('../../../src/lab/topologies/nftables.yaml', import.meta.url).pathname;
const plan = planLab(await loadTopology(NFTABLES_TOPOLOGY), { lab: 'nfunit', nodeSubnet: '10.254.9.0/24' });

describe('the lab writes kube-proxy nftables rules as the nftables proxier does', () => {
  it('hashes chain names exactly as kube-proxy (published names from TestOverallNFTablesRules)', () => {
    expect(nftablesChainBase('ns1/svc1/tcp/p80')).toBe('ULMVA6XW-ns1/svc1/tcp/p80');
    expect(nftablesChainBase('ns1/svc1/tcp/p80__10.180.0.1/80')).toBe('5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80');
    expect(nftablesChainBase('ns4/svc4/tcp/p80__10.180.0.5/80')).toBe('5RFCDDV7-ns4/svc4/tcp/p80__10.180.0.5/80');
  });

  it('topologies say kubeProxy: iptables by default, nftables when asked, nothing else', async () => {
    expect((await loadTopology(DEFAULT_TOPOLOGY_PATH)).kubeProxy).toBe('iptables');
    expect(plan.kubeProxy).toBe('nftables');
    expect(() =>
      parseTopology({ kubeProxy: 'ipvs', nodes: [{ name: 'n1' }], ipPools: [{ name: 'p', cidr: '10.244.0.0/16' }] }),
    ).toThrow(/kubeProxy/);
  });

  it('gives each node its own nodeport-ips, maps for dispatch and no-endpoint rejects, numgen load balancing', () => {
    const [n1, n2] = plan.nodes;
    const text = kubeProxyNftRules(plan, n1!);
    expect(text).toContain(`add element ip kube-proxy nodeport-ips { ${n1!.ip} }`);
    expect(kubeProxyNftRules(plan, n2!)).toContain(`add element ip kube-proxy nodeport-ips { ${n2!.ip} }`);
    expect(text).toMatch(
      /numgen random mod 2 vmap \{ 0 : goto endpoint-\w{8}-default\/web\/tcp\/http__10\.245\.0\.1\/8080 , 1 : goto endpoint-\w{8}-default\/web\/tcp\/http__10\.245\.0\.65\/8080 \}/,
    );
    expect(text).toContain(
      'add element ip kube-proxy no-endpoint-nodeports { tcp . 31181 comment "default/empty:http" : goto reject-chain }',
    );
    expect(text).toContain('add rule ip kube-proxy masquerading masquerade fully-random');
    // Every chain is added before any rule refers to it (nft -f reads in order).
    const firstRule = text.split('\n').findIndex((l) => l.startsWith('add rule'));
    expect(text.split('\n').findIndex((l, i) => i > firstRule && l.startsWith('add chain'))).toBe(-1);
  });

  it('and the iptables lab rejects the same Service without endpoints in its filter table', () => {
    const filter = kubeProxyFilterRules(plan);
    const empty = plan.services.find((s) => s.name === 'empty')!;
    expect(kubeProxyWalk(filter, { clusterIP: empty.clusterIP, port: 80, protocol: 'TCP' }).rejects).toHaveLength(1);
    expect(kubeProxyWalk(filter, { nodePort: 31181, protocol: 'TCP' }).rejects).toHaveLength(1);
    expect(filter).not.toContain('default/web:');
  });
});
