import { describe, expect, it } from '@jest/globals';
import {
  ethernetIpv4,
  ipv4Packet,
  pcapFile,
  tcpSegment,
  udpDatagram,
  vxlanFrame,
  withUdpChecksum,
} from '../../support/capture-builder.ts';
import { PROTO_TCP, PROTO_UDP, TCP_SYN } from '../../../src/pcap/engine/constants.ts';
import { summarizeCapture } from '../../../src/pcap/index.ts';
import { captureFindings } from '../../../src/ops/capture-report.ts';

const record = (data: Buffer, i: number) => ({ data, sec: 1_700_000_000, nsec: i * 1000 });
const dns = (correct: boolean | null) => {
  const ip = ipv4Packet('10.244.0.2', '10.96.0.10', PROTO_UDP, udpDatagram(40000, 53, Buffer.from('k8snet-query')));
  return ethernetIpv4(correct === null ? ip : withUdpChecksum(ip, correct));
};
/** A SYN inside VXLAN whose outer UDP checksum is filled in (udpcsum), right or wrong. */
const vxlanSyn = (correct: boolean) => {
  const inner = ethernetIpv4(
    ipv4Packet('10.244.0.65', '10.244.0.2', PROTO_TCP, tcpSegment({ sport: 40000, dport: 80, flags: TCP_SYN, seq: 1 })),
  );
  const frame = vxlanFrame('10.254.0.12', '10.254.0.11', 51000, 4096, inner);
  const outer = withUdpChecksum(frame.subarray(14), correct);
  return Buffer.concat([frame.subarray(0, 14), outer]);
};

describe('UDP and IPv4 checksums', () => {
  it('counts UDP datagrams whose checksum does not match the pseudo-header, outer VXLAN UDP included; 0 means none', async () => {
    const file = pcapFile([dns(true), dns(false), dns(null), vxlanSyn(true), vxlanSyn(false)].map(record));
    const s = await summarizeCapture([file]);
    expect(s.badUdpChecksums).toBe(2);
    expect(s.badIpChecksums).toBe(0);
    expect(s.flows.find((f) => f.dport === 80)!.tunnel).toMatchObject({ type: 'vxlan', vni: 4096 });
    expect(captureFindings(s).find((f) => f.code === 'bad_udp_checksums')!.evidence).toBe(
      '2 bad UDP checksums (whole datagrams checked against the IP pseudo-header)',
    );
  });

  it('counts IPv4 headers with a wrong checksum, and does not judge datagrams cut by the snap length', async () => {
    const bad = ethernetIpv4(
      ipv4Packet('10.244.0.2', '10.96.0.10', PROTO_UDP, udpDatagram(40000, 53, 4), { badChecksum: true }),
    );
    const cut = dns(false).subarray(0, 14 + 20 + 10);
    const s = await summarizeCapture([
      pcapFile([record(bad, 0), { ...record(cut, 1), originalLength: dns(false).length }]),
    ]);
    expect(s.badIpChecksums).toBe(1);
    expect(s.badUdpChecksums).toBe(0);
  });
});
