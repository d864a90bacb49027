import { describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
describe('probe', () => {
  it('loads ESM client-node under jest', () => {
    expect(typeof KubeConfig).toBe('function');
  });
});
