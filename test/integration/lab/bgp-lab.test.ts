import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import type { LabState } from '../../../src/lab/state.ts';
import { inNetns, run, startLab, stopLab } from '../../support/lab.ts';

const LAB = 'bgmesh';
const BGP_TOPOLOGY = fileURLToPath(new URL('../../../src/lab/topologies/bgp.yaml', import.meta.url));
let state: LabState;

beforeAll(async () => {
  state = await startLab(LAB, BGP_TOPOLOGY);
}, 120_000);
afterAll(async () => stopLab(LAB), 60_000);

describe('a BGP lab (routing: bgp)', () => {
  it("routes node2's block on node1 with proto bird, and pod-src reaches pod-dest over it unencapsulated", async () => {
    const [n1, n2] = state.plan.nodes;
    const routes = await run(['ip', '-n', n1!.netns, 'route', 'show']);
    expect(routes.stdout).toContain(`${n2!.block} via ${n2!.ip} dev eth0 proto bird`);
    expect((await run(['ip', '-n', n1!.netns, 'link', 'show', 'vxlan.calico'])).code).not.toBe(0);
    const src = state.plan.pods.find((p) => p.name === 'pod-src')!;
    const dest = state.plan.pods.find((p) => p.name === 'pod-dest')!;
    const curl = await run(inNetns(src.netnsName, ['curl', '-s', '-m', '5', `http://${dest.ip}/`]));
    expect(curl.stdout).toContain('pod default/pod-dest web');
  }, 30_000);
});
