import { describe, expect, it } from '@jest/globals';
import { headlineFor } from '../../../src/model/report.ts';
import { renderReportText } from '../../../src/render/terminal.ts';
import { renderSlackThread } from '../../../src/slack/slack-blocks.ts';
import { diagnoseService, type NodeRuleFacts, type ServiceFacts } from '../../../src/ops/service-diagnosis.ts';
import { parseConntrack } from '../../../src/parse/conntrack.ts';
import { publishedFixture } from '../parse/published-fixture.ts';

const rules = [
  '-A KUBE-NODEPORTS -p tcp -m comment --comment "default/svc-nodeport:http" -m tcp --dport 31080 -j KUBE-EXT-AAAA',
  '-A KUBE-EXT-AAAA -j KUBE-SVC-AAAA',
  '-A KUBE-SVC-AAAA -m comment --comment "default/svc-nodeport:http -> 10.244.0.2:8080" -j KUBE-SEP-BBBB',
  '-A KUBE-SEP-BBBB -p tcp -m comment --comment "default/svc-nodeport:http" -m tcp -j DNAT --to-destination 10.244.0.2:8080',
];
const node = (name: string, ip: string, over: Partial<NodeRuleFacts> = {}): NodeRuleFacts => ({
  name,
  ip,
  rules,
  dnatTargets: ['10.244.0.2:8080'],
  entryRule: true,
  rejects: [],
  drops: [],
  listeners: [],
  listening: false,
  error: null,
  ...over,
});

function facts(): ServiceFacts {
  return {
    kind: 'nodeport',
    port: 31080,
    service: {
      name: 'svc-nodeport',
      namespace: 'default',
      type: 'NodePort',
      clusterIP: '10.96.0.101',
      clusterIPs: ['10.96.0.101'],
      selector: { type: 'dest' },
      ports: [{ name: 'http', protocol: 'TCP', port: 8080, targetPort: 8080, nodePort: 31080 }],
      externalTrafficPolicy: 'Cluster',
    },
    endpoints: [
      {
        ip: '10.244.0.2',
        ready: true,
        nodeName: 'k8s-node1',
        pod: { name: 'pod-dest', namespace: 'default' },
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ],
    nodes: [node('k8s-node1', '10.254.0.11'), node('k8s-node2', '10.254.0.12')],
  };
}
const codes = (f: ServiceFacts) => diagnoseService(f).map((x) => `${x.severity}:${x.code}`);

describe('NodePort and ClusterIP diagnosis', () => {
  it('shows each node\'s missing rule under "no ready endpoints", and counts the one cause', () => {
    const f = facts();
    f.endpoints = [];
    f.nodes = f.nodes.map((n) => ({ ...n, entryRule: false, dnatTargets: [], rules: [] }));
    const found = diagnoseService(f);
    expect(found.map((x) => x.code)).toEqual(['no_endpoints']);
    expect(found[0]!.children!.map((x) => x.message)).toEqual([
      'k8s-node1 has no KUBE-NODEPORTS rule for 31080: connections to 10.254.0.11:31080 are not forwarded',
      'k8s-node2 has no KUBE-NODEPORTS rule for 31080: connections to 10.254.0.12:31080 are not forwarded',
    ]);
    expect(headlineFor(found)).toBe('1 problem');
    const text = renderReportText({
      title: 'nodeport 31080',
      headline: headlineFor(found),
      findings: found,
      sections: [],
      attachments: [],
    });
    expect(text).toContain('\n    └ PROBLEM  k8s-node1 has no KUBE-NODEPORTS rule');
    expect(
      renderSlackThread({
        title: 'nodeport 31080',
        headline: '1 problem',
        findings: found,
        sections: [],
        attachments: [],
      }).replies[0]!.blocks,
    ).toHaveLength(2);
  });

  it('is satisfied when every node forwards the port to the ready endpoints', () => {
    expect(codes(facts())).toEqual(['info:rules_present']);
  });

  it('reports the node that is missing the KUBE-NODEPORTS rule', () => {
    const f = facts();
    f.nodes[1] = node('k8s-node2', '10.254.0.12', { rules: [], dnatTargets: [], entryRule: false });
    const found = diagnoseService(f);
    expect(found.map((x) => x.code)).toEqual(['nodeport_rule_missing']);
    expect(found[0]!.message).toBe(
      'k8s-node2 has no KUBE-NODEPORTS rule for 31080: connections to 10.254.0.12:31080 are not forwarded',
    );
  });

  it('reports a Service without ready endpoints, and a port no Service owns', () => {
    const f = facts();
    f.endpoints = [];
    f.nodes = f.nodes.map((n) => ({ ...n, dnatTargets: [], rules: [] }));
    expect(codes(f)).toContain('error:no_endpoints');
    expect(codes({ ...facts(), service: null })).toEqual(['error:no_service']);
  });

  it('warns about rules that still point at a gone endpoint', () => {
    const f = facts();
    f.nodes[0] = node('k8s-node1', '10.254.0.11', {
      dnatTargets: ['10.244.0.9:8080'],
      rules: [...rules.slice(0, 3), rules[3]!.replace('10.244.0.2', '10.244.0.9')],
    });
    expect(codes(f)).toEqual(expect.arrayContaining(['warning:stale_endpoint_rule', 'warning:endpoint_rule_missing']));
  });

  it('says a node rejects the port because the Service has no endpoints, and warns about Local-policy drops', () => {
    const f = facts();
    f.endpoints = [];
    const reject =
      '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "default/svc-nodeport:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 31080 -j REJECT --reject-with icmp-port-unreachable';
    f.nodes = [node('k8s-node1', '10.254.0.11', { entryRule: false, rules: [], dnatTargets: [], rejects: [reject] })];
    const found = diagnoseService(f);
    expect(found.map((x) => `${x.severity}:${x.code}`)).toEqual(['error:no_endpoints']);
    expect(found[0]!.children!.map((x) => x.code)).toEqual(['rejected_no_endpoints']);
    const g = facts();
    g.nodes[1] = node('k8s-node2', '10.254.0.12', {
      drops: [
        '-A KUBE-XLB-X -m comment --comment "default/svc-nodeport:http has no local endpoints" -j KUBE-MARK-DROP',
      ],
    });
    expect(codes(g)).toContain('warning:dropped_no_local_endpoint');
  });
});

describe('service diagnosis: IPv6 endpoints and older kube-proxy', () => {
  it('matches DNAT targets written [addr]:port against endpoints written addr and port (no stale or missing rule)', () => {
    const f = facts();
    f.endpoints = [
      {
        ip: 'fd00:10:244:0::5',
        ready: true,
        nodeName: 'k8s-node1',
        pod: null,
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ];
    // An IPv6 Service: its rules (NodePort's too) are the IPv6 family's, whatever address the node is reached at.
    f.service = { ...f.service!, clusterIP: 'fd00:10:96::80' };
    f.nodes = [node('k8s-node1', '10.254.0.11', { dnatTargets: ['[fd00:10:244::5]:8080'] })];
    expect(codes(f).filter((c) => c.includes('stale') || c.includes('missing'))).toEqual([]);
  });

  it('reports a NodePort REJECT even when older kube-proxy kept the nat rules next to it', () => {
    const f = facts();
    const reject =
      '-A KUBE-SERVICES -p tcp -m comment --comment "bad-srv:management-port has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 31218 -j REJECT --reject-with icmp-port-unreachable';
    f.nodes = [node('k8s-node1', '10.254.0.11', { rejects: [reject] })];
    expect(codes(f)).toContain('error:rejected_no_endpoints');
  });
});

describe('service diagnosis: a dual-stack Service', () => {
  it('expects only the walked family\'s endpoints in the rules (no "missing" IPv6 endpoint on IPv4 rules)', () => {
    const f = facts();
    f.endpoints.push({
      ip: 'fd00:10:244::2',
      ready: true,
      nodeName: 'k8s-node1',
      pod: null,
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
    expect(codes(f)).not.toContain('warning:endpoint_rule_missing');
  });
});

describe('service diagnosis across kube-proxy modes', () => {
  const detected = (
    over: Partial<NonNullable<NodeRuleFacts['detected']>> = {},
  ): NonNullable<NodeRuleFacts['detected']> => ({
    mode: 'nftables',
    reported: 'nftables',
    tables: { nftables: true, iptables: false, ipvs: false },
    backends: { legacy: 0, nft: 0 },
    calicoEbpf: false,
    calicoDataplane: null,
    ...over,
  });

  it("names the nftables dispatch, by node, when one node's kube-proxy table was flushed", () => {
    const f = facts();
    f.nodes = [
      node('k8s-node1', '10.254.0.11', { mode: 'nftables', detected: detected(), nodePortAddresses: ['10.254.0.11'] }),
      node('k8s-node2', '10.254.0.12', {
        mode: 'nftables',
        detected: detected(),
        rules: [],
        dnatTargets: [],
        entryRule: false,
        nodePortAddresses: [],
      }),
    ];
    const found = diagnoseService(f);
    expect(found.map((x) => x.code)).toEqual(['nodeport_rule_missing']);
    expect(found[0]!.message).toBe(
      'k8s-node2 has no service-nodeports dispatch for 31080: connections to 10.254.0.12:31080 are not forwarded',
    );
    expect(found[0]!.evidence).toMatch(/flushed or never written/);
  });

  it("says so when NodePorts answer only on addresses that are not the node's IP (nodeport-ips), never on 127.0.0.1", () => {
    const f = facts();
    f.nodes = f.nodes.map((n) => ({
      ...n,
      mode: 'nftables' as const,
      nodePortAddresses: n.name === 'k8s-node1' ? ['192.168.7.1'] : [n.ip],
    }));
    const found = diagnoseService(f).filter((x) => x.code === 'nodeport_not_on_node_ip');
    expect(found.map((x) => x.message)).toEqual([
      "k8s-node1 answers NodePort 31080 only on 192.168.7.1 (kube-proxy nftables' nodeport-ips set), not on 10.254.0.11; NodePorts never answer on 127.0.0.1 in nftables mode",
    ]);
  });

  it("reports both modes' tables and an iptables split between backends, with the counts", () => {
    const f = facts();
    f.nodes[0] = node('k8s-node1', '10.254.0.11', {
      mode: 'iptables',
      detected: detected({
        mode: 'iptables',
        reported: null,
        tables: { nftables: true, iptables: true, ipvs: false },
        backends: { legacy: 3, nft: 41 },
      }),
    });
    const found = diagnoseService(f);
    expect(found.map((x) => x.code)).toEqual(['kube_proxy_both_modes', 'iptables_backends_split', 'rules_present']);
    expect(found[1]!.message).toBe(
      'k8s-node1 has iptables rules in both backends: 3 in iptables-legacy and 41 in iptables-nft; each tool shows only its half, and packets go through both',
    );
  });
});

describe('service diagnosis: the test connection in conntrack', () => {
  const reading = (fixture: string) => ({
    command: 'conntrack -L -p tcp --orig-dst 10.10.10.10 --orig-port-dst 80',
    entries: parseConntrack(publishedFixture(fixture)).entries.filter((e) => e.protocol === 'tcp'),
    error: null,
  });
  /** A ClusterIP Service 10.10.10.10:80 with the endpoint of kubernetes#101607's entry. */
  function clusterIp(endpointIp: string): ServiceFacts {
    const f = facts();
    f.kind = 'clusterip';
    f.port = 80;
    f.service = {
      ...f.service!,
      type: 'ClusterIP',
      clusterIP: '10.10.10.10',
      clusterIPs: ['10.10.10.10'],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 80, nodePort: null }],
    };
    f.endpoints = [{ ...f.endpoints[0]!, ip: endpointIp, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }];
    const dnat = `-A KUBE-SEP-BBBB -p tcp -m tcp -j DNAT --to-destination ${endpointIp}:80`;
    f.nodes = [node('kind-worker', '172.18.0.2', { rules: [dnat], dnatTargets: [`${endpointIp}:80`] })];
    return f;
  }
  const probe = (fixture: string) => ({
    destination: { ip: '10.10.10.10', port: 80 },
    source: null,
    reading: reading(fixture),
  });

  it('names the endpoint the DNAT chose that never answered, with the conntrack line', () => {
    const f = clusterIp('10.244.2.3');
    f.nodes[0]!.testConntrack = probe('conntrack-k8s-101607-syn-sent-dnat.txt');
    const found = diagnoseService(f).find((x) => x.code === 'conntrack_dnat_unreplied')!;
    expect(found.severity).toBe('error');
    expect(found.message).toBe(
      'on kind-worker the test connection to 10.10.10.10:80 was translated to endpoint 10.244.2.3:80, which never answered (SYN_SENT, [UNREPLIED]): the endpoint, or the path from kind-worker to it, drops the connection',
    );
    expect(found.evidence).toBe(
      [
        'conntrack -L -p tcp --orig-dst 10.10.10.10 --orig-port-dst 80 on kind-worker:',
        'tcp 6 119 SYN_SENT src=172.18.0.1 dst=10.10.10.10 sport=60000 dport=80 [UNREPLIED] src=10.244.2.3 dst=172.18.0.2 sport=80 dport=45815 mark=0 use=1',
      ].join('\n'),
    );
  });

  it("shows a DNAT to an address that is no longer an endpoint under the node's stale rule", () => {
    const f = clusterIp('10.244.1.7');
    f.nodes[0] = {
      ...f.nodes[0]!,
      rules: ['-A KUBE-SEP-CCCC -p tcp -m tcp -j DNAT --to-destination 10.244.2.3:80'],
      dnatTargets: ['10.244.2.3:80'],
      testConntrack: probe('conntrack-k8s-101607-syn-sent-dnat.txt'),
    };
    const found = diagnoseService(f);
    const stale = found.find((x) => x.code === 'stale_endpoint_rule')!;
    expect(stale.children!.map((x) => [x.code, x.message])).toEqual([
      [
        'conntrack_dnat_stale',
        'on kind-worker the test connection to 10.10.10.10:80 was sent to 10.244.2.3:80, which is not a ready endpoint of the Service',
      ],
    ]);
    expect(found.map((x) => x.code)).not.toContain('conntrack_dnat_stale');
  });

  it("puts an untranslated connection under the node's missing KUBE-SERVICES rule", () => {
    const f = clusterIp('10.244.2.3');
    f.service = { ...f.service!, clusterIP: '10.10.28.7', clusterIPs: ['10.10.28.7'] };
    f.port = 5222;
    f.service.ports = [{ name: 'http', protocol: 'TCP', port: 5222, targetPort: 5222, nodePort: null }];
    f.nodes[0] = {
      ...f.nodes[0]!,
      entryRule: false,
      rules: [],
      dnatTargets: [],
      testConntrack: {
        destination: { ip: '10.10.28.7', port: 5222 },
        source: '10.10.12.0',
        reading: { ...reading('conntrack-k8s-38802-established.txt'), command: 'conntrack -L' },
      },
    };
    const missing = diagnoseService(f).find((x) => x.code === 'clusterip_rule_missing')!;
    expect(missing.children!.map((x) => [x.severity, x.code])).toEqual([['error', 'conntrack_not_translated']]);
    // The source's two entries only; the kubelet connection on the same list is another client's.
    expect(missing.children![0]!.evidence.split('\n')).toHaveLength(3);
  });

  it('says a rejected connection left no entry, under the REJECT', () => {
    const f = facts();
    f.endpoints = [];
    const reject =
      '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "default/svc-nodeport:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 31080 -j REJECT --reject-with icmp-port-unreachable';
    f.nodes = [
      node('k8s-node1', '10.254.0.11', {
        entryRule: false,
        rules: [],
        dnatTargets: [],
        rejects: [reject],
        testConntrack: {
          destination: { ip: '10.254.0.11', port: 31080 },
          source: '10.254.0.12',
          reading: {
            command: 'conntrack -L -p tcp --orig-dst 10.254.0.11 --orig-port-dst 31080',
            entries: [],
            error: null,
          },
        },
      }),
    ];
    const found = diagnoseService(f);
    expect(found.map((x) => x.code)).toEqual(['no_endpoints']);
    const rejected = found[0]!.children!.find((x) => x.code === 'rejected_no_endpoints')!;
    expect(rejected.children!.map((x) => [x.code, x.evidence])).toEqual([
      [
        'conntrack_no_entry',
        'conntrack -L -p tcp --orig-dst 10.254.0.11 --orig-port-dst 31080 on k8s-node1:\n0 flow entries have been shown.',
      ],
    ]);
  });

  it("warns when a node's connection tracking table is nearly full, and says when conntrack could not be read", () => {
    const f = facts();
    f.nodes[0] = {
      ...f.nodes[0]!,
      conntrackTable: { count: 262000, max: 262144 },
      testConntrack: {
        destination: { ip: '10.254.0.11', port: 31080 },
        source: null,
        reading: { command: 'conntrack -L', entries: [], error: 'sh: 1: conntrack: not found' },
      },
    };
    const found = diagnoseService(f);
    expect(found.find((x) => x.code === 'conntrack_near_full')!.message).toBe(
      "k8s-node1's connection tracking table is 100% full (262000 of 262144): new connections are dropped once it is full",
    );
    expect(found.find((x) => x.code === 'conntrack_unread')!.severity).toBe('info');
  });

  it("judges the newest entry: an earlier test's TIME_WAIT does not hide this test's unanswered SYN (lab)", () => {
    const f = clusterIp('10.244.0.2');
    f.service = { ...f.service!, clusterIP: '10.96.0.100', clusterIPs: ['10.96.0.100'] };
    f.port = 8080;
    f.service.ports = [{ name: 'http', protocol: 'TCP', port: 8080, targetPort: 8080, nodePort: null }];
    f.endpoints = [{ ...f.endpoints[0]!, ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }];
    f.nodes[0] = { ...f.nodes[0]!, dnatTargets: ['10.244.0.2:8080'] };
    const lines = publishedFixture('lab-conntrack-L-service.txt').split('\n').slice(-3).join('\n');
    f.nodes[0]!.testConntrack = {
      destination: { ip: '10.96.0.100', port: 8080 },
      source: null,
      reading: {
        command: 'conntrack -L -p tcp --orig-dst 10.96.0.100 --orig-port-dst 8080',
        entries: parseConntrack(lines).entries,
        error: null,
      },
    };
    const found = diagnoseService(f).filter((x) => x.code.startsWith('conntrack_'));
    expect(found.map((x) => x.code)).toEqual(['conntrack_dnat_unreplied']);
    expect(found[0]!.evidence.split('\n')[1]).toContain('SYN_SENT');
  });
});
