import { describe, expect, it } from '@jest/globals';
import { acceptsOn, isLoopbackAddress, listenersFromSs, listenerText } from '../../../src/parse/listeners.ts';
import { publishedFixture } from './published-fixture.ts';

describe('listeners keep their bind address and process', () => {
  it('tells kube-proxy on 127.0.0.1:10249 from kube-proxy on *:10256 (ss -ltpn on a kubeadm control plane)', () => {
    const all = listenersFromSs(publishedFixture('ss-lntp-kube-proxy-1.txt'));
    expect(all.filter((l) => l.process === 'kube-proxy')).toEqual([
      { address: '127.0.0.1', port: 10249, process: 'kube-proxy' },
      { address: '*', port: 10256, process: 'kube-proxy' },
    ]);
    // A scope suffix is not part of the address; the first of several processes sharing a socket is named.
    expect(all).toEqual(
      expect.arrayContaining([
        { address: '127.0.0.53', port: 53, process: 'systemd-resolve' },
        { address: '*', port: 22, process: 'sshd' },
        { address: '192.168.1.105', port: 2379, process: 'etcd' },
      ]),
    );
  });

  it('reads netstat\'s PID/Program name column and tcp6 ":::" addresses', () => {
    expect(listenersFromSs(publishedFixture('netstat-kube-proxy-4-tcp6.txt'))).toEqual([
      { address: '::', port: 8000, process: './kube-proxy' },
    ]);
    const ipvs = listenersFromSs(publishedFixture('netstat-antp-kube-proxy-nodeports.txt'));
    expect(ipvs).toHaveLength(7);
    expect(ipvs[2]).toEqual({ address: '0.0.0.0', port: 30000, process: 'kube-proxy' });
  });

  it('reads ss -H -lntup IPv6 [::] sockets apart from the IPv4 ones, and ss without root has no process', () => {
    expect(listenersFromSs(publishedFixture('lab-ss-H-lntup.txt'))).toEqual([
      { address: '0.0.0.0', port: 31080, process: 'python3' },
      { address: '::', port: 31080, process: 'python3' },
    ]);
    expect(listenersFromSs(publishedFixture('ss-lntp-nonroot-1.txt')).map((l) => l.process)).toEqual([null, null]);
  });

  it('counts a listener for an address only when it is bound there or to a wildcard of a family that takes it', () => {
    const all = listenersFromSs(publishedFixture('ss-lntp-kube-proxy-1.txt'));
    expect(acceptsOn(all, 10249, '192.168.1.105')).toBe(false);
    expect(acceptsOn(all, 10249, '127.0.0.1')).toBe(true);
    expect(acceptsOn(all, 10256, '192.168.1.105')).toBe(true);
    expect(acceptsOn(all, 2380, '192.168.1.105')).toBe(true);
    expect(acceptsOn([{ address: '0.0.0.0', port: 80, process: null }], 80, 'fd00::5')).toBe(false);
    expect(acceptsOn([{ address: '::', port: 80, process: null }], 80, '10.0.0.5')).toBe(true);
  });

  it('knows loopback addresses in both families and prints IPv6 listeners in brackets', () => {
    expect(['127.0.0.1', '127.0.0.53', '::1', '::ffff:127.0.0.1'].every(isLoopbackAddress)).toBe(true);
    expect(['0.0.0.0', '::', '*', '10.244.0.2'].some(isLoopbackAddress)).toBe(false);
    expect(listenerText({ address: '::1', port: 8080, process: 'app' })).toBe('[::1]:8080 (app)');
  });
});

describe('an app bound to loopback only (lab netns)', () => {
  it.each(['lab-ss-H-lntp-loopback-only.txt', 'lab-netstat-lntp-loopback-only.txt'])(
    '%s: 127.0.0.1:8080 and ::1:8080 take nothing from the pod IP; 0.0.0.0:9090 does',
    (name) => {
      const all = listenersFromSs(publishedFixture(name));
      expect(all.map((l) => `${l.address} ${l.port}`)).toEqual(['127.0.0.1 8080', '0.0.0.0 9090', '::1 8080']);
      expect(acceptsOn(all, 8080, '10.244.0.2')).toBe(false);
      expect(acceptsOn(all, 9090, '10.244.0.2')).toBe(true);
    },
  );
});
