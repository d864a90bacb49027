/**
 * Decodes one captured frame into a reusable `DecodedPacket` (plain numeric fields, filled in place: no objects or
 * strings per packet). Link types: Ethernet (802.1Q/802.1ad tags), Linux cooked v1 and v2, raw IP, IPv4, IPv6,
 * BSD null and OpenBSD loop. Network: IPv4 (options, fragments) and IPv6 (extension headers skipped).
 * Tunnels: IP-in-IP (IPv4/IPv6 protocol 4 and 41) and VXLAN on a configurable UDP port set; the outermost tunnel's
 * outer header is kept next to the innermost packet. Transport: TCP, UDP, ICMP, ICMPv6.
 */
import { defaultOnesSum, type OnesSum } from './ones-sum.ts';

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
/** DLT_RAW as most systems number it (12) and as OpenBSD does (14); LINKTYPE_RAW is 101. */
export const LINKTYPE_RAW_12 = 12;
export const LINKTYPE_RAW_14 = 14;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

export const TUNNEL_NONE = 0;
export const TUNNEL_VXLAN = 1;
export const TUNNEL_IPIP = 2;

export const PROTO_ICMP = 1;
export const PROTO_IPIP = 4;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_IPV6 = 41;
export const PROTO_ICMPV6 = 58;

/** DecodedPacket.badChecksums bits: an IPv4 header, a UDP datagram (any layer, outer VXLAN UDP included). */
export const BAD_IPV4_HEADER_CHECKSUM = 1;
export const BAD_UDP_CHECKSUM = 2;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;

/** Tunnels inside tunnels are followed this deep; Calico uses one level, a second covers VXLAN over IPIP oddities. */
export const MAX_ENCAPSULATION_DEPTH = 2;
/** VLAN tags followed on one frame (802.1Q, QinQ 802.1ad and the old 0x9100): real frames carry at most two. */
const MAX_VLAN_TAGS = 4;
/** IPv6 extension headers followed before giving up on finding the transport header. */
const MAX_IPV6_EXTENSION_HEADERS = 8;

const VXLAN_HEADER_BYTES = 8;
const ETHERNET_HEADER_BYTES = 14;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

/** Fragment state of the innermost IP packet. */
export const FRAGMENT_NONE = 0;
export const FRAGMENT_FIRST = 1;
export const FRAGMENT_LATER = 2;

/** The decoded view of one frame; one instance is reused for every packet. */
export class DecodedPacket {
  /** 0 when no IP layer was decoded (ARP, other ethertypes, malformed), else 4 or 6 (innermost layer). */
  ipVersion = 0;
  /** Addresses as 32-bit words; IPv4 uses word 0 only. */
  src0 = 0;
  src1 = 0;
  src2 = 0;
  src3 = 0;
  dst0 = 0;
  dst1 = 0;
  dst2 = 0;
  dst3 = 0;
  proto = 0;
  /** IP total length (v4) or 40 + payload length (v6) of the innermost packet. */
  ipLength = 0;
  fragment = FRAGMENT_NONE;
  /** Ports are valid when `hasPorts` (TCP/UDP with the first 4 bytes captured). */
  hasPorts = false;
  sport = 0;
  dport = 0;
  /** TCP fields are valid when `hasTcpFlags`. */
  hasTcpFlags = false;
  tcpFlags = 0;
  seq = 0;
  ack = 0;
  window = 0;
  /** Transport payload bytes on the wire (from the IP lengths, not the snap length): TCP data or UDP payload. */
  payloadLength = 0;
  /** ICMP/ICMPv6 fields valid when `hasIcmp`; id/seq only when `hasIcmpEcho`. */
  hasIcmp = false;
  icmpType = 0;
  icmpCode = 0;
  hasIcmpEcho = false;
  icmpId = 0;
  icmpSeq = 0;
  /** The transport header was not fully captured. */
  transportTruncated = false;
  /**
   * BAD_* bits for checksums that were verified and did not match. A UDP checksum is verified only when the whole
   * datagram was captured and the sender filled one in (0 means "none" over IPv4). Captured on the sending host, an
   * offloaded checksum is not yet computed and reads as bad here too (tcpdump -v says "bad udp cksum" for the same).
   */
  badChecksums = 0;
  /** UDP datagrams whose checksum was verified (good or bad) in this frame. */
  udpChecksumsVerified = 0;

  /** Outermost tunnel, if any. */
  tunnel = TUNNEL_NONE;
  outerVersion = 0;
  outerSrc0 = 0;
  outerSrc1 = 0;
  outerSrc2 = 0;
  outerSrc3 = 0;
  outerDst0 = 0;
  outerDst1 = 0;
  outerDst2 = 0;
  outerDst3 = 0;
  /** VXLAN: the outer UDP ports and the VNI. */
  outerSport = 0;
  outerDport = 0;
  vni = 0;
  vxlanFlags = 0;

  /** When no IP was found: the innermost ethertype (ARP = 0x0806 …; 0 for unknown link types) and where it starts. */
  etherType = 0;
  l3Offset = 0;
  /** First problem met, as a fixed phrase (no string is built per packet), with byte counts when they apply. */
  problem: string | null = null;
  problemHave = -1;
  problemNeed = -1;

  /** Checksum arithmetic; summed where the bytes lie when they are in its memory (file chunks), else copied first. */
  readonly sums: OnesSum;

  constructor(sums: OnesSum = defaultOnesSum()) {
    this.sums = sums;
  }

  /** Frame bounds, so TSO/GSO frames (IP length 0) can fall back to the wire length. */
  frameStart = 0;
  frameEnd = 0;
  originalLength = 0;

  reset(frameStart: number, frameEnd: number, originalLength: number): void {
    this.ipVersion = 0;
    this.proto = 0;
    this.fragment = FRAGMENT_NONE;
    this.hasPorts = false;
    this.sport = 0;
    this.dport = 0;
    this.hasTcpFlags = false;
    this.payloadLength = 0;
    this.hasIcmp = false;
    this.hasIcmpEcho = false;
    this.transportTruncated = false;
    this.badChecksums = 0;
    this.udpChecksumsVerified = 0;
    this.tunnel = TUNNEL_NONE;
    this.etherType = 0;
    this.l3Offset = 0;
    this.problem = null;
    this.problemHave = -1;
    this.problemNeed = -1;
    this.frameStart = frameStart;
    this.frameEnd = frameEnd;
    this.originalLength = originalLength;
  }
}

/** 65536 flags, one per UDP port: which destination (or source) ports carry VXLAN. */
export function vxlanPortTable(ports: readonly number[]): Uint8Array {
  const table = new Uint8Array(65536);
  for (const p of ports) if (Number.isInteger(p) && p > 0 && p < 65536) table[p] = 1;
  return table;
}

function u16(b: Buffer, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function u32(b: Buffer, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Folds a sum of fewer than 2^16 sixteen-bit words (every caller's) to 16 bits with end-around carry. */
function fold(sum: number): number {
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum & 0xffff) + (sum >>> 16);
}

/** A UDP datagram at `off` (udpLength bytes, all captured) checked against the IP pseudo-header (RFC 768 / RFC 8200 §8.1). */
function udpChecksumOk(b: Buffer, off: number, udpLength: number, p: DecodedPacket): boolean {
  let sum = 17 + udpLength;
  if (p.ipVersion === 4) {
    sum += (p.src0 >>> 16) + (p.src0 & 0xffff) + (p.dst0 >>> 16) + (p.dst0 & 0xffff);
  } else {
    for (const w of [p.src0, p.src1, p.src2, p.src3, p.dst0, p.dst1, p.dst2, p.dst3]) sum += (w >>> 16) + (w & 0xffff);
  }
  return fold(sum + p.sums.sum(b, off, off + udpLength)) === 0xffff;
}

function truncated(p: DecodedPacket, what: string, have: number, need: number): void {
  if (p.problem === null) {
    p.problem = what;
    p.problemHave = have;
    p.problemNeed = need;
  }
}

/** Decodes `buf[start, start + capturedLength)` captured with `linkType` into `p`. */
export function decodeFrame(
  buf: Buffer,
  start: number,
  capturedLength: number,
  originalLength: number,
  linkType: number,
  vxlanPorts: Uint8Array,
  p: DecodedPacket,
): void {
  const end = start + capturedLength;
  p.reset(start, end, originalLength);
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      decodeEthernet(buf, start, end, vxlanPorts, p, 0);
      return;
    case LINKTYPE_LINUX_SLL:
      // struct sll_header: packet type, ARPHRD, address length, 8 address bytes, protocol (pcap-linktype docs).
      if (capturedLength < 16) return truncated(p, 'truncated Linux cooked (SLL) header', capturedLength, 16);
      decodeL3(u16(buf, start + 14), buf, start + 16, end, vxlanPorts, p, 0);
      return;
    case LINKTYPE_LINUX_SLL2:
      // struct sll2_header: protocol first, then reserved, ifindex, ARPHRD, packet type, address length, 8 address bytes.
      if (capturedLength < 20) return truncated(p, 'truncated Linux cooked v2 (SLL2) header', capturedLength, 20);
      decodeL3(u16(buf, start), buf, start + 20, end, vxlanPorts, p, 0);
      return;
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_12:
    case LINKTYPE_RAW_14:
      if (capturedLength < 1) return truncated(p, 'empty raw IP packet', 0, 1);
      decodeL3(buf[start]! >> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4, buf, start, end, vxlanPorts, p, 0);
      return;
    case LINKTYPE_IPV4:
      decodeIpv4(buf, start, end, vxlanPorts, p, 0);
      return;
    case LINKTYPE_IPV6:
      decodeIpv6(buf, start, end, vxlanPorts, p, 0);
      return;
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: {
      if (capturedLength < 4) return truncated(p, 'truncated loopback header', capturedLength, 4);
      // NULL: address family in the capturing host's byte order; LOOP: network order. Families are small numbers.
      const family = linkType === LINKTYPE_LOOP || buf[start] === 0 ? u32(buf, start) : buf.readUInt32LE(start);
      // AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
      const type =
        family === 2
          ? ETHERTYPE_IPV4
          : family === 10 || family === 24 || family === 28 || family === 30
            ? ETHERTYPE_IPV6
            : 0;
      decodeL3(type, buf, start + 4, end, vxlanPorts, p, 0);
      return;
    }
    default:
      p.problem = 'unsupported link type';
      p.problemHave = linkType;
  }
}

function decodeEthernet(
  buf: Buffer,
  off: number,
  end: number,
  ports: Uint8Array,
  p: DecodedPacket,
  depth: number,
): void {
  if (end - off < ETHERNET_HEADER_BYTES)
    return truncated(p, 'truncated Ethernet header', end - off, ETHERNET_HEADER_BYTES);
  let type = u16(buf, off + 12);
  let pos = off + ETHERNET_HEADER_BYTES;
  for (let tags = 0; (type === 0x8100 || type === 0x88a8 || type === 0x9100) && tags < MAX_VLAN_TAGS; tags++) {
    if (end - pos < 4) return truncated(p, 'truncated 802.1Q VLAN tag', end - pos, 4);
    type = u16(buf, pos + 2);
    pos += 4;
  }
  decodeL3(type, buf, pos, end, ports, p, depth);
}

function decodeL3(
  type: number,
  buf: Buffer,
  off: number,
  end: number,
  ports: Uint8Array,
  p: DecodedPacket,
  depth: number,
): void {
  if (type === ETHERTYPE_IPV4) decodeIpv4(buf, off, end, ports, p, depth);
  else if (type === ETHERTYPE_IPV6) decodeIpv6(buf, off, end, ports, p, depth);
  else {
    p.etherType = type;
    p.l3Offset = off;
  }
}

/**
 * The current (IP) layer becomes the tunnel's outer header, unless an outer one is already kept; returns whether
 * this tunnel is the outermost one.
 */
function enterTunnel(p: DecodedPacket, kind: number): boolean {
  const outermost = p.tunnel === TUNNEL_NONE;
  if (outermost) {
    p.tunnel = kind;
    p.outerVersion = p.ipVersion;
    p.outerSrc0 = p.src0;
    p.outerSrc1 = p.src1;
    p.outerSrc2 = p.src2;
    p.outerSrc3 = p.src3;
    p.outerDst0 = p.dst0;
    p.outerDst1 = p.dst1;
    p.outerDst2 = p.dst2;
    p.outerDst3 = p.dst3;
    p.outerSport = p.sport;
    p.outerDport = p.dport;
  }
  p.ipVersion = 0;
  p.proto = 0;
  p.hasPorts = false;
  p.sport = 0;
  p.dport = 0;
  p.payloadLength = 0;
  return outermost;
}

function decodeIpv4(buf: Buffer, off: number, end: number, ports: Uint8Array, p: DecodedPacket, depth: number): void {
  const have = end - off;
  if (have < 20) return truncated(p, 'truncated IPv4 header', have, 20);
  const vihl = buf[off]!;
  if (vihl >> 4 !== 4) {
    p.problem = 'IP version is not 4 in an IPv4 header';
    p.problemHave = vihl >> 4;
    return;
  }
  const ihl = (vihl & 15) * 4;
  if (ihl < 20) {
    p.problem = 'IPv4 header length below 20';
    p.problemHave = ihl;
    return;
  }
  if (have < ihl) return truncated(p, 'truncated IPv4 options', have, ihl);
  const proto = buf[off + 9]!;
  const totalField = u16(buf, off + 2);
  let total = totalField;
  if (total === 0 && proto === PROTO_TCP) {
    // TCP segmentation offload: the kernel hands the capture a super-frame with total length 0 (tcpdump: "presumed TSO").
    total = p.originalLength - (off - p.frameStart);
  }
  if (total < ihl) {
    p.problem = 'IPv4 total length below the header length';
    p.problemHave = total;
    return;
  }
  const fragField = u16(buf, off + 6);
  const fragOffset = fragField & 0x1fff;
  p.fragment = fragOffset !== 0 ? FRAGMENT_LATER : fragField & 0x2000 ? FRAGMENT_FIRST : FRAGMENT_NONE;
  p.ipVersion = 4;
  p.src0 = u32(buf, off + 12);
  p.src1 = 0;
  p.src2 = 0;
  p.src3 = 0;
  p.dst0 = u32(buf, off + 16);
  p.dst1 = 0;
  p.dst2 = 0;
  p.dst3 = 0;
  p.proto = proto;
  p.ipLength = total;
  // The usual 20-byte header summed inline from the fields already read (this runs for every IPv4 packet,
  // tunnelled ones twice); the length and flags words as written, before any TSO fix-up.
  const headerSum =
    ihl === 20
      ? vihl * 256 +
        buf[off + 1]! +
        totalField +
        u16(buf, off + 4) +
        fragField +
        u16(buf, off + 8) +
        u16(buf, off + 10) +
        (p.src0 >>> 16) +
        (p.src0 & 0xffff) +
        (p.dst0 >>> 16) +
        (p.dst0 & 0xffff)
      : p.sums.sum(buf, off, off + ihl);
  if (fold(headerSum) !== 0xffff) p.badChecksums |= BAD_IPV4_HEADER_CHECKSUM;
  if (p.fragment === FRAGMENT_LATER) return;
  const l4 = off + ihl;
  const l4End = Math.min(end, off + total);
  decodeTransport(proto, buf, l4, l4End, total - ihl, ports, p, depth);
}

function isIpv6ExtensionHeader(nh: number): boolean {
  // Hop-by-hop, routing, destination options, mobility, HIP, shim6 (RFC 8200 §4 and the IANA list).
  return nh === 0 || nh === 43 || nh === 60 || nh === 135 || nh === 139 || nh === 140;
}

function decodeIpv6(buf: Buffer, off: number, end: number, ports: Uint8Array, p: DecodedPacket, depth: number): void {
  const have = end - off;
  if (have < 40) return truncated(p, 'truncated IPv6 header', have, 40);
  if (buf[off]! >> 4 !== 6) {
    p.problem = 'IP version is not 6 in an IPv6 header';
    p.problemHave = buf[off]! >> 4;
    return;
  }
  let payload = u16(buf, off + 4);
  // Payload length 0: a jumbogram or a GSO super-frame; take the wire length.
  if (payload === 0) payload = Math.max(0, p.originalLength - (off - p.frameStart) - 40);
  p.ipVersion = 6;
  p.src0 = u32(buf, off + 8);
  p.src1 = u32(buf, off + 12);
  p.src2 = u32(buf, off + 16);
  p.src3 = u32(buf, off + 20);
  p.dst0 = u32(buf, off + 24);
  p.dst1 = u32(buf, off + 28);
  p.dst2 = u32(buf, off + 32);
  p.dst3 = u32(buf, off + 36);
  p.ipLength = 40 + payload;
  const ipEnd = off + 40 + payload;
  const capEnd = Math.min(end, ipEnd);
  let nh = buf[off + 6]!;
  let pos = off + 40;
  for (let i = 0; i < MAX_IPV6_EXTENSION_HEADERS; i++) {
    if (nh === 44) {
      if (capEnd - pos < 8) {
        p.proto = nh;
        return truncated(p, 'truncated IPv6 fragment header', capEnd - pos, 8);
      }
      const field = u16(buf, pos + 2);
      nh = buf[pos]!;
      pos += 8;
      if (field >> 3 !== 0) {
        p.fragment = FRAGMENT_LATER;
        p.proto = nh;
        return;
      }
      if (field & 1) p.fragment = FRAGMENT_FIRST;
    } else if (isIpv6ExtensionHeader(nh) || nh === 51) {
      if (capEnd - pos < 2) {
        p.proto = nh;
        return truncated(p, 'truncated IPv6 extension header', capEnd - pos, 2);
      }
      const len = nh === 51 ? (buf[pos + 1]! + 2) * 4 : (buf[pos + 1]! + 1) * 8;
      nh = buf[pos]!;
      pos += len;
    } else break;
  }
  p.proto = nh;
  if (pos > capEnd) return truncated(p, 'truncated IPv6 extension headers', capEnd - off, pos - off);
  decodeTransport(nh, buf, pos, capEnd, ipEnd - pos, ports, p, depth);
}

/** `end` is where captured transport bytes stop; `wireLength` is the transport length the IP header declares. */
function decodeTransport(
  proto: number,
  buf: Buffer,
  off: number,
  end: number,
  wireLength: number,
  ports: Uint8Array,
  p: DecodedPacket,
  depth: number,
): void {
  const have = end - off;
  switch (proto) {
    case PROTO_TCP: {
      if (have < 4) {
        p.transportTruncated = true;
        return;
      }
      p.hasPorts = true;
      p.sport = u16(buf, off);
      p.dport = u16(buf, off + 2);
      if (have < 16) {
        p.transportTruncated = true;
        return;
      }
      p.hasTcpFlags = true;
      p.seq = u32(buf, off + 4);
      p.ack = u32(buf, off + 8);
      p.tcpFlags = buf[off + 13]!;
      p.window = u16(buf, off + 14);
      const dataOffset = (buf[off + 12]! >> 4) * 4;
      p.payloadLength = wireLength > dataOffset ? wireLength - dataOffset : 0;
      p.transportTruncated = have < 20 || have < dataOffset;
      return;
    }
    case PROTO_UDP: {
      if (have < 4) {
        p.transportTruncated = true;
        return;
      }
      p.hasPorts = true;
      const sport = u16(buf, off);
      const dport = u16(buf, off + 2);
      p.sport = sport;
      p.dport = dport;
      p.payloadLength = wireLength > 8 ? wireLength - 8 : 0;
      if (have < 8) {
        p.transportTruncated = true;
        return;
      }
      const udpLength = u16(buf, off + 4);
      // Only a whole, unfragmented datagram can be checked; IPv4's checksum 0 means the sender computed none.
      if (
        udpLength >= 8 &&
        have >= udpLength &&
        p.fragment === FRAGMENT_NONE &&
        (u16(buf, off + 6) !== 0 || p.ipVersion === 6)
      ) {
        p.udpChecksumsVerified++;
        if (!udpChecksumOk(buf, off, udpLength, p)) p.badChecksums |= BAD_UDP_CHECKSUM;
      }
      const vx = off + 8;
      if (
        depth < MAX_ENCAPSULATION_DEPTH &&
        (ports[dport] === 1 || ports[sport] === 1) &&
        end - vx >= VXLAN_HEADER_BYTES + ETHERNET_HEADER_BYTES &&
        (buf[vx]! & 0x08) !== 0
      ) {
        // RFC 7348: flags byte with the I bit (0x08), 24 reserved bits, 24-bit VNI, 8 reserved bits; then Ethernet.
        if (enterTunnel(p, TUNNEL_VXLAN)) {
          p.vni = (buf[vx + 4]! << 16) | (buf[vx + 5]! << 8) | buf[vx + 6]!;
          p.vxlanFlags = buf[vx]!;
        }
        decodeEthernet(buf, vx + VXLAN_HEADER_BYTES, end, ports, p, depth + 1);
      }
      return;
    }
    case PROTO_ICMP:
    case PROTO_ICMPV6: {
      if (have < 2) {
        p.transportTruncated = true;
        return;
      }
      p.hasIcmp = true;
      p.icmpType = buf[off]!;
      p.icmpCode = buf[off + 1]!;
      p.payloadLength = wireLength;
      const t = p.icmpType;
      const echo = proto === PROTO_ICMP ? t === 0 || t === 8 : t === 128 || t === 129;
      if (echo && have >= 8) {
        p.hasIcmpEcho = true;
        p.icmpId = u16(buf, off + 4);
        p.icmpSeq = u16(buf, off + 6);
      }
      return;
    }
    case PROTO_IPIP:
    case PROTO_IPV6:
      if (depth < MAX_ENCAPSULATION_DEPTH && p.fragment === FRAGMENT_NONE) {
        enterTunnel(p, TUNNEL_IPIP);
        if (proto === PROTO_IPIP) decodeIpv4(buf, off, end, ports, p, depth + 1);
        else decodeIpv6(buf, off, end, ports, p, depth + 1);
      }
      return;
    default:
      p.payloadLength = wireLength;
  }
}
