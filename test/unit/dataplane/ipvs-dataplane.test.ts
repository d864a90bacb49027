import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { ipvsDataplane, ipvsWalk, nodePortsInIpvs } from '../../../src/dataplane/ipvs-dataplane.ts';
import { detectKubeProxyMode, dataplaneFor } from '../../../src/dataplane/kube-proxy-mode.ts';
import { addressesInIpAddrText, parseIpvsadm } from '../../../src/parse/ipvsadm.ts';
import { ipsetMemberKey, parseIpsetList } from '../../../src/parse/ipset.ts';
import { inspectServiceRules } from '../../../src/ops/node-facts.ts';
import { diagnoseService, type ServiceFacts } from '../../../src/ops/service-diagnosis.ts';
import { answeringShell } from '../../support/answering-shell.ts';
import { nodePortService } from '../../support/service-info.ts';
import { KUBE_IPVS_FILTER } from '../../support/kube-proxy-ipvs.ts';

/** The fixture's first line is its `# Source:`; the rest is the command's output as published. */
const fixture = (name: string) =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8').replace(/^# Source:.*\n/, '');
const readme = fixture('kubernetes-ipvs-readme-ipvsadm-ln.txt');
const ipvsadm = fixture('ipvs-mac-k8s-ipvsadm-ln.txt');
const kubeIpvs0 = fixture('ipvs-mac-k8s-ip-a-kube-ipvs0.txt');
const natSave = fixture('ipvs-mac-k8s-iptables-save-nat.txt');
const web = ['192.168.185.13:80', '192.168.185.14:80', '192.168.185.15:80'];
const ssup2Ipsets = fixture('ssup2-ipvs-ipset-list.txt');
const ssup2Ipvs = fixture('ssup2-ipvs-ipvsadm.txt');
const ssup2Endpoints = ['192.167.1.123:80', '192.167.2.206:80', '192.167.2.231:80'];
/** The published sets with KUBE-IPVS-IPS as kube-proxy fills it: every address it bound to kube-ipvs0. */
const withIpvsIps = `${ssup2Ipsets}\nName: KUBE-IPVS-IPS\nType: hash:ip\nHeader: family inet hashsize 1024 maxelem 65536\nMembers:\n10.96.98.173\n10.97.229.148\n10.103.1.234\n`;
const ssup2KubeIpvs0 = ['10.96.98.173', '10.97.229.148', '10.103.1.234']
  .map((a) => `    inet ${a}/32 scope global kube-ipvs0\n       valid_lft forever preferred_lft forever`)
  .join('\n');

describe('ipvsadm -L -n', () => {
  it("reads kube-proxy's virtual servers, their flags and real servers (pkg/proxy/ipvs README)", () => {
    const t = parseIpvsadm(readme);
    expect(t.unparsed).toEqual([]);
    expect(
      t.virtualServers.map((v) => `${v.protocol} ${v.address} ${v.scheduler} ${v.flags.join(' ')}`.trim()),
    ).toEqual(['TCP 10.0.0.1:443 rr persistent 10800', 'TCP 10.0.0.10:53 rr', 'UDP 10.0.0.10:53 rr']);
    expect(t.virtualServers[0]!.realServers).toEqual([
      {
        target: '192.168.0.1:6443',
        forward: 'Masq',
        weight: 1,
        activeConnections: 1,
        inactiveConnections: 0,
        raw: '-> 192.168.0.1:6443             Masq    1      1          0',
      },
    ]);
  });

  it('keeps lines it cannot read, and reads IPv6 virtual servers in the DNAT targets’ spelling', () => {
    const t = parseIpvsadm('TCP  [fd00:10:96:0::1]:443 rr\n  -> [fd00:10:244::5]:6443 Masq 1 0 0\nsomething else\n');
    expect(t.virtualServers[0]).toMatchObject({ address: '[fd00:10:96::1]:443', ip: 'fd00:10:96::1', port: 443 });
    expect(t.virtualServers[0]!.realServers[0]!.target).toBe('[fd00:10:244::5]:6443');
    expect(t.unparsed).toEqual([{ lineNumber: 3, line: 'something else' }]);
  });

  it('reads the addresses bound to kube-ipvs0', () => {
    expect(addressesInIpAddrText(kubeIpvs0)).toEqual([
      '10.96.0.10',
      '10.99.180.41',
      '10.101.177.188',
      '10.100.49.21',
      '10.96.0.1',
    ]);
  });
});

describe('/proc/net/ip_vs, for nodes without ipvsadm', () => {
  /** NodePort 31288 on the published LVS director, read through the IPVS dataplane from these command outputs. */
  const nodePortOnLvs = (outputs: Record<string, string>) =>
    inspectServiceRules(
      answeringShell(outputs),
      { name: 'lvs', address: '192.168.188.100' },
      'nodeport',
      nodePortService({
        name: 'web',
        clusterIP: '10.96.0.80',
        selector: { app: 'web' },
        port: 80,
        targetPort: 80,
        nodePort: 31288,
      }),
      31288,
      AbortSignal.timeout(5000),
      ipvsDataplane,
    );

  it('is the same table as ipvsadm -Ln prints, addresses decoded from hex (published pair of one table)', () => {
    const kernel = parseIpvsadm(fixture('lvs-rocky8-proc-net-ip_vs.txt'));
    const tool = parseIpvsadm(fixture('lvs-rocky8-ipvsadm-ln.txt'));
    expect([kernel.format, tool.format]).toEqual(['kernel', 'ipvsadm']);
    expect(kernel.unparsed).toEqual([]);
    const shape = (t: typeof kernel) =>
      t.virtualServers.map((v) => ({
        vs: `${v.protocol} ${v.address} ${v.scheduler}`,
        real: v.realServers.map((r) => `${r.target} ${r.forward} ${r.weight}`).sort(),
      }));
    expect(shape(kernel)).toEqual(shape(tool));
    expect(shape(kernel)[0]).toEqual({
      vs: 'TCP 192.168.188.100:80 wlc',
      real: ['192.168.188.81:80 Route 1', '192.168.188.82:80 Route 1'],
    });
    // Evidence reads as ipvsadm would print it.
    expect(kernel.virtualServers[0]!.raw).toBe('TCP  192.168.188.100:80 wlc');
  });

  it("decodes IPv6 and firewall-mark services as the kernel prints them (ip_vs_ctl.c's %pI6 and %08X)", () => {
    const t = parseIpvsadm(
      [
        'IP Virtual Server version 1.2.1 (size=4096)',
        'Prot LocalAddress:Port Scheduler Flags',
        '  -> RemoteAddress:Port Forward Weight ActiveConn InActConn',
        'TCP  [fd00:0010:0096:0000:0000:0000:0000:0001]:01BB rr persistent 10800 FFFFFFFF',
        '  -> [fd00:0010:0244:0000:0000:0000:0000:0005]:192B      Masq    1      0          0',
        'FWM  00000101 rr ',
        '  -> 0A000003:0000      Masq    1      0          0',
      ].join('\n'),
    );
    expect(t.unparsed).toEqual([]);
    expect(t.virtualServers.map((v) => [v.address, v.flags, v.realServers.map((r) => r.target)])).toEqual([
      ['[fd00:10:96::1]:443', ['persistent', '10800', 'FFFFFFFF'], ['[fd00:10:244::5]:6443']],
      ['257', [], ['10.0.0.3:0']],
    ]);
  });

  it('is read when ipvsadm is not installed, and the walk says so', async () => {
    const kernel = fixture('lvs-rocky8-proc-net-ip_vs.txt').replace('C0A8BC64:0050 wlc', 'C0A8BC64:7A38 wlc');
    const rules = await nodePortOnLvs({ 'cat /proc/net/ip_vs': kernel });
    expect(rules).toMatchObject({
      mode: 'ipvs',
      entryRule: true,
      dnatTargets: ['192.168.188.82:80', '192.168.188.81:80'],
      error: null,
    });
    expect(rules.rules).toContain('(read from /proc/net/ip_vs: ipvsadm is not installed on this node)');
  });

  it('without ipvsadm and without the kernel table the node is reported with ipvsadm’s own error', async () => {
    const rules = await nodePortOnLvs({}).catch((e: unknown) => e);
    expect(String((rules as Error).message ?? rules)).toContain('ipvsadm');
  });
});

describe("kube-proxy's ipsets (ipset list)", () => {
  it('reads the published sets, their types and members (trailing spaces and all)', () => {
    const l = parseIpsetList(ssup2Ipsets);
    expect(l.unparsed).toEqual([]);
    expect([...l.sets.values()].map((s) => [s.name, s.type, s.members.length])).toEqual([
      ['KUBE-CLUSTER-IP', 'hash:ip,port', 3],
      ['KUBE-LOOP-BACK', 'hash:ip,port,ip', 3],
      ['KUBE-NODE-PORT-TCP', 'bitmap:port', 2],
      ['KUBE-LOAD-BALANCER', 'hash:ip,port', 1],
    ]);
    expect(l.sets.get('KUBE-CLUSTER-IP')!.members).toEqual([
      '10.96.98.173,tcp:80',
      '10.97.229.148,tcp:80',
      '10.103.1.234,tcp:80',
    ]);
    expect(l.sets.get('KUBE-NODE-PORT-TCP')!.header).toBe('range 0-65535');
  });

  it('reads `ipset save` too, members without their options, compared in one spelling', () => {
    const l = parseIpsetList(
      'create KUBE-6-CLUSTER-IP hash:ip,port family inet6 hashsize 1024 maxelem 65536\n' +
        'add KUBE-6-CLUSTER-IP fd00:10:96:0::a,UDP:53 comment "x"\n',
    );
    expect(l.sets.get('KUBE-6-CLUSTER-IP')).toEqual({
      name: 'KUBE-6-CLUSTER-IP',
      type: 'hash:ip,port',
      header: 'family inet6 hashsize 1024 maxelem 65536',
      members: ['fd00:10:96:0::a,UDP:53'],
    });
    expect(ipsetMemberKey('fd00:10:96:0::a,UDP:53')).toBe('fd00:10:96::a,udp:53');
  });

  it('a healthy published node: every Service port is in its set, no gap', () => {
    for (const entry of [
      { clusterIP: '10.103.1.234', port: 80, protocol: 'TCP' },
      { nodePort: 30781, protocol: 'TCP' },
    ]) {
      const w = ipvsWalk(ssup2Ipvs, ssup2KubeIpvs0, entry, { ipsets: withIpvsIps, filterSave: KUBE_IPVS_FILTER });
      expect([w.entryRule, w.dnatTargets, w.ipsetGaps]).toEqual([true, ssup2Endpoints, []]);
    }
  });

  it('a ClusterIP missing from KUBE-CLUSTER-IP while bound to kube-ipvs0 is refused by KUBE-IPVS-FILTER', () => {
    const lost = withIpvsIps.replace('10.103.1.234,tcp:80 \n', '');
    const w = ipvsWalk(
      ssup2Ipvs,
      ssup2KubeIpvs0,
      { clusterIP: '10.103.1.234', port: 80, protocol: 'TCP' },
      {
        ipsets: lost,
        filterSave: KUBE_IPVS_FILTER,
      },
    );
    expect(w.entryRule).toBe(true);
    expect(w.ipsetGaps).toEqual([
      {
        set: 'KUBE-CLUSTER-IP',
        member: '10.103.1.234,tcp:80',
        effect: 'rejected',
        evidence: [
          '-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT',
          'ipset list KUBE-CLUSTER-IP: no member 10.103.1.234,tcp:80',
          'ipset list KUBE-IPVS-IPS: holds 10.103.1.234',
        ],
      },
    ]);
    // A kube-proxy older than KUBE-IPVS-FILTER (filter table without it): only the masquerade mark is lost.
    const old = ipvsWalk(
      ssup2Ipvs,
      ssup2KubeIpvs0,
      { clusterIP: '10.103.1.234', port: 80, protocol: 'TCP' },
      {
        ipsets: lost,
        filterSave: '*filter\nCOMMIT\n',
      },
    );
    expect(old.ipsetGaps?.map((g) => g.effect)).toEqual(['not_masqueraded']);
  });

  it('a NodePort missing from KUBE-NODE-PORT-TCP is not masqueraded; unread ipsets give no verdict', () => {
    const lost = withIpvsIps.replace('30781\n', '');
    const w = ipvsWalk(ssup2Ipvs, ssup2KubeIpvs0, { nodePort: 30781, protocol: 'TCP' }, { ipsets: lost });
    expect(w.ipsetGaps).toEqual([
      {
        set: 'KUBE-NODE-PORT-TCP',
        member: '30781',
        effect: 'not_masqueraded',
        evidence: ['ipset list KUBE-NODE-PORT-TCP: 1 member(s), not 30781'],
      },
    ]);
    expect(ipvsWalk(ssup2Ipvs, ssup2KubeIpvs0, { nodePort: 30781, protocol: 'TCP' }).ipsetGaps).toBeUndefined();
    // Sets kube-proxy did not write (ipset holds only others' sets): nothing to compare with.
    expect(
      ipvsWalk(
        ssup2Ipvs,
        ssup2KubeIpvs0,
        { nodePort: 30781, protocol: 'TCP' },
        { ipsets: 'Name: other\nType: hash:ip\nMembers:\n' },
      ).ipsetGaps,
    ).toEqual([]);
  });

  it('the diagnosis names the refusal and the failed masquerade, and no longer says every node forwards', () => {
    const svc = nodePortService({
      name: 'web',
      clusterIP: '10.103.1.234',
      selector: { app: 'web' },
      port: 80,
      targetPort: 80,
      nodePort: 30781,
    });
    const endpoints = ssup2Endpoints.map((t, i) => ({
      ip: t.split(':')[0]!,
      ready: true,
      nodeName: i === 0 ? 'node1' : 'node2',
      pod: null,
      ports: [{ name: null, port: 80, protocol: 'TCP' }],
    }));
    const nodeFacts = (entry: Parameters<typeof ipvsWalk>[2], ipsets: string) => ({
      name: 'node1',
      ip: '172.35.0.100',
      mode: 'ipvs' as const,
      listeners: null,
      listening: null,
      error: null,
      ...ipvsWalk(ssup2Ipvs, ssup2KubeIpvs0, entry, { ipsets, filterSave: KUBE_IPVS_FILTER }),
    });
    const refused = diagnoseService({
      kind: 'clusterip',
      port: 80,
      service: svc,
      endpoints,
      nodes: [
        nodeFacts(
          { clusterIP: '10.103.1.234', port: 80, protocol: 'TCP' },
          withIpvsIps.replace('10.103.1.234,tcp:80 \n', ''),
        ),
      ],
    });
    expect(refused.map((f) => `${f.severity}:${f.code}`)).toEqual(['error:ipvs_filter_rejects']);
    expect(refused[0]!.message).toBe(
      'node1 refuses new connections to port 80: KUBE-CLUSTER-IP lacks 10.103.1.234,tcp:80, and KUBE-IPVS-FILTER rejects addresses on kube-ipvs0 that no Service ipset lists',
    );
    expect(refused[0]!.evidence).toContain('--match-set KUBE-IPVS-IPS dst -j REJECT');
    const unmasked = diagnoseService({
      kind: 'nodeport',
      port: 30781,
      service: svc,
      endpoints,
      nodes: [nodeFacts({ nodePort: 30781, protocol: 'TCP' }, withIpvsIps.replace('30781\n', ''))],
    });
    expect(unmasked.map((f) => `${f.severity}:${f.code}`)).toEqual(['error:nodeport_not_masqueraded']);
    expect(unmasked[0]!.message).toContain('to endpoints on other nodes (192.167.2.206, 192.167.2.231) fail');
  });
});

describe('the IPVS walk (a published kubeadm + Calico node in IPVS mode)', () => {
  it('a ClusterIP: the virtual server is the entry, its real servers the DNAT targets', () => {
    const w = ipvsWalk(ipvsadm, kubeIpvs0, { clusterIP: '10.100.49.21', port: 80, protocol: 'TCP' });
    expect(w).toMatchObject({ entryRule: true, dnatTargets: web, rejects: [], drops: [] });
    expect(w.rules[0]).toBe('TCP  10.100.49.21:80 rr');
    // UDP 53 and TCP 53 are two virtual servers; the protocol picks one.
    expect(ipvsWalk(ipvsadm, kubeIpvs0, { clusterIP: '10.96.0.10', port: 53, protocol: 'UDP' }).rules[0]).toBe(
      'UDP  10.96.0.10:53 rr',
    );
  });

  it('a NodePort: one virtual server per node address, and the addresses it answers on', () => {
    const w = ipvsWalk(ipvsadm, kubeIpvs0, { nodePort: 31195, protocol: 'TCP' });
    expect(w.entryRule).toBe(true);
    expect(w.dnatTargets).toEqual(web);
    expect(w.nodePortAddresses).toEqual(['172.17.0.1', '192.168.185.0', '192.168.191.153']);
    expect(nodePortsInIpvs(ipvsadm, kubeIpvs0)).toEqual([31195]);
    // Without kube-ipvs0's addresses, NodePorts are told by kube-apiserver's default range.
    expect(nodePortsInIpvs(ipvsadm, '')).toEqual([31195]);
  });

  it('a ClusterIP that is not bound to kube-ipvs0 never reaches IPVS: no entry, and the walk says why', () => {
    const unbound = kubeIpvs0.replace(/^\s+inet 10\.100\.49\.21\/32.*\n.*\n/m, '');
    const w = ipvsWalk(ipvsadm, unbound, { clusterIP: '10.100.49.21', port: 80, protocol: 'TCP' });
    expect(w.entryRule).toBe(false);
    expect(w.rules.at(-1)).toBe('kube-ipvs0 does not hold 10.100.49.21');
  });

  it('a virtual server left without real servers is what a Service without endpoints looks like: refused', () => {
    // The published table with nginx-basic's real servers taken away, as kube-proxy leaves it when they go.
    const drained = ipvsadm.replace(/^(TCP {2}10\.100\.49\.21:80 rr\n)(?: {2}->.*\n)+/m, '$1');
    const w = ipvsWalk(drained, kubeIpvs0, { clusterIP: '10.100.49.21', port: 80, protocol: 'TCP' });
    expect(w.dnatTargets).toEqual([]);
    expect(w.rejects).toEqual(['TCP  10.100.49.21:80 rr (no real server with weight > 0: connections are refused)']);
  });

  it("is found by the nat table's KUBE-CLUSTER-IP ipset match when kube-proxy does not answer /proxyMode", () => {
    const d = detectKubeProxyMode({ nftTable: null, natSave, proxyMode: null, legacySave: null, nftSave: null });
    expect(d).toMatchObject({ mode: 'ipvs', tables: { ipvs: true, iptables: true, nftables: false } });
    expect(dataplaneFor(d.mode).mode).toBe('ipvs');
  });
});

describe('nodeport and svc on an IPVS node, through the same diagnosis as the iptables walk', () => {
  const node = { name: 'mac-k8s', address: '192.168.191.153' };
  const published = {
    'iptables-save -t nat': natSave,
    'ipvsadm -L -n': ipvsadm,
    'ip addr show dev kube-ipvs0': kubeIpvs0,
  };
  const svc = nodePortService({
    name: 'nginx-basic',
    clusterIP: '10.100.49.21',
    selector: { app: 'nginx' },
    port: 80,
    targetPort: 80,
    nodePort: 31195,
  });
  const endpoints = web.map((t) => ({
    ip: t.split(':')[0]!,
    ready: true,
    nodeName: 'mac-k8s',
    pod: null,
    ports: [{ name: null, port: 80, protocol: 'TCP' }],
  }));

  it('nodeport: the node is found in IPVS mode and forwards to every endpoint, with no "rule missing"', async () => {
    const rules = await inspectServiceRules(
      answeringShell(published),
      node,
      'nodeport',
      svc,
      31195,
      AbortSignal.timeout(5000),
    );
    expect(rules).toMatchObject({ mode: 'ipvs', entryRule: true, dnatTargets: web });
    const facts: ServiceFacts = { kind: 'nodeport', port: 31195, service: svc, endpoints, nodes: [rules] };
    const found = diagnoseService(facts);
    expect(found.map((f) => `${f.severity}:${f.code}`)).toEqual(['info:rules_present']);
    expect(found[0]!.message).toContain('forwards NodePort 31195 to 192.168.185.13:80, 192.168.185.14:80');
  });

  it('svc: a ClusterIP whose virtual server lost its real servers is refused, said in IPVS words', async () => {
    const drained = ipvsadm.replace(/^(TCP {2}10\.100\.49\.21:80 rr\n)(?: {2}->.*\n)+/m, '$1');
    const rules = await inspectServiceRules(
      answeringShell({ ...published, 'ipvsadm -L -n': drained }),
      node,
      'clusterip',
      svc,
      80,
      AbortSignal.timeout(5000),
    );
    const found = diagnoseService({ kind: 'clusterip', port: 80, service: svc, endpoints, nodes: [rules] });
    expect(found.map((f) => `${f.severity}:${f.code}`)).toEqual(['error:rejected_no_endpoints']);
    expect(found[0]!.message).toBe('mac-k8s refuses port 80: its IPVS virtual server has no real server to send to');
  });

  it('a NodePort on an address IPVS has no virtual server for is named as such', () => {
    const w = ipvsDataplane.walk([ipvsadm, kubeIpvs0], { nodePort: 31195, protocol: 'TCP' });
    const found = diagnoseService({
      kind: 'nodeport',
      port: 31195,
      service: svc,
      endpoints,
      nodes: [
        { name: 'other', ip: '192.168.191.200', mode: 'ipvs', listeners: null, listening: null, error: null, ...w },
      ],
    });
    expect(found.find((f) => f.code === 'nodeport_not_on_node_ip')?.message).toContain('the IPVS virtual servers');
  });
});
