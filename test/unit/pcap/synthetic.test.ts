import { describe, expect, it } from '@jest/globals';
import {
  ethernetFrame,
  ethernetIpv4,
  ethernetIpv6,
  icmpFrame,
  ipipFrame,
  ipv4Packet,
  ipv6Packet,
  pcapFile,
  pcapngFile,
  tcpFrame,
  tcpSegment,
  udpDatagram,
  vxlanFrame,
  type CaptureRecord,
  type TcpFields,
} from '../../support/capture-builder.ts';
import {
  PROTO_TCP,
  PROTO_UDP,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
} from '../../../src/pcap/engine/constants.ts';
import { MAX_FLOWS, summarizeCapture, summaryToJson, type CaptureSummary } from '../../../src/pcap/index.ts';
import type { ObservedFlow } from '../../../src/ops/trace-facts.ts';

const CLIENT = '10.244.1.2';
const SERVER = '10.244.0.3';

/** Records a TCP conversation: each step is sent by the client (`c`) or the server (`s`). */
function conversation(steps: ['c' | 's', Omit<TcpFields, 'sport' | 'dport'>][]): CaptureRecord[] {
  return steps.map(([who, f], i) => ({
    data:
      who === 'c'
        ? tcpFrame(CLIENT, SERVER, { ...f, sport: 45678, dport: 80 })
        : tcpFrame(SERVER, CLIENT, { ...f, sport: 80, dport: 45678 }),
    sec: 1_700_000_000,
    nsec: i * 1000,
  }));
}

const HANDSHAKE: ['c' | 's', Omit<TcpFields, 'sport' | 'dport'>][] = [
  ['c', { flags: TCP_SYN, seq: 100 }],
  ['s', { flags: TCP_SYN | TCP_ACK, seq: 500, ack: 101 }],
  ['c', { flags: TCP_ACK, seq: 101, ack: 501 }],
];

function summarize(records: CaptureRecord[], chunk = 1 << 20): Promise<CaptureSummary> {
  const file = pcapFile(records);
  const chunks = Array.from({ length: Math.ceil(file.length / chunk) }, (_, i) =>
    file.subarray(i * chunk, (i + 1) * chunk),
  );
  return summarizeCapture(chunks);
}

function bytewise(file: Buffer): Buffer[] {
  return Array.from(file, (_, i) => file.subarray(i, i + 1));
}

describe('streaming: records split across chunk boundaries', () => {
  const records = [
    ...conversation([...HANDSHAKE, ['c', { flags: TCP_PSH | TCP_ACK, seq: 101, ack: 501, payload: 300 }]]),
    {
      data: vxlanFrame(
        '192.168.1.11',
        '192.168.1.12',
        45000,
        4096,
        ethernetIpv4(ipv4Packet(CLIENT, SERVER, PROTO_UDP, udpDatagram(5353, 53, 30))),
      ),
      sec: 1_700_000_001,
    },
    { data: icmpFrame(CLIENT, SERVER, true, 7, 1), sec: 1_700_000_002, nsec: 123_456_789 },
  ];

  it.each([
    ['pcap, little-endian, µs', pcapFile(records)],
    ['pcap, big-endian, µs', pcapFile(records, { bigEndian: true })],
    ['pcap, little-endian, ns', pcapFile(records, { nanosecond: true })],
    ['pcap, big-endian, ns', pcapFile(records, { nanosecond: true, bigEndian: true })],
    ['pcapng, little-endian', pcapngFile([{ linkType: 1 }], records)],
    ['pcapng, big-endian, ns resolution', pcapngFile([{ linkType: 1, tsresol: 9 }], records, true)],
  ])('%s: fed one byte at a time, the summary equals the one from a single chunk', async (_name, file) => {
    const whole = await summarizeCapture([file]);
    const byByte = await summarizeCapture(bytewise(file));
    expect(whole.errors).toEqual([]);
    expect(whole.packets).toBe(6);
    expect(whole.flows.map((f) => f.proto)).toEqual(['tcp', 'udp', 'icmp']);
    expect(byByte).toEqual(whole);
  });

  it('both byte orders and resolutions give the same flows and times (to the µs)', async () => {
    const a = await summarizeCapture([pcapFile(records)]);
    const b = await summarizeCapture([pcapngFile([{ linkType: 1, tsresol: 9 }], records, true)]);
    expect(b.flows.map((f) => [f.src, f.dst, f.packets, f.bytes])).toEqual(
      a.flows.map((f) => [f.src, f.dst, f.packets, f.bytes]),
    );
    expect(a.lastSeen).toBe('2023-11-14T22:13:22.123456Z');
    expect(b.lastSeen).toBe('2023-11-14T22:13:22.123456789Z');
  });

  it('accepts a Node Readable', async () => {
    const { Readable } = await import('node:stream');
    const s = await summarizeCapture(Readable.from(bytewise(pcapFile(records)).slice(0), { objectMode: true }));
    expect(s.packets).toBe(6);
  });
});

describe('TCP classification', () => {
  it('a full handshake with data is complete, initiated by the client, with no retransmission', async () => {
    const s = await summarize(
      conversation([...HANDSHAKE, ['c', { flags: TCP_PSH | TCP_ACK, seq: 101, ack: 501, payload: 10 }]]),
    );
    expect(s.flows[0]).toMatchObject({
      src: CLIENT,
      sport: 45678,
      dst: SERVER,
      dport: 80,
      handshake: 'complete',
      retransmissions: 0,
      resets: 0,
    });
    expect(s.flows[0]!.tcpFlags).toEqual(['SYN', 'SYN-ACK', 'ACK', 'PSH']);
  });

  it('the same data segment sent twice in one direction is one retransmission; the peer sending the same seq is not', async () => {
    const s = await summarize(
      conversation([
        ...HANDSHAKE,
        ['c', { flags: TCP_PSH | TCP_ACK, seq: 101, ack: 501, payload: 10 }],
        ['s', { flags: TCP_PSH | TCP_ACK, seq: 501, ack: 111, payload: 10 }],
        ['c', { flags: TCP_PSH | TCP_ACK, seq: 101, ack: 501, payload: 10 }],
        ['c', { flags: TCP_ACK, seq: 111, ack: 511 }],
        ['c', { flags: TCP_ACK, seq: 111, ack: 511 }],
      ]),
    );
    expect(s.flows[0]).toMatchObject({ retransmissions: 1, handshake: 'complete' });
  });

  it('a keep-alive probe (one byte before the next sequence number) is not a retransmission', async () => {
    const s = await summarize(
      conversation([
        ...HANDSHAKE,
        ['c', { flags: TCP_PSH | TCP_ACK, seq: 101, ack: 501, payload: 10 }],
        ['c', { flags: TCP_ACK, seq: 110, ack: 501, payload: 1 }],
        ['c', { flags: TCP_ACK, seq: 110, ack: 501, payload: 1 }],
      ]),
    );
    expect(s.flows[0]!.retransmissions).toBe(0);
  });

  it('a SYN sent again without an answer is syn-only with one retransmission', async () => {
    const s = await summarize(
      conversation([
        ['c', { flags: TCP_SYN, seq: 100 }],
        ['c', { flags: TCP_SYN, seq: 100 }],
      ]),
    );
    expect(s.flows[0]).toMatchObject({
      handshake: 'syn-only',
      retransmissions: 1,
      packetsFromSrc: 2,
      packetsFromDst: 0,
    });
  });

  it('SYN answered by RST-ACK (nothing listening) is syn-only with one reset', async () => {
    const s = await summarize(
      conversation([
        ['c', { flags: TCP_SYN, seq: 100 }],
        ['s', { flags: TCP_RST | TCP_ACK, ack: 101 }],
      ]),
    );
    expect(s.flows[0]).toMatchObject({ src: CLIENT, handshake: 'syn-only', resets: 1 });
    expect(s.flows[0]!.tcpFlags).toEqual(['SYN', 'ACK', 'RST']);
  });

  it('SYN and SYN-ACK without the final ACK is syn-ack-seen', async () => {
    const s = await summarize(conversation(HANDSHAKE.slice(0, 2)));
    expect(s.flows[0]!.handshake).toBe('syn-ack-seen');
  });

  it('a capture that starts at the SYN-ACK still names the client as the source', async () => {
    const s = await summarize(conversation(HANDSHAKE.slice(1)));
    expect(s.flows[0]).toMatchObject({ src: CLIENT, dst: SERVER, sport: 45678, dport: 80, handshake: 'syn-ack-seen' });
  });

  it('a capture that starts mid-stream has no handshake and takes the first sender as the source', async () => {
    const s = await summarize(
      conversation([
        ['s', { flags: TCP_ACK | TCP_PSH, seq: 900, ack: 200, payload: 5 }],
        ['c', { flags: TCP_ACK | TCP_FIN, seq: 200, ack: 905 }],
      ]),
    );
    expect(s.flows[0]).toMatchObject({ src: SERVER, dst: CLIENT, handshake: 'none' });
    expect(s.flows[0]!.tcpFlags).toEqual(['ACK', 'FIN', 'PSH']);
  });

  it('sequence numbers wrapping past 2^32 are not retransmissions', async () => {
    const s = await summarize(
      conversation([
        ['c', { flags: TCP_ACK, seq: 0xfffffff0, ack: 1, payload: 16 }],
        ['c', { flags: TCP_ACK, seq: 0, ack: 1, payload: 16 }],
      ]),
    );
    expect(s.flows[0]!.retransmissions).toBe(0);
  });
});

describe('encapsulation and link layers', () => {
  it('a VXLAN-tunnelled SYN keeps outer and inner headers and prints like tcpdump', async () => {
    const inner = ethernetIpv4(
      ipv4Packet(
        '10.244.1.2',
        '10.244.0.3',
        PROTO_TCP,
        tcpSegment({ sport: 45678, dport: 80, flags: TCP_SYN, seq: 1 }),
      ),
    );
    const s = await summarize([{ data: vxlanFrame('192.168.1.11', '192.168.1.12', 4789, 4096, inner) }]);
    expect(s.flows[0]).toMatchObject({
      src: '10.244.1.2',
      dst: '10.244.0.3',
      tunnel: { type: 'vxlan', outerSrc: '192.168.1.11', outerDst: '192.168.1.12', vni: 4096 },
    });
    expect(s.sample[0]!.line).toBe(
      'IP 192.168.1.11.4789 > 192.168.1.12.4789: VXLAN, flags [I] (0x08), vni 4096 IP 10.244.1.2.45678 > 10.244.0.3.80: Flags [S], seq 1, win 64240, length 0',
    );
  });

  it('the tunnel is oriented like the flow when the first tunnelled packet is the reply', async () => {
    const synAck = ipv4Packet(
      SERVER,
      CLIENT,
      PROTO_TCP,
      tcpSegment({ sport: 80, dport: 45678, flags: TCP_SYN | TCP_ACK }),
    );
    const s = await summarize([
      { data: tcpFrame(CLIENT, SERVER, { sport: 45678, dport: 80, flags: TCP_SYN }) },
      { data: ipipFrame('192.168.1.12', '192.168.1.11', synAck) },
    ]);
    expect(s.flows[0]).toMatchObject({
      src: CLIENT,
      tunnel: { type: 'ipip', outerSrc: '192.168.1.11', outerDst: '192.168.1.12', vni: null },
    });
  });

  it('802.1Q and QinQ tags are skipped', async () => {
    const s = await summarize([
      { data: ethernetFrame(0x0800, ipv4Packet(CLIENT, SERVER, PROTO_UDP, udpDatagram(1000, 2000, 4)), [100, 200]) },
    ]);
    expect(s.flows[0]).toMatchObject({ proto: 'udp', sport: 1000, dport: 2000 });
  });

  it('IPv4 options and IPv6 extension headers are skipped to reach the ports', async () => {
    const hopByHop = Buffer.concat([
      Buffer.from([PROTO_TCP, 0, 1, 4, 0, 0, 0, 0]),
      tcpSegment({ sport: 443, dport: 50000, flags: TCP_ACK }),
    ]);
    const s = await summarize([
      { data: ethernetIpv4(ipv4Packet(CLIENT, SERVER, PROTO_UDP, udpDatagram(7, 8), { options: 8 })) },
      { data: ethernetIpv6(ipv6Packet('fd00::1', 'fd00::2', 0, hopByHop)) },
    ]);
    expect(s.flows.map((f) => [f.src, f.sport, f.dst, f.dport])).toEqual([
      [CLIENT, 7, SERVER, 8],
      ['fd00::1', 443, 'fd00::2', 50000],
    ]);
  });

  it('IPv4 fragments: the first counts in its flow, later ones in a flow without ports', async () => {
    const payload = udpDatagram(1111, 2222, 100);
    const s = await summarize([
      { data: ethernetIpv4(ipv4Packet(CLIENT, SERVER, PROTO_UDP, payload.subarray(0, 64), { moreFragments: true })) },
      { data: ethernetIpv4(ipv4Packet(CLIENT, SERVER, PROTO_UDP, payload.subarray(64), { fragmentOffset: 8 })) },
    ]);
    expect(s.flows.map((f) => [f.sport, f.dport, f.fragments])).toEqual([
      [1111, 2222, 1],
      [null, null, 1],
    ]);
    expect(s.sample[1]!.line).toBe(`IP ${CLIENT} > ${SERVER}: udp (fragment)`);
  });

  it('pcapng: per-interface link types (Ethernet and raw IP) and a Simple Packet Block', async () => {
    const raw = ipv4Packet(CLIENT, SERVER, PROTO_UDP, udpDatagram(1, 2));
    const file = pcapngFile(
      [{ linkType: 1 }, { linkType: 101, tsresol: 9 }],
      [
        { data: ethernetIpv4(raw), sec: 10 },
        { data: raw, interfaceId: 1, sec: 20, nsec: 5 },
        { data: ethernetIpv4(raw), simple: true },
      ],
    );
    const s = await summarizeCapture([file]);
    expect(s).toMatchObject({ format: 'pcapng', packets: 3, linkTypes: ['EN10MB', 'RAW'], errors: [] });
    expect(s.flows[0]!.packets).toBe(3);
    expect(s.lastSeen).toBe('1970-01-01T00:00:20.000000005Z');
  });

  it('BSD null/loopback link type', async () => {
    const raw = ipv4Packet('127.0.0.1', '127.0.0.1', PROTO_UDP, udpDatagram(5000, 6000));
    const s = await summarizeCapture([
      pcapFile([{ data: Buffer.concat([Buffer.from([2, 0, 0, 0]), raw]) }], { linkType: 0 }),
    ]);
    expect(s.flows[0]).toMatchObject({ src: '127.0.0.1', proto: 'udp' });
  });

  it('an unknown link type is a warning, not an error', async () => {
    const s = await summarizeCapture([pcapFile([{ data: Buffer.alloc(20) }], { linkType: 147 })]);
    expect(s).toMatchObject({
      packets: 1,
      errors: [],
      warnings: ['packet 1: unsupported link type (147)'],
      linkTypes: ['LINKTYPE_147'],
    });
  });
});

describe('bounds and errors', () => {
  it('flows past the cap are counted as other, and the sample is bounded', async () => {
    const records = Array.from({ length: 8 }, (_, i) => ({
      data: tcpFrame(CLIENT, SERVER, { sport: 1000 + i, dport: 80, flags: TCP_SYN }),
    }));
    const file = pcapFile(records);
    const s = await summarizeCapture([file], { maxFlows: 5, sampleSize: 2 });
    expect(s.flows).toHaveLength(5);
    expect(s.otherFlows).toEqual({ packets: 3, bytes: 3 * records[0]!.data.length });
    expect(s.sample).toHaveLength(2);
    expect(MAX_FLOWS).toBe(10_000);
  });

  it('an impossible record length stops decoding with the record number and offset', async () => {
    const file = pcapFile(conversation(HANDSHAKE));
    const second = 24 + 16 + file.readUInt32LE(24 + 8);
    file.writeUInt32LE(0x7fffffff, second + 8);
    const s = await summarizeCapture([file]);
    expect(s.errors).toEqual([
      `packet record 2 at offset ${second}: captured length 2147483647 exceeds 262144 (corrupt record header)`,
    ]);
    expect(s.packets).toBe(1);
  });

  it('an aborted summary says so and keeps what it has', async () => {
    const controller = new AbortController();
    const file = pcapFile(conversation(HANDSHAKE));
    async function* source() {
      yield file.subarray(0, 100);
      controller.abort();
      yield file.subarray(100);
    }
    const s = await summarizeCapture(source(), { signal: controller.signal });
    expect(s.errors[0]).toMatch(/^stopped after 100 bytes \(1 packets\): aborted$/);
  });

  it('the JSON contract carries packets, bytes, flows with the tunnel, and errors', async () => {
    const s = await summarize(conversation(HANDSHAKE));
    const json = summaryToJson(s);
    expect(Object.keys(json).slice(0, 4)).toEqual(['packets', 'bytes', 'flows', 'errors']);
    expect((json.flows as Record<string, unknown>[])[0]).toMatchObject({
      src: CLIENT,
      dst: SERVER,
      proto: 'tcp',
      sport: 45678,
      dport: 80,
      packets: 3,
      tunnel: null,
    });
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });

  it('a flow summary is what the trace diagnosis consumes as an observed flow', async () => {
    const s = await summarize(conversation(HANDSHAKE));
    const observed: ObservedFlow = s.flows[0]!; // compile-time check that the shapes stay compatible
    expect(observed).toMatchObject({ handshake: 'complete', resets: 0, tcpFlags: ['SYN', 'SYN-ACK', 'ACK'] });
  });
});
