import { describe, expect, it } from '@jest/globals';
import { parseEthtoolFeatures } from '../../../src/parse/ethtool-features.ts';
import { publishedFixture } from './published-fixture.ts';

describe('ethtool -k', () => {
  it("reads a published Calico node's feature list: tx-checksum-ip-generic on, fixed features marked, nothing left unparsed", () => {
    const f = parseEthtoolFeatures(publishedFixture('ethtool-k-cali-calico-8756.txt'));
    expect(f.interface).toBe('cali9d99c50de22');
    expect(f.features['tx-checksum-ip-generic']).toEqual({
      on: true,
      fixed: false,
      line: 'tx-checksum-ip-generic: on',
    });
    expect(f.features['tx-checksum-ipv4']).toEqual({ on: false, fixed: true, line: 'tx-checksum-ipv4: off [fixed]' });
    expect(f.features['generic-receive-offload']!.on).toBe(true);
    expect(f.unparsed).toEqual([]);
  });

  it('keeps lines it cannot read', () => {
    expect(parseEthtoolFeatures('Features for x:\nnot a feature line\n').unparsed).toEqual(['not a feature line']);
  });
});
