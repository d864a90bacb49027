import { describe, expect, it } from '@jest/globals';
import { podInFamily } from '../../../src/ops/trace.ts';
import type { PodInfo } from '../../../src/cluster/types.ts';

const pod = (podIPs: string[], over: Partial<PodInfo> = {}): PodInfo => ({
  name: 'web',
  namespace: 'shop',
  uid: 'u',
  nodeName: 'k8s-node1',
  podIP: podIPs[0] ?? null,
  podIPs,
  hostIP: null,
  phase: 'Running',
  ready: true,
  hostNetwork: false,
  labels: {},
  containers: [],
  ...over,
});

describe('a pod seen in one address family (trace --ipv4 / --ipv6)', () => {
  it("takes the pod's address of that family from status.podIPs, whichever is primary", () => {
    const dual = pod(['10.244.0.5', 'fd00:10:244::5']);
    expect(podInFamily(dual, 6).podIP).toBe('fd00:10:244::5');
    expect(podInFamily(dual, 4).podIP).toBe('10.244.0.5');
    expect(podInFamily(pod(['fd00:10:244::5', '10.244.0.5']), 4).podIP).toBe('10.244.0.5');
  });

  it('refuses a family the pod has no address in, naming the addresses it has', () => {
    expect(() => podInFamily(pod(['10.244.0.5']), 6)).toThrow(
      '--ipv6: shop/web has no IPv6 address (status.podIPs: 10.244.0.5)',
    );
  });

  it('leaves host-network pods and pods without an IP yet to the usual findings', () => {
    const host = pod(['10.254.0.11'], { hostNetwork: true });
    expect(podInFamily(host, 6)).toBe(host);
    const pending = pod([]);
    expect(podInFamily(pending, 6)).toBe(pending);
  });
});
