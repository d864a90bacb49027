import { describe, expect, it } from '@jest/globals';
import { dnatTarget, parseConntrack, snatSource } from '../../../src/parse/conntrack.ts';
import { publishedFixture } from './published-fixture.ts';

describe('conntrack -L', () => {
  it('reads a Service connection kube-proxy DNATed and masqueraded, whose endpoint never answered', () => {
    const { entries, unparsed } = parseConntrack(publishedFixture('conntrack-k8s-101607-syn-sent-dnat.txt'));
    expect(unparsed).toEqual([]);
    expect(entries).toHaveLength(2);
    const [tcp, udp] = entries;
    expect(tcp).toMatchObject({
      protocol: 'tcp',
      timeout: 119,
      state: 'SYN_SENT',
      original: { src: '172.18.0.1', dst: '10.10.10.10', sport: 60000, dport: 80 },
      reply: { src: '10.244.2.3', dst: '172.18.0.2', sport: 80, dport: 45815 },
      unreplied: true,
      assured: false,
    });
    expect(dnatTarget(tcp!)).toEqual({ ip: '10.244.2.3', port: 80 });
    expect(snatSource(tcp!)).toEqual({ ip: '172.18.0.2', port: 45815 });
    // UDP has no state; this entry's reply comes from the address asked: no DNAT, only the source rewritten.
    expect(udp).toMatchObject({ protocol: 'udp', state: null, unreplied: true });
    expect(dnatTarget(udp!)).toBeNull();
    expect(snatSource(udp!)).toEqual({ ip: '172.18.0.2', port: 60000 });
  });

  it('reads entries without NAT as untranslated, assured both ways', () => {
    const { entries, unparsed } = parseConntrack(publishedFixture('conntrack-k8s-38802-established.txt'));
    expect(unparsed).toEqual([]);
    expect(entries.map((e) => [e.state, e.assured, dnatTarget(e), snatSource(e)])).toEqual([
      ['CLOSE_WAIT', true, null, null],
      ['CLOSE_WAIT', true, null, null],
      ['ESTABLISHED', true, null, null],
    ]);
    expect(entries[2]!.timeout).toBe(86388);
  });

  it("skips conntrack-tools' summary line and keeps a UDP DNAT to the DNS endpoint", () => {
    const { entries, unparsed } = parseConntrack(publishedFixture('conntrack-k8s-125467-udp-deleted.txt'));
    expect(unparsed).toEqual([]);
    expect(entries).toHaveLength(1);
    expect(dnatTarget(entries[0]!)).toEqual({ ip: '10.240.244.119', port: 53 });
  });

  it('reads SCTP entries with SELinux contexts and a conntrack zone', () => {
    const { entries, unparsed } = parseConntrack(publishedFixture('conntrack-ovnk-2829-sctp-zone.txt'));
    expect(unparsed).toEqual([]);
    expect(entries.map((e) => [e.protocol, e.state, e.zone, dnatTarget(e)])).toEqual([
      ['sctp', 'NONE', 12, { ip: '10.131.0.27', port: 30102 }],
      ['sctp', 'NONE', null, { ip: '172.30.206.3', port: 30102 }],
    ]);
  });

  it('keeps a line it cannot read instead of dropping it', () => {
    const text = `${publishedFixture('conntrack-k8s-38802-established.txt')}\nconntrack v1.4.7 (conntrack-tools): Operation not permitted`;
    const { entries, unparsed } = parseConntrack(text);
    expect(entries).toHaveLength(3);
    expect(unparsed).toEqual(['conntrack v1.4.7 (conntrack-tools): Operation not permitted']);
  });

  it("reads the lab's NodePort and ClusterIP entries, DNATed to pod-dest and masqueraded to the node", () => {
    const { entries, unparsed } = parseConntrack(publishedFixture('lab-conntrack-L-service.txt'));
    expect(unparsed).toEqual([]);
    expect(entries.map((e) => [e.state, e.original.dst, e.original.dport, dnatTarget(e), e.unreplied])).toEqual([
      ['TIME_WAIT', '10.254.0.11', 31080, { ip: '10.244.0.2', port: 8080 }, false],
      ['TIME_WAIT', '10.96.0.100', 8080, { ip: '10.244.0.2', port: 8080 }, false],
      ['TIME_WAIT', '10.96.0.100', 8080, { ip: '10.244.0.2', port: 8080 }, false],
      ['SYN_SENT', '10.96.0.100', 8080, { ip: '10.244.0.2', port: 8080 }, true],
    ]);
    expect(snatSource(entries[0]!)).toEqual({ ip: '10.254.0.11', port: 40902 });
  });
});
