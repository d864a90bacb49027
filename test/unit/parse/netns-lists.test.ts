import { describe, expect, it } from '@jest/globals';
import { netnsFromCrictlInspectp } from '../../../src/parse/runtime-sandbox.ts';
import { netnsNamesFromList, netnsRefsFromDir } from '../../../src/parse/netns-list.ts';
import { publishedFixture } from './published-fixture.ts';

// The netns discovery parsers (src/parse/runtime-sandbox.ts, src/parse/netns-list.ts) on a lab node's listings.
describe('network namespace listings', () => {
  it('reads `ip netns list` names, dropping the "(id: 3)" a namespace with an id carries', () => {
    expect(netnsNamesFromList(publishedFixture('lab-ip-netns-list.txt'))).toEqual(['k8snet-parse-node', 'k8snet-parse-pod', 'k8snet-parse-uplink']);
  });

  it('takes the bare names `ls /var/run/netns` prints as the same ip netns names', () => {
    expect(netnsRefsFromDir(publishedFixture('lab-ls-var-run-netns.txt'))).toEqual(['k8snet-parse-node', 'k8snet-parse-pod', 'k8snet-parse-uplink']);
  });

  it('finds the sandbox namespace in a published containerd PodSandboxStatus info (no status: no sandbox id, no IP)', () => {
    const inspectp = JSON.stringify({ info: JSON.parse(publishedFixture('crictl-inspectp-info-containerd.json')) });
    expect(netnsFromCrictlInspectp(inspectp)).toEqual({ netns: 'cni-5ddce098-32ee-e39c-19c2-d6db782f6d20', sandboxId: null, ip: null });
  });
});
