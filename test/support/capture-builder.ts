/**
 * Builds synthetic captures byte by byte: frames (Ethernet, VLAN, IPv4, IPv6, TCP, UDP, ICMP, VXLAN, IP-in-IP) and
 * pcap/pcapng files around them, in either byte order. Used by the unit tests (chunk splitting, TCP state) and by
 * the throughput bench to generate large captures. IPv4 header checksums are filled in (the decoder checks them);
 * UDP checksums are left 0 ("none" over IPv4) unless `withUdpChecksum` sets one.
 */
import {
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  LINKTYPE_ETHERNET,
  PROTO_ICMP,
  PROTO_IPIP,
  PROTO_TCP,
  PROTO_UDP,
} from '../../src/pcap/engine/constants.ts';

const MAC_A = Buffer.from([0x02, 0, 0, 0, 0, 0x0a]);
const MAC_B = Buffer.from([0x02, 0, 0, 0, 0, 0x0b]);

function ipv4Bytes(ip: string): Buffer {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255))
    throw new Error(`bad IPv4 ${ip}`);
  return Buffer.from(parts);
}

function ipv6Bytes(ip: string): Buffer {
  const [head = '', tail] = ip.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new Error(`bad IPv6 ${ip}`);
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

export interface TcpFields {
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  /** TCP flag bits (TCP_SYN | TCP_ACK …). */
  flags: number;
  window?: number;
  /** Data bytes carried (zeros). */
  payload?: number;
}

export function tcpSegment(f: TcpFields): Buffer {
  const b = Buffer.alloc(20 + (f.payload ?? 0));
  b.writeUInt16BE(f.sport, 0);
  b.writeUInt16BE(f.dport, 2);
  b.writeUInt32BE((f.seq ?? 0) >>> 0, 4);
  b.writeUInt32BE((f.ack ?? 0) >>> 0, 8);
  b[12] = 5 << 4;
  b[13] = f.flags;
  b.writeUInt16BE(f.window ?? 64240, 14);
  return b;
}

export function udpDatagram(sport: number, dport: number, payload: Buffer | number = 0): Buffer {
  const data = typeof payload === 'number' ? Buffer.alloc(payload) : payload;
  const b = Buffer.alloc(8);
  b.writeUInt16BE(sport, 0);
  b.writeUInt16BE(dport, 2);
  b.writeUInt16BE(8 + data.length, 4);
  return Buffer.concat([b, data]);
}

export function icmpEcho(request: boolean, id: number, seq: number, payload = 56): Buffer {
  const b = Buffer.alloc(8 + payload);
  b[0] = request ? 8 : 0;
  b.writeUInt16BE(id, 4);
  b.writeUInt16BE(seq, 6);
  return b;
}

export interface Ipv4Options {
  id?: number;
  ttl?: number;
  /** More-fragments flag and fragment offset in 8-byte units. */
  moreFragments?: boolean;
  fragmentOffset?: number;
  /** Bytes of options (zeros = end-of-options), a multiple of 4. */
  options?: number;
  /** Write a wrong header checksum. */
  badChecksum?: boolean;
}

export function ipv4Packet(src: string, dst: string, proto: number, payload: Buffer, o: Ipv4Options = {}): Buffer {
  const ihl = 20 + (o.options ?? 0);
  const b = Buffer.alloc(ihl);
  b[0] = 0x40 | (ihl / 4);
  b.writeUInt16BE(ihl + payload.length, 2);
  b.writeUInt16BE(o.id ?? 1, 4);
  b.writeUInt16BE((o.moreFragments ? 0x2000 : 0) | (o.fragmentOffset ?? 0), 6);
  b[8] = o.ttl ?? 64;
  b[9] = proto;
  ipv4Bytes(src).copy(b, 12);
  ipv4Bytes(dst).copy(b, 16);
  b.writeUInt16BE(o.badChecksum ? 0xbad : checksum(b, 0), 10);
  return Buffer.concat([b, payload]);
}

/** RFC 1071: the one's complement of the one's-complement sum of 16-bit words, starting from `initial`. */
export function checksum(b: Buffer, initial: number): number {
  let sum = initial;
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** An IPv4 packet (as ipv4Packet builds it) whose UDP datagram gets its checksum over the pseudo-header, or a wrong one. */
export function withUdpChecksum(ipv4: Buffer, correct = true): Buffer {
  const out = Buffer.from(ipv4);
  const ihl = (out[0]! & 15) * 4;
  const udp = out.subarray(ihl);
  udp.writeUInt16BE(0, 6);
  const pseudo = Buffer.concat([
    out.subarray(12, 20),
    Buffer.from([0, 17]),
    Buffer.from([udp.length >> 8, udp.length & 0xff]),
  ]);
  let sum = 0;
  for (let i = 0; i < pseudo.length; i += 2) sum += (pseudo[i]! << 8) | pseudo[i + 1]!;
  const c = checksum(udp, sum) || 0xffff;
  udp.writeUInt16BE(correct ? c : c ^ 0x5a5a, 6);
  return out;
}

/** IPv6 packet; `payload` may start with extension headers the caller chained (`nextHeader` names the first). */
export function ipv6Packet(src: string, dst: string, nextHeader: number, payload: Buffer): Buffer {
  const b = Buffer.alloc(40);
  b[0] = 0x60;
  b.writeUInt16BE(payload.length, 4);
  b[6] = nextHeader;
  b[7] = 64;
  ipv6Bytes(src).copy(b, 8);
  ipv6Bytes(dst).copy(b, 24);
  return Buffer.concat([b, payload]);
}

export function ethernetFrame(etherType: number, payload: Buffer, vlans: number[] = []): Buffer {
  const parts: Buffer[] = [MAC_B, MAC_A];
  for (const vid of vlans) {
    const tag = Buffer.alloc(4);
    tag.writeUInt16BE(0x8100, 0); // 802.1Q TPID, then priority/DEI/VLAN id
    tag.writeUInt16BE(vid & 0x0fff, 2);
    parts.push(tag);
  }
  const type = Buffer.alloc(2);
  type.writeUInt16BE(etherType, 0);
  parts.push(type, payload);
  return Buffer.concat(parts);
}

export function ethernetIpv4(ipPacket: Buffer, vlans: number[] = []): Buffer {
  return ethernetFrame(ETHERTYPE_IPV4, ipPacket, vlans);
}

export function ethernetIpv6(ipPacket: Buffer): Buffer {
  return ethernetFrame(ETHERTYPE_IPV6, ipPacket);
}

/** A VXLAN packet (outer Ethernet/IPv4/UDP) carrying `innerFrame` (an Ethernet frame). */
export function vxlanFrame(
  outerSrc: string,
  outerDst: string,
  sport: number,
  vni: number,
  innerFrame: Buffer,
  port = 4789,
): Buffer {
  const header = Buffer.alloc(8);
  header[0] = 0x08;
  header.writeUIntBE(vni, 4, 3);
  return ethernetIpv4(
    ipv4Packet(outerSrc, outerDst, PROTO_UDP, udpDatagram(sport, port, Buffer.concat([header, innerFrame]))),
  );
}

/** An IP-in-IP packet (outer Ethernet/IPv4 protocol 4) carrying `innerIpv4`. */
export function ipipFrame(outerSrc: string, outerDst: string, innerIpv4: Buffer): Buffer {
  return ethernetIpv4(ipv4Packet(outerSrc, outerDst, PROTO_IPIP, innerIpv4));
}

export function tcpFrame(src: string, dst: string, f: TcpFields): Buffer {
  return ethernetIpv4(ipv4Packet(src, dst, PROTO_TCP, tcpSegment(f)));
}

export function icmpFrame(src: string, dst: string, request: boolean, id: number, seq: number): Buffer {
  return ethernetIpv4(ipv4Packet(src, dst, PROTO_ICMP, icmpEcho(request, id, seq)));
}

export interface CaptureRecord {
  data: Buffer;
  /** Wire length; defaults to the data length. Bytes past `snapLength` are cut from `data`. */
  originalLength?: number;
  sec?: number;
  nsec?: number;
}

export interface CaptureFileOptions {
  linkType?: number;
  nanosecond?: boolean;
  bigEndian?: boolean;
  snapLength?: number;
}

/** pcap file header (libpcap 2.4). */
export function pcapHeader(o: CaptureFileOptions = {}): Buffer {
  const b = Buffer.alloc(24);
  const w32 = (v: number, off: number) => (o.bigEndian ? b.writeUInt32BE(v, off) : b.writeUInt32LE(v, off));
  const w16 = (v: number, off: number) => (o.bigEndian ? b.writeUInt16BE(v, off) : b.writeUInt16LE(v, off));
  w32(o.nanosecond ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(2, 4);
  w16(4, 6);
  w32(o.snapLength ?? 262144, 16);
  w32(o.linkType ?? LINKTYPE_ETHERNET, 20);
  return b;
}

/** One pcap record (16-byte header + captured bytes). */
export function pcapRecord(r: CaptureRecord, o: CaptureFileOptions = {}): Buffer {
  const data = r.data.subarray(0, Math.min(r.data.length, o.snapLength ?? r.data.length));
  const b = Buffer.alloc(16);
  const w32 = (v: number, off: number) => (o.bigEndian ? b.writeUInt32BE(v >>> 0, off) : b.writeUInt32LE(v >>> 0, off));
  const nsec = r.nsec ?? 0;
  w32(r.sec ?? 0, 0);
  w32(o.nanosecond ? nsec : Math.floor(nsec / 1000), 4);
  w32(data.length, 8);
  w32(r.originalLength ?? r.data.length, 12);
  return Buffer.concat([b, data]);
}

export function pcapFile(records: CaptureRecord[], o: CaptureFileOptions = {}): Buffer {
  return Buffer.concat([pcapHeader(o), ...records.map((r) => pcapRecord(r, o))]);
}

function pcapngBlock(type: number, body: Buffer, bigEndian: boolean): Buffer {
  const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
  const total = 12 + padded.length;
  const head = Buffer.alloc(8);
  const tail = Buffer.alloc(4);
  if (bigEndian) {
    head.writeUInt32BE(type, 0);
    head.writeUInt32BE(total, 4);
    tail.writeUInt32BE(total, 0);
  } else {
    head.writeUInt32LE(type, 0);
    head.writeUInt32LE(total, 4);
    tail.writeUInt32LE(total, 0);
  }
  return Buffer.concat([head, padded, tail]);
}

export interface PcapngInterfaceSpec {
  linkType: number;
  /** if_tsresol byte: 6 = µs (the default), 9 = ns. */
  tsresol?: number;
}

export interface PcapngRecord extends CaptureRecord {
  interfaceId?: number;
  /** Write a Simple Packet Block (no timestamp, interface 0) instead of an Enhanced Packet Block. */
  simple?: boolean;
}

/** A pcapng file: SHB, one IDB per interface, an unknown custom block, then the packets. */
export function pcapngFile(interfaces: PcapngInterfaceSpec[], records: PcapngRecord[], bigEndian = false): Buffer {
  const w = (size: number, fill: (b: Buffer) => void) => {
    const b = Buffer.alloc(size);
    fill(b);
    return b;
  };
  const u32 = (b: Buffer, v: number, off: number) =>
    bigEndian ? b.writeUInt32BE(v >>> 0, off) : b.writeUInt32LE(v >>> 0, off);
  const u16 = (b: Buffer, v: number, off: number) => (bigEndian ? b.writeUInt16BE(v, off) : b.writeUInt16LE(v, off));
  const blocks: Buffer[] = [];
  blocks.push(
    pcapngBlock(
      0x0a0d0d0a,
      w(16, (b) => {
        u32(b, 0x1a2b3c4d, 0);
        u16(b, 1, 4);
        u16(b, 0, 6);
        b.fill(0xff, 8, 16); // section length unknown (-1)
      }),
      bigEndian,
    ),
  );
  for (const i of interfaces) {
    const opts =
      i.tsresol === undefined
        ? Buffer.alloc(0)
        : w(12, (b) => {
            u16(b, 9, 0);
            u16(b, 1, 2);
            b[4] = i.tsresol!;
            // then opt_endofopt (4 zero bytes)
          });
    blocks.push(
      pcapngBlock(
        1,
        Buffer.concat([
          w(8, (b) => {
            u16(b, i.linkType, 0);
            u32(b, 262144, 4);
          }),
          opts,
        ]),
        bigEndian,
      ),
    );
  }
  blocks.push(pcapngBlock(0x00000bad, Buffer.from('custom block, skipped'), bigEndian));
  for (const r of records) {
    const orig = r.originalLength ?? r.data.length;
    if (r.simple) {
      blocks.push(pcapngBlock(3, Buffer.concat([w(4, (b) => u32(b, orig, 0)), r.data]), bigEndian));
      continue;
    }
    const iface = interfaces[r.interfaceId ?? 0]!;
    const unitsPerSec = 10 ** (iface.tsresol ?? 6);
    const units =
      BigInt(r.sec ?? 0) * BigInt(unitsPerSec) + (BigInt(r.nsec ?? 0) * BigInt(unitsPerSec)) / 1_000_000_000n;
    const head = w(20, (b) => {
      u32(b, r.interfaceId ?? 0, 0);
      u32(b, Number(units >> 32n), 4);
      u32(b, Number(units & 0xffffffffn), 8);
      u32(b, r.data.length, 12);
      u32(b, orig, 16);
    });
    blocks.push(pcapngBlock(6, Buffer.concat([head, r.data]), bigEndian));
  }
  return Buffer.concat(blocks);
}
