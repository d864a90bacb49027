/**
 * kube-proxy's IPVS-mode ipsets and KUBE-IPVS-FILTER on a real kernel. This kernel has no ip_vs module, but ipset and
 * the filter table need none: a throw-away "node" namespace gets kube-ipvs0 (down, as kube-proxy leaves it) with three
 * ClusterIPs, kube-proxy's sets
 * (ipset restore) and its KUBE-IPVS-FILTER rules (iptables-restore, as pkg/proxy/ipvs/proxier.go writes them), with
 * one ClusterIP left out of KUBE-CLUSTER-IP. What the catalogue's own commands read there gives the walk its verdict,
 * and a connection from a second namespace proves the verdict: the REJECT counts the left-out address only.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import * as catalogue from '../../../src/node/catalogue.ts';
import { ipvsWalk } from '../../../src/dataplane/ipvs-dataplane.ts';
import { parseIptablesSave, chainRules } from '../../../src/parse/iptables-save.ts';
import { parseIpsetList } from '../../../src/parse/ipset.ts';
import { inNetns, run } from '../../support/lab.ts';
import { KUBE_IPVS_FILTER } from '../../support/kube-proxy-ipvs.ts';

const NODE = `ipvs-node-${process.pid}`;
const CLIENT = `ipvs-client-${process.pid}`;
/** The published node's table (ssup2's notes); its ClusterIPs are bound to kube-ipvs0 below. */
const IPVSADM = readFileSync(new URL('../../unit/dataplane/fixtures/ssup2-ipvs-ipvsadm.txt', import.meta.url), 'utf8');
const CLUSTER_IPS = ['10.96.98.173', '10.97.229.148', '10.103.1.234'];
const LEFT_OUT = '10.103.1.234';

const IPSETS = [
  'create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536',
  ...CLUSTER_IPS.filter((ip) => ip !== LEFT_OUT).map((ip) => `add KUBE-CLUSTER-IP ${ip},tcp:80`),
  'create KUBE-IPVS-IPS hash:ip family inet hashsize 1024 maxelem 65536',
  ...CLUSTER_IPS.map((ip) => `add KUBE-IPVS-IPS ${ip}`),
  'create KUBE-LOAD-BALANCER hash:ip,port family inet hashsize 1024 maxelem 65536',
  'create KUBE-EXTERNAL-IP hash:ip,port family inet hashsize 1024 maxelem 65536',
  'create KUBE-EXTERNAL-IP-LOCAL hash:ip,port family inet hashsize 1024 maxelem 65536',
  'create KUBE-HEALTH-CHECK-NODE-PORT bitmap:port range 0-65535',
  'create KUBE-NODE-PORT-TCP bitmap:port range 0-65535',
  'add KUBE-NODE-PORT-TCP 30781',
  '',
].join('\n');

async function ok(argv: string[], input?: string): Promise<string> {
  const r = input === undefined ? await run(argv) : await runWithInput(argv, input);
  if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function runWithInput(argv: string[], input: string) {
  const { spawn } = await import('node:child_process');
  return new Promise<{ stdout: string; stderr: string; code: number }>((resolve) => {
    const p = spawn(argv[0]!, argv.slice(1));
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ stdout, stderr, code: code ?? 1 }));
    p.stdin.end(input);
  });
}

const rejectCount = async () => {
  const save = parseIptablesSave(await ok(inNetns(NODE, ['iptables-save', '-c', '-t', 'filter'])));
  return chainRules(save, 'filter', 'KUBE-IPVS-FILTER').find((r) => r.target?.name === 'REJECT')!.packets;
};

/** A TCP connect from the client namespace, bounded: refused either way (nothing listens), so counters tell. */
const connect = (ip: string) =>
  run(inNetns(CLIENT, ['timeout', '3', 'bash', '-c', `exec 3<>/dev/tcp/${ip}/80`]), 5_000);

beforeAll(async () => {
  for (const ns of [NODE, CLIENT]) await run(['ip', 'netns', 'delete', ns]);
  await ok(['ip', 'netns', 'add', NODE]);
  await ok(['ip', 'netns', 'add', CLIENT]);
  // A veth between the two namespaces only: nothing here touches the host's interfaces or routes.
  await ok(['ip', 'link', 'add', 'ipvs-n0', 'netns', NODE, 'type', 'veth', 'peer', 'name', 'ipvs-c0', 'netns', CLIENT]);
  await ok(inNetns(NODE, ['ip', 'addr', 'add', '10.250.99.1/30', 'dev', 'ipvs-n0']));
  await ok(inNetns(CLIENT, ['ip', 'addr', 'add', '10.250.99.2/30', 'dev', 'ipvs-c0']));
  for (const [ns, dev] of [
    [NODE, 'ipvs-n0'],
    [CLIENT, 'ipvs-c0'],
  ] as const) {
    await ok(inNetns(ns, ['ip', 'link', 'set', dev, 'up']));
    await ok(inNetns(ns, ['ip', 'link', 'set', 'lo', 'up']));
  }
  await ok(inNetns(CLIENT, ['ip', 'route', 'add', '10.96.0.0/12', 'via', '10.250.99.1']));
  // kube-proxy makes kube-ipvs0 a dummy device; this kernel has no dummy module, and any device left down holds
  // local addresses the same way (the kernel adds their local routes whatever the link state).
  await ok(
    inNetns(NODE, ['ip', 'link', 'add', catalogue.KUBE_IPVS_DEVICE, 'type', 'veth', 'peer', 'name', 'ipvs-unused']),
  );
  for (const ip of CLUSTER_IPS) await ok(inNetns(NODE, ['ip', 'addr', 'add', `${ip}/32`, 'dev', 'kube-ipvs0']));
  await ok(inNetns(NODE, ['ipset', 'restore']), IPSETS);
  await ok(inNetns(NODE, ['iptables-restore', '--noflush']), KUBE_IPVS_FILTER);
}, 60_000);

afterAll(async () => {
  for (const ns of [NODE, CLIENT]) await run(['ip', 'netns', 'delete', ns]);
});

describe("kube-proxy's IPVS ipsets on a real kernel", () => {
  it("the catalogue's commands read them; the walk names the left-out ClusterIP as refused, the others as fine", async () => {
    const read = (c: { argv: string[] }) => ok(inNetns(NODE, c.argv));
    const kubeIpvs0 = await read(catalogue.kubeIpvsAddresses());
    const ipsets = await read(catalogue.ipsetList());
    const filterSave = await read(catalogue.iptablesSave('filter'));
    expect([...parseIpsetList(ipsets).sets.keys()]).toContain('KUBE-IPVS-IPS');
    const walk = (ip: string) =>
      ipvsWalk(IPVSADM, kubeIpvs0, { clusterIP: ip, port: 80, protocol: 'TCP' }, { ipsets, filterSave });
    expect(walk('10.96.98.173').ipsetGaps).toEqual([]);
    const refused = walk(LEFT_OUT);
    expect(refused.ipsetGaps).toHaveLength(1);
    expect(refused.ipsetGaps![0]).toMatchObject({
      set: 'KUBE-CLUSTER-IP',
      member: `${LEFT_OUT},tcp:80`,
      effect: 'rejected',
    });
    // The rule as this machine's iptables-save prints it (the REJECT's default --reject-with spelled out).
    expect(refused.ipsetGaps![0]!.evidence[0]).toMatch(
      /^-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT/,
    );
    expect(walk('10.103.1.234').entryRule).toBe(true);
  });

  it('the kernel agrees: only the connection to the left-out ClusterIP reaches the REJECT', async () => {
    const before = await rejectCount();
    await connect('10.96.98.173');
    expect(await rejectCount()).toBe(before);
    await connect(LEFT_OUT);
    expect(await rejectCount()).toBeGreaterThan(before!);
  }, 30_000);
});
