import { describe, expect, it } from '@jest/globals';
import { netnsFromCrictlInspectp } from '../../../src/parse/runtime-sandbox.ts';
import { netnsNamesFromList, netnsRefsFromDir } from '../../../src/parse/netns-list.ts';
import { publishedFixture } from './published-fixture.ts';

// The netns discovery parsers (src/parse/runtime-sandbox.ts, src/parse/netns-list.ts) on a lab node's listings.
describe('network namespace listings', () => {
  it('reads `ip netns list` names, dropping the "(id: 3)" a namespace with an id carries', () => {
    expect(netnsNamesFromList(publishedFixture('lab-ip-netns-list.txt'))).toEqual([
      'k8snet-parse-node',
      'k8snet-parse-pod',
      'k8snet-parse-uplink',
    ]);
  });

  it('takes the bare names `ls /var/run/netns` prints as the same ip netns names', () => {
    expect(netnsRefsFromDir(publishedFixture('lab-ls-var-run-netns.txt'))).toEqual([
      'k8snet-parse-node',
      'k8snet-parse-pod',
      'k8snet-parse-uplink',
    ]);
  });

  it('finds the sandbox namespace in a published containerd PodSandboxStatus info (no status: no sandbox id, no IP)', () => {
    const inspectp = JSON.stringify({ info: JSON.parse(publishedFixture('crictl-inspectp-info-containerd.json')) });
    expect(netnsFromCrictlInspectp(inspectp)).toEqual({
      netns: 'cni-5ddce098-32ee-e39c-19c2-d6db782f6d20',
      sandboxId: null,
      ip: null,
      ips: [],
    });
  });
});

describe('crictl inspectp across runtime versions (one parser for every operation)', () => {
  it('takes info.netNamespace when the sandbox process is gone (containerd cri 1.0, cri#479)', () => {
    expect(netnsFromCrictlInspectp(publishedFixture('crictl-inspectp-cri-479-netnamespace.json'))).toEqual({
      netns: 'cni-ae2bd03e-4f7e-d9d0-911e-dafa7bb860e2',
      sandboxId: '6ecc8a386012aa3d8cc41e986263a56c039044b7f9dcceda012cc3fc045e58c9',
      ip: '10.88.22.12',
      ips: ['10.88.22.12'],
    });
  });

  it('falls back to /proc/PID/ns/net when only a pid is printed, and lists the dual-stack additionalIps (containerd#7731)', () => {
    expect(netnsFromCrictlInspectp(publishedFixture('crictl-inspectp-containerd-7731-sandbox-api.json'))).toEqual({
      netns: '/proc/48095/ns/net',
      sandboxId: '8f9ec14c8c927fc516444052653a936fbd22d74d04b016e2809ddd2eb75a6cfa',
      ip: '10.88.0.17',
      ips: ['10.88.0.17', '2001:4860:4860::11'],
    });
  });

  it("prefers the OCI spec's path to the pid, and refuses a path outside the known namespace directories", () => {
    const both = JSON.stringify({
      info: {
        pid: 7,
        netNamespace: '/var/run/netns/cni-aaa',
        runtimeSpec: { linux: { namespaces: [{ type: 'network', path: '/var/run/netns/cni-bbb' }] } },
      },
    });
    expect(netnsFromCrictlInspectp(both)?.netns).toBe('cni-bbb');
    expect(netnsFromCrictlInspectp(JSON.stringify({ info: { netNamespace: '/etc/passwd' } }))).toBeNull();
    expect(netnsFromCrictlInspectp('null')).toBeNull();
  });
});
