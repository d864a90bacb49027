import { describe, expect, it } from '@jest/globals';
import { serviceInFamily } from '../../../src/ops/service-ops.ts';
import type { ServiceInfo } from '../../../src/cluster/types.ts';

const service = (clusterIPs: string[]): ServiceInfo => ({
  name: 'web',
  namespace: 'shop',
  type: 'ClusterIP',
  clusterIP: clusterIPs[0] ?? null,
  clusterIPs,
  selector: { app: 'web' },
  ports: [],
  externalTrafficPolicy: null,
});

describe('serviceInFamily (svc/nodeport -4/-6)', () => {
  it("takes a dual-stack Service's ClusterIP of the family asked for, in either order of spec.clusterIPs", () => {
    expect(serviceInFamily(service(['10.96.0.10', 'fd00:10:96::a']), 6).clusterIP).toBe('fd00:10:96::a');
    expect(serviceInFamily(service(['fd00:10:96::a', '10.96.0.10']), 4).clusterIP).toBe('10.96.0.10');
    expect(serviceInFamily(service(['fd00:10:96::a', '10.96.0.10']), undefined).clusterIP).toBe('fd00:10:96::a');
  });

  it('refuses a family the Service has no ClusterIP of, naming what it has', () => {
    expect(() => serviceInFamily(service(['10.96.0.10']), 6)).toThrow(
      'Service shop/web has no IPv6 ClusterIP (spec.clusterIPs: 10.96.0.10): it is not dual-stack; ask again without -6',
    );
    expect(() => serviceInFamily(service([]), 4)).toThrow('(spec.clusterIPs: none)');
  });
});
