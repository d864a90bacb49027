import { describe, expect, it } from '@jest/globals';
import {
  decodePolicyComment,
  felixRuleHashes,
  getLengthLimitedId,
  policyChainComment,
  policyChainName,
  profileChainName,
  workloadChainName,
} from '../../../src/calico/felix-names.ts';

describe('Felix names', () => {
  it("reproduces GetLengthLimitedID on libcalico-go's own test vectors (lib/hash/unique_id_test.go)", () => {
    expect(getLengthLimitedId('felix', '1234', 10)).toBe('felix1234');
    expect(getLengthLimitedId('felix', '123456', 11)).toBe('felix123456');
    expect(getLengthLimitedId('felix', '_2345', 10)).toBe('felix_kMQI');
    expect(getLengthLimitedId('felix', '12345678910', 13)).toBe('felix_Y2QCZIS');
    expect(getLengthLimitedId('felix', '', 10)).toBe('felix_');
    expect(() => getLengthLimitedId('felix', 'toolong', 6)).toThrow(RangeError);
  });

  it("names a 3.32+ GlobalNetworkPolicy chain as Felix's policy_test.go expects, hashed and not", () => {
    expect(
      policyChainName('ingress', { kind: 'GlobalNetworkPolicy', name: 'long-policy-name-that-gets-hashed' }, 'kind-id'),
    ).toBe('cali-pi-_PymyFHQQg3808jiz1OJ');
    expect(
      policyChainName('egress', { kind: 'GlobalNetworkPolicy', name: 'long-policy-name-that-gets-hashed' }, 'kind-id'),
    ).toBe('cali-po-_PymyFHQQg3808jiz1OJ');
    expect(policyChainName('ingress', { kind: 'GlobalNetworkPolicy', name: 'policy-1' }, 'kind-id')).toBe(
      'cali-pi-gnp/policy-1',
    );
  });

  it('names a ≤3.28 Kubernetes NetworkPolicy chain as published in calico#5761', () => {
    expect(
      policyChainName(
        'ingress',
        { kind: 'KubernetesNetworkPolicy', namespace: 'test', name: 'default-ingress-egress-deny' },
        'name',
      ),
    ).toBe('cali-pi-_DYtwCKMZFWyxK2RhACP');
  });

  it('uses 256-character names in nftables mode', () => {
    expect(
      policyChainName(
        'ingress',
        { kind: 'KubernetesNetworkPolicy', namespace: 'test', name: 'default-ingress-egress-deny' },
        'kind-id',
        { nft: true },
      ),
    ).toBe('cali-pi-knp/test/default-ingress-egress-deny');
  });

  it('names workload and profile chains', () => {
    expect(workloadChainName('ingress', 'cali5125b8e5d77')).toBe('cali-tw-cali5125b8e5d77');
    expect(workloadChainName('egress', 'cali5125b8e5d77')).toBe('cali-fw-cali5125b8e5d77');
    expect(profileChainName('ingress', 'kns.default')).toBe('cali-pri-kns.default');
  });

  it('writes and reads both comment forms', () => {
    const ref = { kind: 'KubernetesNetworkPolicy' as const, namespace: 'test', name: 'deny' };
    expect(policyChainComment('ingress', ref, 'name')).toBe('Policy test/knp.default.deny ingress');
    expect(policyChainComment('egress', ref, 'kind-id')).toBe('KubernetesNetworkPolicy test/deny egress');
    expect(decodePolicyComment('Policy test/knp.default.default-ingress-egress-deny ingress')).toEqual({
      direction: 'ingress',
      kind: 'KubernetesNetworkPolicy',
      namespace: 'test',
      name: 'default-ingress-egress-deny',
      rawName: 'knp.default.default-ingress-egress-deny',
      tier: 'default',
    });
    expect(decodePolicyComment('GlobalNetworkPolicy default.foo egress')).toMatchObject({
      kind: 'GlobalNetworkPolicy',
      namespace: null,
      name: 'default.foo',
    });
    expect(decodePolicyComment('Return if policy accepted')).toBeNull();
  });

  it("computes the cali:<hash> rule ids of Felix's FORWARD/INPUT/OUTPUT hooks as seen on every Calico node", () => {
    expect(felixRuleHashes('FORWARD', ['-A FORWARD HASH --jump cali-FORWARD'])).toEqual(['wUHhoiAYhphO9Mso']);
    expect(felixRuleHashes('INPUT', ['-A INPUT HASH --jump cali-INPUT'])).toEqual(['Cz_u1IQiXIMmKD4c']);
    expect(felixRuleHashes('OUTPUT', ['-A OUTPUT HASH --jump cali-OUTPUT'])).toEqual(['tVnHkvAo15HuiPy0']);
  });
});
