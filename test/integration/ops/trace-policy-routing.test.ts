/**
 * On the lab: trace's route lookups honour `ip rule`. A rule on the destination node that sends pod traffic arriving
 * on vxlan.calico to a table holding a blackhole is named, with the blackhole, as the reason the pod is not reached.
 */
import { describe, expect, it } from '@jest/globals';
import { runTrace } from '../../../src/ops/trace.ts';
import { inNetns, run } from '../../support/lab.ts';
import { labForFile } from '../../support/lab-deps.ts';

describe('trace with policy routing, on the lab', () => {
  const lab = labForFile('f14pr');
  const onNode1 = (argv: string[]) =>
    run(inNetns(lab.state().plan.nodes.find((n) => n.name === 'k8s-node1')!.netns, argv));

  it('names the ip rule and the blackhole of its table on the destination node', async () => {
    const rule = ['rule', 'add', 'priority', '100', 'to', '10.244.0.0/16', 'iif', 'vxlan.calico', 'lookup', '200'];
    const route = ['route', 'add', 'blackhole', '10.244.0.0/16', 'table', '200'];
    expect(await onNode1(['ip', ...rule])).toMatchObject({ code: 0, stderr: '' });
    expect(await onNode1(['ip', ...route])).toMatchObject({ code: 0, stderr: '' });
    try {
      const { result } = await runTrace(
        lab.deps(),
        { namespace: 'default', src: 'pod-src', dst: 'pod-dest', capture: { enabled: false, seconds: 1 } },
        { onStep: () => undefined, signal: AbortSignal.timeout(60_000) },
      );
      const f = result.findings.find((x) => x.code === 'no_route_to_pod');
      expect(f).toMatchObject({
        severity: 'error',
        message: expect.stringMatching(
          /^k8s-node1 does not route 10\.244\.0\.2 to cali\w+ \(default\/pod-dest\): table 200 \(ip rule 100\) has a blackhole route for it$/,
        ),
        evidence:
          'ip rule: 100: from all to 10.244.0.0/16 iif vxlan.calico lookup 200\nblackhole 10.244.0.0/16 table 200',
      });
      expect(result.routeToPod).toBe(f!.evidence);
      // The source node's own lookup is untouched: main's route through vxlan.calico.
      expect(result.routeToDst).toMatch(/^10\.244\.0\.0\/26 via 10\.244\.0\.\d+ dev vxlan\.calico/);
    } finally {
      await onNode1(['ip', 'rule', 'del', 'priority', '100']);
      await onNode1(['ip', 'route', 'del', 'blackhole', '10.244.0.0/16', 'table', '200']);
    }
  }, 60_000);
});
