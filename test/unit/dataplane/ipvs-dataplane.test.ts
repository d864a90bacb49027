import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { ipvsDataplane, ipvsWalk, nodePortsInIpvs } from '../../../src/dataplane/ipvs-dataplane.ts';
import { detectKubeProxyMode, dataplaneFor } from '../../../src/dataplane/kube-proxy-mode.ts';
import { addressesInIpAddrText, parseIpvsadm } from '../../../src/parse/ipvsadm.ts';
import { inspectServiceRules } from '../../../src/ops/node-facts.ts';
import { diagnoseService, type ServiceFacts } from '../../../src/ops/service-diagnosis.ts';
import { answeringShell } from '../../support/answering-shell.ts';
import { nodePortService } from '../../support/service-info.ts';

/** The fixture's first line is its `# Source:`; the rest is the command's output as published. */
const fixture = (name: string) =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8').replace(/^# Source:.*\n/, '');
const readme = fixture('kubernetes-ipvs-readme-ipvsadm-ln.txt');
const ipvsadm = fixture('ipvs-mac-k8s-ipvsadm-ln.txt');
const kubeIpvs0 = fixture('ipvs-mac-k8s-ip-a-kube-ipvs0.txt');
const natSave = fixture('ipvs-mac-k8s-iptables-save-nat.txt');
const web = ['192.168.185.13:80', '192.168.185.14:80', '192.168.185.15:80'];

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
