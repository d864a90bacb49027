/**
 * Writes large synthetic captures for the throughput bench: a few thousand packet templates (VXLAN-tunnelled TCP,
 * plain TCP, UDP, ICMP over FLOWS flows) cycled with advancing timestamps and TCP sequence numbers. Every UDP datagram
 * carries a checksum (VXLAN's outer one too, as Linux sends it with udpcsum), so the decoder's checksum check does its
 * full work; the outer checksums of patched VXLAN records no longer match, which costs the same to find out.
 */
import { closeSync, fsyncSync, openSync, statSync, writeSync } from 'node:fs';
import {
  ethernetIpv4,
  icmpEcho,
  ipv4Packet,
  pcapHeader,
  tcpSegment,
  udpDatagram,
  vxlanFrame,
  withUdpChecksum,
} from '../test/support/capture-builder.ts';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_PSH } from '../src/pcap/engine/constants.ts';

/** Flows in the generated capture: many more than a trace capture holds, well under MAX_FLOWS. */
export const FLOWS = 1000;
/** Bytes buffered before each write while generating. */
const WRITE_BUFFER_BYTES = 8 * 1024 * 1024;
export interface Template {
  record: Buffer;
  /** Offset of the TCP sequence number inside `record` (patched per packet so sequences advance), or -1. */
  seqOffset: number;
}

function template(frame: Buffer, tcpOffsetInFrame: number): Template {
  const record = Buffer.alloc(16 + frame.length);
  record.writeUInt32LE(frame.length, 8);
  record.writeUInt32LE(frame.length, 12);
  frame.copy(record, 16);
  return { record, seqOffset: tcpOffsetInFrame < 0 ? -1 : 16 + tcpOffsetInFrame + 4 };
}

/** Three packets per flow: client data, server ACK, server data; half the flows inside VXLAN. */
export function templates(): Template[] {
  const out: Template[] = [];
  for (let f = 0; f < FLOWS; f++) {
    const client = `10.244.${1 + (f % 3)}.${2 + (f % 200)}`;
    const server = `10.244.0.${2 + (f % 50)}`;
    const cport = 30000 + f;
    const kind = f % 10;
    if (kind < 8) {
      const vxlan = kind < 5;
      const seg = (src: string, dst: string, sport: number, dport: number, flags: number, payload: number) => {
        const inner = ethernetIpv4(
          ipv4Packet(src, dst, PROTO_TCP, tcpSegment({ sport, dport, flags, ack: 1, payload })),
        );
        if (!vxlan) return template(inner, 14 + 20);
        const fromClient = src === client;
        const plain = vxlanFrame(
          fromClient ? '192.168.1.11' : '192.168.1.12',
          fromClient ? '192.168.1.12' : '192.168.1.11',
          40000 + (f % 20000),
          4096,
          inner,
        );
        const frame = Buffer.concat([plain.subarray(0, 14), withUdpChecksum(plain.subarray(14))]);
        return template(frame, 14 + 20 + 8 + 8 + 14 + 20);
      };
      out.push(seg(client, server, cport, 80, TCP_PSH | TCP_ACK, 64));
      out.push(seg(server, client, 80, cport, TCP_ACK, 0));
      out.push(seg(server, client, 80, cport, TCP_PSH | TCP_ACK, 200));
    } else if (kind < 9) {
      out.push(
        template(
          ethernetIpv4(withUdpChecksum(ipv4Packet(client, '10.96.0.10', PROTO_UDP, udpDatagram(cport, 53, 40)))),
          -1,
        ),
      );
      out.push(
        template(
          ethernetIpv4(withUdpChecksum(ipv4Packet('10.96.0.10', client, PROTO_UDP, udpDatagram(53, cport, 120)))),
          -1,
        ),
      );
      out.push(
        template(
          ethernetIpv4(withUdpChecksum(ipv4Packet(client, '10.96.0.10', PROTO_UDP, udpDatagram(cport, 53, 40)))),
          -1,
        ),
      );
    } else {
      out.push(template(ethernetIpv4(ipv4Packet(client, server, PROTO_ICMP, icmpEcho(true, f, 1))), -1));
      out.push(template(ethernetIpv4(ipv4Packet(server, client, PROTO_ICMP, icmpEcho(false, f, 1))), -1));
      out.push(
        template(
          ethernetIpv4(withUdpChecksum(ipv4Packet(client, server, PROTO_UDP, udpDatagram(cport, 8080, 16)))),
          -1,
        ),
      );
    }
  }
  return out;
}

/** Writes `packets` records cycling through the templates, one microsecond apart, sequences advancing. */
export function generate(path: string, packets: number, tpl: Template[]): number {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, pcapHeader({ snapLength: 262144 }));
    const buf = Buffer.alloc(WRITE_BUFFER_BYTES);
    let used = 0;
    const baseSec = 1_764_000_000;
    for (let i = 0; i < packets; i++) {
      const t = tpl[i % tpl.length]!;
      if (used + t.record.length > buf.length) {
        writeSync(fd, buf, 0, used);
        used = 0;
      }
      t.record.copy(buf, used);
      buf.writeUInt32LE(baseSec + Math.floor(i / 1_000_000), used);
      buf.writeUInt32LE(i % 1_000_000, used + 4);
      if (t.seqOffset >= 0) buf.writeUInt32BE((Math.floor(i / tpl.length) * 1000) >>> 0, used + t.seqOffset);
      used += t.record.length;
    }
    writeSync(fd, buf, 0, used);
    // Flush now: write-back of hundreds of MB running during the timed reads would skew every contender.
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return statSync(path).size;
}
