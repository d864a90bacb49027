import { describe, expect, it } from '@jest/globals';
import { canonicalHostPort, joinHostPort } from '../../../src/net/host-port.ts';

describe('address:port in one spelling', () => {
  it('brackets IPv6, compresses it as RFC 5952 does, and leaves IPv4 as it is', () => {
    expect(joinHostPort('fd00:10:244:0:0::5', 8080)).toBe('[fd00:10:244::5]:8080');
    expect(joinHostPort('10.244.0.2', 8080)).toBe('10.244.0.2:8080');
    expect(canonicalHostPort('[fd00:10:244:0::5]:8080')).toBe('[fd00:10:244::5]:8080');
    expect(canonicalHostPort('10.244.0.2:8080')).toBe('10.244.0.2:8080');
    expect(canonicalHostPort('fd00::5')).toBe('fd00::5');
    expect(canonicalHostPort('not-an-address')).toBe('not-an-address');
  });
});
