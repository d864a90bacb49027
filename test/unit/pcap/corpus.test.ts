import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  summarizeCapture,
  summarizeCaptureFile,
  type CaptureSummary,
  type FlowSummary,
} from '../../../src/pcap/index.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const fixture = (name: string) => join(FIXTURES, name);
const text = (name: string) => readFileSync(fixture(name), 'utf8');

/** tcpdump -# numbers each packet at the start of a line: "    1  2020-06-10 …". */
function tcpdumpPacketCount(out: string): number {
  return out.split('\n').filter((l) => /^\s+(?<n>\d+)\s{2}/.test(l)).length;
}

/** tcpdump -# output split per packet (a packet's continuation lines, as with -v or -e VXLAN, stay with it). */
function tcpdumpPackets(out: string): string[] {
  const packets: string[] = [];
  for (const line of out.split('\n')) {
    if (/^\s+\d+\s{2}/.test(line)) packets.push(line);
    else if (packets.length > 0 && line !== '') packets[packets.length - 1] += `\n${line}`;
  }
  return packets;
}

/** Seconds since the epoch of an ISO timestamp with 6 or 9 fraction digits (Date.parse stops at milliseconds). */
function seconds(iso: string): number {
  const { whole, frac } = /^(?<whole>[^.]+)\.(?<frac>\d+)Z$/.exec(iso)!.groups!;
  return Date.parse(`${whole}Z`) / 1000 + Number(`0.${frac}`);
}

function onlyFlow(s: CaptureSummary): FlowSummary {
  expect(s.flows).toHaveLength(1);
  return s.flows[0]!;
}

describe('summaries of the corpus agree with tcpdump', () => {
  const tcpdumpTests: [pcap: string, out: string][] = [
    ['dns_tcp.pcap', 'dns_tcp.out'],
    ['dns_udp.pcap', 'dns_udp.out'],
    ['vxlan.pcap', 'vxlan.out'],
    ['vxlan_port_8472.pcap', 'vxlan_port_8472.out'],
    ['gso-ipv4-vxlan-ipv4.pcap', 'gso-ipv4-vxlan-ipv4.out'],
    ['ipv4_tcp_http_xml_tso.pcap', 'ipv4_tcp_http_xml_tso.out'],
    ['tcp-handshake-nano.pcap', 'tcp-handshake-nano.out'],
    ['icmp-cksum-oobr-1.pcap', 'icmp-cksum-oobr-1.out'],
    ['tftp-heapoverflow.pcap', 'tftp-heapoverflow.out'],
    ['tcp_rst_data-trunc.pcap', 'tcp_rst_data-trunc.out'],
    ['esp_truncated.pcap', 'esp_truncated.out'],
    ['gre-heapoverflow-1.pcap', 'gre-heapoverflow-1.out'],
    ['icmp-length-zero.pcapng', 'icmp-length-zero.out'],
    ['various_gre.pcap', 'various_gre.out'],
    ['empty.pcap', 'empty.out'],
    ['empty.pcapng', 'empty.out'],
  ];

  it.each(tcpdumpTests)(
    '%s: same packet count as tcpdump, every flow endpoint appears in its decode, no file error',
    async (pcap, out) => {
      const s = await summarizeCaptureFile(fixture(pcap));
      const decode = text(out);
      expect(s.packets).toBe(tcpdumpPacketCount(decode));
      expect(s.errors).toEqual([]);
      for (const f of s.flows) {
        expect(decode).toContain(
          f.sport === null ? `${f.src} > ${f.dst}` : `${f.src}.${f.sport} > ${f.dst}.${f.dport}`,
        );
      }
    },
  );

  it.each([
    ['dns_tcp.pcap', 'dns_tcp.out'],
    ['dns_udp.pcap', 'dns_udp.out'],
    ['tcp-handshake-nano.pcap', 'tcp-handshake-nano.out'],
    ['vxlan.pcap', 'vxlan.out'],
    ['vxlan_port_8472.pcap', 'vxlan_port_8472.out'],
    ['gso-ipv4-vxlan-ipv4.pcap', 'gso-ipv4-vxlan-ipv4.out'],
    ['various_gre.pcap', 'various_gre.out'],
    ['zeek-vxlan.pcap', 'local-tcpdump-4.99.3/zeek-vxlan.tcpdump-ntttte.txt'],
    ['zeek-4in4.pcap', 'local-tcpdump-4.99.3/zeek-4in4.tcpdump-ntttte.txt'],
    ['zeek-4in6.pcap', 'local-tcpdump-4.99.3/zeek-4in6.tcpdump-ntttte.txt'],
  ])(
    '%s: packet by packet, every "address.port > address.port" we print (outer and inner) is in tcpdump\'s line',
    async (pcap, out) => {
      const packets = tcpdumpPackets(text(out));
      const s = await summarizeCaptureFile(fixture(pcap), { sampleSize: packets.length });
      expect(s.sample).toHaveLength(packets.length);
      let checked = 0;
      for (const [i, sample] of s.sample.entries()) {
        const pairs = [...sample.line.matchAll(/(?<src>[0-9a-f.:]+) > (?<dst>[0-9a-f.:]+):/g)].map(
          (m) => `${m.groups!.src} > ${m.groups!.dst}:`,
        );
        for (const pair of pairs) expect(packets[i]).toContain(pair);
        checked += pairs.length;
      }
      expect(checked).toBeGreaterThan(0);
    },
  );

  it('dns_tcp: one TCP flow, initiated by the client, complete handshake, FIN, no resets or retransmissions', async () => {
    const s = await summarizeCaptureFile(fixture('dns_tcp.pcap'));
    expect(s.linkTypes).toEqual(['EN10MB']);
    expect(onlyFlow(s)).toMatchObject({
      src: '192.168.1.11',
      sport: 33779,
      dst: '209.87.249.18',
      dport: 53,
      proto: 'tcp',
      packets: 11,
      packetsFromSrc: 6,
      packetsFromDst: 5,
      tunnel: null,
      handshake: 'complete',
      resets: 0,
      retransmissions: 0,
      firstSeen: '2020-06-10T09:21:03.720289Z',
    });
    expect(s.flows[0]!.tcpFlags).toEqual(expect.arrayContaining(['SYN', 'SYN-ACK', 'ACK', 'FIN', 'PSH']));
    expect(s.bytes).toBe(s.flows[0]!.bytes);
  });

  it('dns_tcp: sample lines read like tcpdump -n (absolute sequence numbers, no options, no payload)', async () => {
    const s = await summarizeCaptureFile(fixture('dns_tcp.pcap'), { sampleSize: 3 });
    expect(s.sample.map((x) => x.line)).toEqual([
      'IP 192.168.1.11.33779 > 209.87.249.18.53: Flags [S], seq 603899916, win 64240, length 0',
      'IP 209.87.249.18.53 > 192.168.1.11.33779: Flags [S.], seq 2043824403, ack 603899917, win 64240, length 0',
      'IP 192.168.1.11.33779 > 209.87.249.18.53: Flags [.], ack 2043824404, win 64240, length 0',
    ]);
    const lines = text('dns_tcp.out').split('\n');
    // tcpdump's own first two lines carry the same prefix (then options, which we leave out).
    expect(lines[0]).toContain('IP 192.168.1.11.33779 > 209.87.249.18.53: Flags [S], seq 603899916, win 64240');
    expect(lines[1]).toContain(
      'IP 209.87.249.18.53 > 192.168.1.11.33779: Flags [S.], seq 2043824403, ack 603899917, win 64240',
    );
    expect(s.sample[0]).toMatchObject({ number: 1, time: '2020-06-10T09:21:03.720289Z', length: 74 });
  });

  it('vxlan (UDP 4789): the inner ICMP flow with the outer VTEP addresses and VNI 100; inner ARP is not IP', async () => {
    const s = await summarizeCaptureFile(fixture('vxlan.pcap'));
    expect(onlyFlow(s)).toMatchObject({
      src: '192.168.203.3',
      dst: '192.168.203.5',
      proto: 'icmp',
      sport: null,
      dport: null,
      packets: 8,
      packetsFromSrc: 4,
      packetsFromDst: 4,
      tunnel: { type: 'vxlan', outerSrc: '192.168.203.1', outerDst: '192.168.202.1', vni: 100 },
    });
    expect(s.nonIpPackets).toBe(2);
    expect(s.sample[0]!.line).toBe(
      'IP 192.168.203.1.45149 > 192.168.202.1.4789: VXLAN, flags [I] (0x08), vni 100 IP 192.168.203.3 > 192.168.203.5: ICMP echo request, id 1292, seq 1, length 64',
    );
    // tcpdump -e prints the same outer and inner headers on two lines.
    expect(text('vxlan.out')).toContain('192.168.203.1.45149 > 192.168.202.1.4789: VXLAN, flags [I] (0x08), vni 100');
    expect(text('vxlan.out')).toContain('192.168.203.3 > 192.168.203.5: ICMP echo request, id 1292, seq 1, length 64');
    expect(s.sample[1]!.line).toContain('ARP, Request who-has 192.168.203.3 tell 192.168.203.5, length 28');
  });

  it('vxlan on UDP 8472 (Linux/flannel default) is decoded by default, and left as UDP when the port set excludes it', async () => {
    const byDefault = await summarizeCaptureFile(fixture('vxlan_port_8472.pcap'));
    expect(onlyFlow(byDefault).tunnel).toEqual({
      type: 'vxlan',
      outerSrc: '192.168.203.1',
      outerDst: '192.168.202.1',
      vni: 100,
    });
    const calicoOnly = await summarizeCaptureFile(fixture('vxlan_port_8472.pcap'), { vxlanPorts: [4789] });
    expect(calicoOnly.flows.every((f) => f.proto === 'udp' && f.dport === 8472 && f.tunnel === null)).toBe(true);
  });

  it('zeek vxlan: the inner ICMP flow Zeek logs (10.0.0.1 → 10.0.0.2, 3.004616 s) inside VNI 123 between the VTEPs', async () => {
    const s = await summarizeCaptureFile(fixture('zeek-vxlan.pcap'));
    const f = onlyFlow(s);
    expect(f).toMatchObject({
      src: '10.0.0.1',
      dst: '10.0.0.2',
      proto: 'icmp',
      packets: 8,
      tunnel: { type: 'vxlan', vni: 123 },
    });
    expect([f.tunnel!.outerSrc, f.tunnel!.outerDst].sort()).toEqual(['192.168.56.11', '192.168.56.12']);
    const conn = text('zeek-vxlan.baseline-conn.log');
    expect(conn).toMatch(/10\.0\.0\.1\t8\t10\.0\.0\.2\t0\ticmp\t-\t3\.004616/);
    expect(seconds(f.lastSeen) - seconds(f.firstSeen)).toBeCloseTo(3.004616, 6);
  });

  it('GSO VXLAN super-frame: inner TCP 192.168.1.2:37099 → 192.168.1.1:41547 in VNI 5001 with its 6990 data bytes', async () => {
    const s = await summarizeCaptureFile(fixture('gso-ipv4-vxlan-ipv4.pcap'));
    expect(onlyFlow(s)).toMatchObject({
      src: '192.168.1.2',
      sport: 37099,
      dst: '192.168.1.1',
      dport: 41547,
      proto: 'tcp',
      tunnel: { type: 'vxlan', outerSrc: '10.25.132.11', outerDst: '10.25.132.13', vni: 5001 },
    });
    expect(s.sample[0]!.line).toContain('seq 1925567864:1925574854, ack 2614339187, win 166, length 6990');
  });

  it('IP-in-IP (IPv4 protocol 4): the inner UDP flow with the outer addresses, as Zeek and tcpdump decode it', async () => {
    const s = await summarizeCaptureFile(fixture('zeek-4in4.pcap'));
    expect(onlyFlow(s)).toMatchObject({
      src: '10.0.0.1',
      sport: 30000,
      dst: '10.0.0.2',
      dport: 13000,
      proto: 'udp',
      tunnel: { type: 'ipip', outerSrc: '1.2.3.4', outerDst: '5.6.7.8', vni: null },
    });
    expect(text('local-tcpdump-4.99.3/zeek-4in4.tcpdump-ntttte.txt')).toContain(
      '1.2.3.4 > 5.6.7.8: 10.0.0.1.30000 > 10.0.0.2.13000: UDP, length 4',
    );
    expect(s.sample[0]!.line).toBe('IP 1.2.3.4 > 5.6.7.8: IP 10.0.0.1.30000 > 10.0.0.2.13000: UDP, length 4');
    expect(text('zeek-ip-in-ip.baseline-output.txt')).toContain('10.0.0.1');
  });

  it('IPv4 in IPv6: a SYN-only inner TCP flow under IPv6 outer addresses', async () => {
    const s = await summarizeCaptureFile(fixture('zeek-4in6.pcap'));
    expect(onlyFlow(s)).toMatchObject({
      src: '70.55.213.211',
      sport: 31337,
      dst: '192.88.99.1',
      dport: 80,
      handshake: 'syn-only',
      tunnel: { type: 'ipip', outerSrc: '2002:4637:d5d3::4637:d5d3', outerDst: '2001:4860:0:2001::68', vni: null },
    });
  });

  it('Linux cooked v2 (SLL2): ICMP and ICMPv6 echo flows, ARP and RARP as non-IP, lines as tcpdump prints them', async () => {
    const s = await summarizeCaptureFile(fixture('zeek-linux_dlt_sll2.pcap'), { sampleSize: 6 });
    expect(s.linkTypes).toEqual(['LINUX_SLL2']);
    expect(s.flows.map((f) => [f.proto, f.src, f.packets])).toEqual([
      ['icmp', '192.0.2.1', 2],
      ['icmp6', 'fe80::8c36:6ff:fe44:acaf', 2],
    ]);
    expect(s.nonIpPackets).toBe(2);
    const tcpdump = text('local-tcpdump-4.99.3/zeek-linux_dlt_sll2.tcpdump-ntttte.txt');
    for (const line of s.sample.slice(0, 4).map((x) => x.line.replace(/^IP6? /, '')))
      expect(tcpdump).toContain(`: ${line}`);
    expect(tcpdump).toContain(`: ${s.sample[4]!.line.replace(/^ARP, /, '')}`);
  });

  it('nanosecond pcap (Linux cooked v1): nanosecond timestamps and a complete handshake', async () => {
    const s = await summarizeCaptureFile(fixture('tcp-handshake-nano.pcap'));
    expect(s.linkTypes).toEqual(['LINUX_SLL']);
    expect(s.firstSeen).toMatch(/T17:16:09\.924505488Z$/);
    expect(text('tcp-handshake-nano.out')).toContain('17:16:09.924505488 IP 131.155.215.69.46656 > 137.116.81.94.80');
    expect(onlyFlow(s)).toMatchObject({
      src: '131.155.215.69',
      sport: 46656,
      dst: '137.116.81.94',
      dport: 80,
      handshake: 'complete',
    });
  });

  it('TSO frame with IPv4 total length 0: the length is taken from the wire, as tcpdump presumes', async () => {
    const s = await summarizeCaptureFile(fixture('ipv4_tcp_http_xml_tso.pcap'));
    expect(text('ipv4_tcp_http_xml_tso.out')).toContain('length 2016 [was 0, presumed TSO]');
    expect(s.sample[0]!.line).toContain('length 1976'); // 2016 − 20 (IP) − 20 (TCP)
    expect(s.warnings).toEqual([]);
  });

  it('a TCP RST with data cut by the snap length counts as a reset, not as a broken file', async () => {
    const s = await summarizeCaptureFile(fixture('tcp_rst_data-trunc.pcap'));
    expect(onlyFlow(s)).toMatchObject({ src: '199.204.31.89', sport: 80, resets: 1 });
    expect(s.flows[0]!.tcpFlags).toContain('RST');
    expect(s.errors).toEqual([]);
  });

  it('UDP 8472 carrying ESP is not mistaken for VXLAN', async () => {
    const s = await summarizeCaptureFile(fixture('esp_truncated.pcap'));
    expect(onlyFlow(s)).toMatchObject({ proto: 'udp', sport: 4500, dport: 8472, tunnel: null });
  });

  it('GRE is summarized as its own protocol (not decapsulated), alongside the STP frames', async () => {
    const s = await summarizeCaptureFile(fixture('various_gre.pcap'));
    expect(s.flows.some((f) => f.proto === 'gre')).toBe(true);
    expect(s.nonIpPackets).toBeGreaterThan(0);
  });

  it('empty pcap and pcapng: zero packets, the link type, and no error', async () => {
    for (const name of ['empty.pcap', 'empty.pcapng']) {
      const s = await summarizeCaptureFile(fixture(name));
      expect(s).toMatchObject({ packets: 0, flows: [], errors: [], firstSeen: null, linkTypes: ['EN10MB'] });
    }
  });

  it('packets whose headers are cut or invalid are counted and described as warnings; decoding goes on', async () => {
    const hdr = await summarizeCaptureFile(fixture('zeek-trunc-hdr.pcap'));
    expect(hdr).toMatchObject({ packets: 1, malformedPackets: 1, errors: [] });
    expect(hdr.warnings).toEqual(['packet 1: truncated Ethernet header (8 of 14 bytes captured)']);
    const ip = await summarizeCaptureFile(fixture('zeek-ip4-trunc.pcap'));
    expect(ip.warnings).toEqual(['packet 1: truncated IPv4 header (6 of 20 bytes captured)']);
    const zero = await summarizeCaptureFile(fixture('icmp-length-zero.pcapng'));
    expect(zero.warnings).toEqual(['packet 1: IPv4 total length below the header length (0)']);
    const fuzzed = await summarizeCaptureFile(fixture('gre-heapoverflow-1.pcap'));
    expect(fuzzed).toMatchObject({ packets: 2, errors: [] });
  });
});

describe('broken capture files give an error and the summary decoded before it', () => {
  const chunksOf = (buf: Buffer, size: number) =>
    Array.from({ length: Math.ceil(buf.length / size) }, (_, i) => buf.subarray(i * size, (i + 1) * size));

  it('a pcap cut inside packet record 5 reports the record and its offset, and keeps the 4 packets before it', async () => {
    const whole = readFileSync(fixture('dns_tcp.pcap'));
    // Record offsets: 24-byte header, then 16-byte record headers + captured bytes.
    let offset = 24;
    for (let i = 0; i < 4; i++) offset += 16 + whole.readUInt32LE(offset + 8);
    const cut = whole.subarray(0, offset + 30);
    const s = await summarizeCapture(chunksOf(cut, 100));
    expect(s.errors).toEqual([
      `truncated capture: the input ends inside packet record 5 at offset ${offset} (${16 + whole.readUInt32LE(offset + 8)} bytes needed, 30 present)`,
    ]);
    expect(s.packets).toBe(4);
    expect(onlyFlow(s)).toMatchObject({ packets: 4, handshake: 'complete' });
  });

  it('a pcapng cut inside its packet block names the block', async () => {
    const whole = readFileSync(fixture('icmp-length-zero.pcapng'));
    const s = await summarizeCapture([whole.subarray(0, whole.length - 50)]);
    expect(s.errors).toHaveLength(1);
    expect(s.errors[0]).toMatch(/^truncated capture: the input ends inside pcapng block \d+ at offset \d+/);
    expect(s.format).toBe('pcapng');
  });

  it('a file cut inside its header, an empty input and a non-capture file are refused clearly', async () => {
    const header = readFileSync(fixture('dns_tcp.pcap')).subarray(0, 10);
    expect((await summarizeCapture([header])).errors[0]).toMatch(/ends inside the file header at offset 0/);
    expect((await summarizeCapture([])).errors).toEqual(['empty input: no capture file header']);
    expect((await summarizeCapture([Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')])).errors[0]).toBe(
      'not a pcap or pcapng file: unknown magic number 0x47455420 at offset 0',
    );
  });

  it('a read error from the stream keeps what was decoded', async () => {
    const whole = readFileSync(fixture('dns_tcp.pcap'));
    async function* failing() {
      yield whole.subarray(0, 600);
      throw new Error('connection reset by node');
    }
    const s = await summarizeCapture(failing());
    expect(s.packets).toBeGreaterThan(0);
    expect(s.errors).toEqual([
      expect.stringMatching(
        /^reading the capture failed after 600 bytes \(\d+ packets\): Error: connection reset by node$/,
      ),
    ]);
  });
});

describe('hostile input never throws', () => {
  /** Small deterministic PRNG (mulberry32) so a failure can be replayed. */
  function prng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it.each(['vxlan.pcap', 'dns_tcp.pcap', 'zeek-linux_dlt_sll2.pcap', 'icmp-length-zero.pcapng', 'zeek-4in6.pcap'])(
    '%s with random bytes flipped and random cuts: always a summary, problems only as errors or warnings',
    async (name) => {
      const original = readFileSync(fixture(name));
      const random = prng(name.length * 7919);
      for (let round = 0; round < 300; round++) {
        const copy = Buffer.from(original);
        const flips = 1 + Math.floor(random() * 8);
        for (let i = 0; i < flips; i++) copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
        const cut = copy.subarray(0, random() < 0.3 ? Math.floor(random() * copy.length) : copy.length);
        const s = await summarizeCapture([cut]);
        expect(s.packets).toBeGreaterThanOrEqual(0);
        expect(s.flows.length).toBeLessThanOrEqual(s.packets);
        for (const line of s.sample) expect(typeof line.line).toBe('string');
        expect(s.errors.filter((e) => e.startsWith('internal error'))).toEqual([]);
      }
    },
  );
});
