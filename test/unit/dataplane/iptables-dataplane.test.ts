import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { iptablesDataplane } from '../../../src/dataplane/iptables-dataplane.ts';

const nat = readFileSync(new URL('./fixtures/lab-iptables-save-nat.txt', import.meta.url), 'utf8');

describe('the iptables implementation of the kube-proxy dataplane seam', () => {
  it('reads the nat and the filter table with the catalogue commands, in that order', () => {
    expect(iptablesDataplane.commands().map((c) => c.argv)).toEqual([
      ['iptables-save', '-t', 'nat'],
      ['iptables-save', '-t', 'filter'],
    ]);
  });

  it('walks a NodePort to its DNAT targets from the outputs it asked for', () => {
    const walk = iptablesDataplane.walk([nat, ''], { nodePort: 31080, protocol: 'TCP' });
    expect(walk.entryRule).toBe(true);
    expect(walk.dnatTargets.length).toBeGreaterThan(0);
    expect(iptablesDataplane.nodePorts([nat, ''])).toEqual([31080]);
  });

  it('finds no entry rule for a port kube-proxy does not serve', () => {
    expect(iptablesDataplane.walk([nat, ''], { nodePort: 30999 }).entryRule).toBe(false);
  });
});
