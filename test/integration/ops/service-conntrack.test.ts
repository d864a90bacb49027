/**
 * On the lab: the test connections of `nodeport` and `svc` leave conntrack entries in the node namespaces (the lab's
 * kube-proxy DNATs are real iptables rules, so the kernel tracks and translates them), and the findings read them.
 */
import { describe, expect, it } from '@jest/globals';
import { runNodePort, runService, type ServiceOpResult } from '../../../src/ops/service-ops.ts';
import type { Finding } from '../../../src/model/report.ts';
import { inNetns, run } from '../../support/lab.ts';
import { labForFile } from '../../support/lab-deps.ts';

const LAB = 'f14ct';
const WINDOW_SECONDS = 1;

describe('conntrack of the Service test connection, on the lab', () => {
  const lab = labForFile(LAB);
  const ctx = () => ({ onStep: () => undefined, signal: AbortSignal.timeout(60_000) });
  const node = (name: string) => lab.state().plan.nodes.find((n) => n.name === name)!;
  const pod = (name: string) => lab.state().plan.pods.find((p) => p.name === name)!;
  const capture = { enabled: true, seconds: WINDOW_SECONDS };
  /** Every finding with its children, flat. */
  const all = (fs: readonly Finding[]): Finding[] => fs.flatMap((f) => [f, ...all(f.children ?? [])]);
  const conntrackFindings = (r: ServiceOpResult) => all(r.findings).filter((f) => f.code.startsWith('conntrack_'));

  it("nodeport: each node's entry shows the DNAT of its NodePort to pod-dest, masqueraded, answered", async () => {
    const r = (await runNodePort(lab.deps(), { port: 31080, capture }, ctx())).result;
    const endpoint = `${pod('pod-dest').ip}:8080`;
    for (const name of ['k8s-node1', 'k8s-node2']) {
      const n = r.nodes.find((x) => x.name === name)!;
      expect(n.testConntrack).toMatchObject({
        command: `conntrack -L -p tcp --orig-dst ${node(name).ip} --orig-port-dst 31080`,
        error: null,
      });
      expect(n.testConntrack!.entries.join('\n')).toMatch(
        new RegExp(`dport=31080 src=${pod('pod-dest').ip.replaceAll('.', '\\.')} dst=\\S+ sport=8080 `),
      );
      expect(n.conntrackTable).toMatchObject({ max: expect.any(Number) });
    }
    const found = conntrackFindings(r);
    expect(found.map((f) => [f.severity, f.code])).toEqual([
      ['info', 'conntrack_dnat'],
      ['info', 'conntrack_dnat'],
    ]);
    expect(found[0]!.message).toMatch(
      new RegExp(
        `^on k8s-node[12] the test connection to [\\d.]+:31080 was translated to endpoint ${endpoint}, which answered`,
      ),
    );
    expect(r.findings.filter((f) => f.severity !== 'info')).toEqual([]);
  }, 60_000);

  it('svc: pod-dest dropping the SYNs shows as a DNAT to pod-dest that was never answered, with the entry', async () => {
    const rule = ['INPUT', '-p', 'tcp', '--dport', '8080', '-j', 'DROP'];
    const b = await run(inNetns(pod('pod-dest').netnsName, ['iptables', '-I', ...rule]));
    expect(b).toMatchObject({ code: 0, stderr: '' });
    try {
      const r = (await runService(lab.deps(), { namespace: 'default', name: 'svc-clusterip', capture }, ctx())).result;
      const f = conntrackFindings(r).find((x) => x.code === 'conntrack_dnat_unreplied');
      expect(f).toBeDefined();
      expect(f!.severity).toBe('error');
      expect(f!.message).toContain(
        `was translated to endpoint ${pod('pod-dest').ip}:8080, which never answered (SYN_SENT, [UNREPLIED])`,
      );
      expect(f!.evidence).toMatch(
        /\ntcp 6 \d+ SYN_SENT src=\S+ dst=10\.96\.\S+ sport=\d+ dport=8080 \[UNREPLIED\] src=/,
      );
    } finally {
      await run(inNetns(pod('pod-dest').netnsName, ['iptables', '-D', ...rule]));
    }
  }, 60_000);
});
