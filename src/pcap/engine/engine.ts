// AssemblyScript, not Node TypeScript: compiled to engine.wasm by `npm run build:wasm` (scripts/build-wasm.ts); a
// unit test fails when the committed .wasm is not the build of this file.
//
// The capture engine: decodes each captured frame and counts it into the summary (packets, flows by direction-
// normalised inner 5-tuple with their TCP state, checksums, the outer tunnel header), in WebAssembly so a packet
// costs tens of nanoseconds. It works on the memory it imports: frames are decoded where they lie (the capture file
// is read straight into the room at the end of it) and every result is left there for capture-engine.ts to read.
//
// Link types: Ethernet (802.1Q/802.1ad tags), Linux cooked v1 and v2, raw IP, IPv4, IPv6, BSD null and OpenBSD loop.
// Network: IPv4 (options, fragments) and IPv6 (extension headers skipped). Tunnels: IP-in-IP (IPv4/IPv6 protocol 4
// and 41) and VXLAN on a configurable UDP port set; the outermost tunnel's outer header is kept next to the innermost
// packet. Transport: TCP, UDP, ICMP, ICMPv6.
import {
  BAD_IPV4_HEADER_CHECKSUM,
  BAD_UDP_CHECKSUM,
  COUNTERS,
  C_BAD_IP,
  C_BAD_UDP,
  C_BYTES,
  C_FIRST_NSEC,
  C_FIRST_SEC,
  C_FLOWS,
  C_LAST_NSEC,
  C_LAST_SEC,
  C_MALFORMED,
  C_NON_IP,
  C_OTHER_BYTES,
  C_OTHER_PACKETS,
  C_PACKETS,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  FLOW_BYTES,
  FLOW_KEYS,
  FLOW_RECORDS,
  FLOW_SLOTS,
  FRAGMENT_FIRST,
  FRAGMENT_LATER,
  FRAGMENT_NONE,
  KEY_WORDS,
  LINKTYPE_ETHERNET,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP,
  LINKTYPE_NULL,
  LINKTYPE_RAW,
  LINKTYPE_RAW_12,
  LINKTYPE_RAW_14,
  MAX_CAPTURED_LENGTH,
  MAX_FLOWS,
  PACKET,
  PROBLEM_EMPTY_RAW,
  PROBLEM_ETHERNET,
  PROBLEM_IPV4_HEADER,
  PROBLEM_IPV4_IHL,
  PROBLEM_IPV4_OPTIONS,
  PROBLEM_IPV4_TOTAL,
  PROBLEM_IPV4_VERSION,
  PROBLEM_IPV6_EXTENSION,
  PROBLEM_IPV6_EXTENSIONS,
  PROBLEM_IPV6_FRAGMENT,
  PROBLEM_IPV6_HEADER,
  PROBLEM_IPV6_VERSION,
  PROBLEM_LINK_TYPE,
  PROBLEM_LOOPBACK,
  PROBLEM_NONE,
  PROBLEM_SLL,
  PROBLEM_SLL2,
  PROBLEM_VLAN,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_IPIP,
  PROTO_IPV6,
  PROTO_TCP,
  PROTO_UDP,
  P_ACK,
  P_BAD_CHECKSUMS,
  P_CAPTURED_LENGTH,
  P_DPORT,
  P_DST,
  P_ETHER_TYPE,
  P_FRAGMENT,
  P_HAS_ICMP,
  P_HAS_ICMP_ECHO,
  P_HAS_PORTS,
  P_HAS_TCP_FLAGS,
  P_ICMP_CODE,
  P_ICMP_ID,
  P_ICMP_SEQ,
  P_ICMP_TYPE,
  P_IP_LENGTH,
  P_IP_VERSION,
  P_L3_OFFSET,
  P_ORIGINAL_LENGTH,
  P_OUTER_DPORT,
  P_OUTER_DST,
  P_OUTER_SPORT,
  P_OUTER_SRC,
  P_OUTER_VERSION,
  P_PAYLOAD_LENGTH,
  P_PROBLEM,
  P_PROBLEM_HAVE,
  P_PROBLEM_NEED,
  P_PROTO,
  P_SEQ,
  P_SPORT,
  P_SRC,
  P_TCP_FLAGS,
  P_TRANSPORT_TRUNCATED,
  P_TUNNEL,
  P_UDP_CHECKSUMS_VERIFIED,
  P_VNI,
  P_VXLAN_FLAGS,
  P_WINDOW,
  R_BYTES,
  R_FIRST_NSEC,
  R_FIRST_SEC,
  R_FLAGS_SEEN,
  R_FRAGMENTS,
  R_HANDSHAKE_COMPLETE,
  R_INITIATOR,
  R_INITIATOR_FROM_SYN,
  R_LAST_NSEC,
  R_LAST_SEC,
  R_MAX_END0,
  R_MAX_END1,
  R_OUTER_DST,
  R_OUTER_SRC,
  R_OUTER_VERSION,
  R_PACKETS,
  R_PACKETS_SIDE0,
  R_PACKETS_SIDE1,
  R_RESETS,
  R_RETRANSMISSIONS,
  R_SEQ_SEEN,
  R_SYN_ACK_FROM,
  R_SYN_FROM,
  R_TUNNEL,
  R_TUNNEL_SIDE,
  R_VNI,
  SEEN_ACK,
  SEEN_CWR,
  SEEN_ECE,
  SEEN_FIN,
  SEEN_PSH,
  SEEN_RST,
  SEEN_SYN,
  SEEN_SYN_ACK,
  SEEN_URG,
  SLOT_COUNT,
  TCP_ACK,
  TCP_CWR,
  TCP_ECE,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
  TUNNEL_IPIP,
  TUNNEL_NONE,
  TUNNEL_VXLAN,
  VXLAN_PORTS,
} from './constants';

/** Tunnels inside tunnels are followed this deep; Calico uses one level, a second covers VXLAN over IPIP oddities. */
const MAX_ENCAPSULATION_DEPTH = 2;
/** VLAN tags followed on one frame (802.1Q, QinQ 802.1ad and the old 0x9100): real frames carry at most two. */
const MAX_VLAN_TAGS = 4;
/** IPv6 extension headers followed before giving up on finding the transport header. */
const MAX_IPV6_EXTENSION_HEADERS = 8;
const VXLAN_HEADER_BYTES = 8;
const ETHERNET_HEADER_BYTES = 14;
const PCAP_RECORD_HEADER_BYTES: usize = 16;

// ---- memory access -------------------------------------------------------------------------------------------

@inline function u8at(a: usize): u32 {
  return <u32>load<u8>(a);
}

@inline function u16be(a: usize): u32 {
  return <u32>bswap<u16>(load<u16>(a));
}

@inline function u32be(a: usize): u32 {
  return bswap<u32>(load<u32>(a));
}

@inline function getP(field: i32): u32 {
  return load<u32>(<usize>(PACKET + field * 4));
}

@inline function setP(field: i32, value: u32): void {
  store<u32>(<usize>(PACKET + field * 4), value);
}

@inline function counter(slot: i32): f64 {
  return load<f64>(<usize>(COUNTERS + slot * 8));
}

@inline function setCounter(slot: i32, value: f64): void {
  store<f64>(<usize>(COUNTERS + slot * 8), value);
}

@inline function bump(slot: i32, by: f64): void {
  setCounter(slot, counter(slot) + by);
}

// ---- RFC 1071 sums -------------------------------------------------------------------------------------------

/**
 * The one's-complement sum of the little-endian 16-bit words of memory[from, to) (a last odd byte as the low byte),
 * folded to 16 bits, 32 bytes a step with SIMD. Byte order commutes with the sum (RFC 1071 §2(B)), so one swap of
 * the result gives the big-endian sum. Each i32 lane gains at most 2 × 65535 a step: exact up to 512 KiB, and no
 * range summed here is longer than a frame (MAX_CAPTURED_LENGTH).
 */
function sumLittleEndian(from: usize, to: usize): u32 {
  let i = from;
  let a = i32x4.splat(0);
  let b = i32x4.splat(0);
  while (i + 32 <= to) {
    a = i32x4.add(a, i32x4.extadd_pairwise_i16x8_u(v128.load(i)));
    b = i32x4.add(b, i32x4.extadd_pairwise_i16x8_u(v128.load(i, 16)));
    i += 32;
  }
  if (i + 16 <= to) {
    a = i32x4.add(a, i32x4.extadd_pairwise_i16x8_u(v128.load(i)));
    i += 16;
  }
  a = i32x4.add(a, b);
  // Four lanes below 2^31 each: their total needs 64 bits.
  let s: u64 =
    <u64>(<u32>i32x4.extract_lane(a, 0)) +
    <u64>(<u32>i32x4.extract_lane(a, 1)) +
    <u64>(<u32>i32x4.extract_lane(a, 2)) +
    <u64>(<u32>i32x4.extract_lane(a, 3));
  while (i + 2 <= to) {
    s += <u64>load<u16>(i);
    i += 2;
  }
  if (i < to) s += <u64>load<u8>(i);
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return <u32>s;
}

/** The RFC 1071 sum of the big-endian 16-bit words of memory[from, to), folded: 0..0xffff. */
export function onesSum(from: usize, to: usize): u32 {
  const sum = sumLittleEndian(from, to);
  return ((sum & 0xff) << 8) | (sum >> 8);
}

/** Folds a sum of fewer than 2^16 sixteen-bit words to 16 bits with end-around carry. */
@inline function fold(sum: u32): u32 {
  sum = (sum & 0xffff) + (sum >> 16);
  return (sum & 0xffff) + (sum >> 16);
}

// ---- decoding ------------------------------------------------------------------------------------------------

/** Where the frame being decoded starts, and its original (wire) length, for TSO/GSO frames (IP length 0). */
let frameStart: usize = 0;
let originalLength: u32 = 0;

function problem(code: i32, have: i32, need: i32): void {
  if (getP(P_PROBLEM) !== PROBLEM_NONE) return;
  setP(P_PROBLEM, code);
  setP(P_PROBLEM_HAVE, have);
  setP(P_PROBLEM_NEED, need);
}

function resetPacket(capturedLength: u32): void {
  setP(P_IP_VERSION, 0);
  setP(P_PROTO, 0);
  setP(P_FRAGMENT, FRAGMENT_NONE);
  setP(P_HAS_PORTS, 0);
  setP(P_SPORT, 0);
  setP(P_DPORT, 0);
  setP(P_HAS_TCP_FLAGS, 0);
  setP(P_PAYLOAD_LENGTH, 0);
  setP(P_HAS_ICMP, 0);
  setP(P_HAS_ICMP_ECHO, 0);
  setP(P_TRANSPORT_TRUNCATED, 0);
  setP(P_BAD_CHECKSUMS, 0);
  setP(P_UDP_CHECKSUMS_VERIFIED, 0);
  setP(P_TUNNEL, TUNNEL_NONE);
  setP(P_ETHER_TYPE, 0);
  setP(P_L3_OFFSET, 0);
  setP(P_PROBLEM, PROBLEM_NONE);
  setP(P_PROBLEM_HAVE, -1);
  setP(P_PROBLEM_NEED, -1);
  setP(P_CAPTURED_LENGTH, capturedLength);
  setP(P_ORIGINAL_LENGTH, originalLength);
}

/** Decodes the frame at memory[start, start + capturedLength) captured with `linkType` into the packet fields. */
export function decode(start: usize, capturedLength: u32, wireLength: u32, linkType: u32): void {
  frameStart = start;
  originalLength = wireLength;
  resetPacket(capturedLength);
  const end = start + <usize>capturedLength;
  const have = <i32>capturedLength;
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      decodeEthernet(start, end, 0);
      return;
    case LINKTYPE_LINUX_SLL:
      // struct sll_header: packet type, ARPHRD, address length, 8 address bytes, protocol (pcap-linktype docs).
      if (have < 16) return problem(PROBLEM_SLL, have, 16);
      decodeL3(u16be(start + 14), start + 16, end, 0);
      return;
    case LINKTYPE_LINUX_SLL2:
      // struct sll2_header: protocol first, then reserved, ifindex, ARPHRD, packet type, address length, 8 address bytes.
      if (have < 20) return problem(PROBLEM_SLL2, have, 20);
      decodeL3(u16be(start), start + 20, end, 0);
      return;
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_12:
    case LINKTYPE_RAW_14:
      if (have < 1) return problem(PROBLEM_EMPTY_RAW, 0, 1);
      decodeL3(u8at(start) >> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4, start, end, 0);
      return;
    case LINKTYPE_IPV4:
      decodeIpv4(start, end, 0);
      return;
    case LINKTYPE_IPV6:
      decodeIpv6(start, end, 0);
      return;
    case LINKTYPE_NULL:
    case LINKTYPE_LOOP: {
      if (have < 4) return problem(PROBLEM_LOOPBACK, have, 4);
      // NULL: address family in the capturing host's byte order; LOOP: network order. Families are small numbers.
      const family = linkType === LINKTYPE_LOOP || u8at(start) === 0 ? u32be(start) : load<u32>(start);
      // AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
      let type: u32 = 0;
      if (family === 2) type = ETHERTYPE_IPV4;
      else if (family === 10 || family === 24 || family === 28 || family === 30) type = ETHERTYPE_IPV6;
      decodeL3(type, start + 4, end, 0);
      return;
    }
    default:
      setP(P_PROBLEM, PROBLEM_LINK_TYPE);
      setP(P_PROBLEM_HAVE, linkType);
  }
}

function decodeEthernet(off: usize, end: usize, depth: i32): void {
  if (<i32>(end - off) < ETHERNET_HEADER_BYTES)
    return problem(PROBLEM_ETHERNET, <i32>(end - off), ETHERNET_HEADER_BYTES);
  let type = u16be(off + 12);
  let pos = off + ETHERNET_HEADER_BYTES;
  for (let tags = 0; (type === 0x8100 || type === 0x88a8 || type === 0x9100) && tags < MAX_VLAN_TAGS; tags++) {
    if (<i32>(end - pos) < 4) return problem(PROBLEM_VLAN, <i32>(end - pos), 4);
    type = u16be(pos + 2);
    pos += 4;
  }
  decodeL3(type, pos, end, depth);
}

function decodeL3(type: u32, off: usize, end: usize, depth: i32): void {
  if (type === ETHERTYPE_IPV4) decodeIpv4(off, end, depth);
  else if (type === ETHERTYPE_IPV6) decodeIpv6(off, end, depth);
  else {
    setP(P_ETHER_TYPE, type);
    setP(P_L3_OFFSET, <u32>(off - frameStart));
  }
}

/**
 * The current (IP) layer becomes the tunnel's outer header, unless an outer one is already kept; returns whether
 * this tunnel is the outermost one.
 */
function enterTunnel(kind: u32): bool {
  const outermost = getP(P_TUNNEL) === TUNNEL_NONE;
  if (outermost) {
    setP(P_TUNNEL, kind);
    setP(P_OUTER_VERSION, getP(P_IP_VERSION));
    for (let w = 0; w < 4; w++) {
      setP(P_OUTER_SRC + w, getP(P_SRC + w));
      setP(P_OUTER_DST + w, getP(P_DST + w));
    }
    setP(P_OUTER_SPORT, getP(P_SPORT));
    setP(P_OUTER_DPORT, getP(P_DPORT));
  }
  setP(P_IP_VERSION, 0);
  setP(P_PROTO, 0);
  setP(P_HAS_PORTS, 0);
  setP(P_SPORT, 0);
  setP(P_DPORT, 0);
  setP(P_PAYLOAD_LENGTH, 0);
  return outermost;
}

function decodeIpv4(off: usize, end: usize, depth: i32): void {
  const have = <i32>(end - off);
  if (have < 20) return problem(PROBLEM_IPV4_HEADER, have, 20);
  const vihl = u8at(off);
  if (vihl >> 4 !== 4) {
    setP(P_PROBLEM, PROBLEM_IPV4_VERSION);
    setP(P_PROBLEM_HAVE, vihl >> 4);
    return;
  }
  const ihl = <i32>(vihl & 15) * 4;
  if (ihl < 20) {
    setP(P_PROBLEM, PROBLEM_IPV4_IHL);
    setP(P_PROBLEM_HAVE, ihl);
    return;
  }
  if (have < ihl) return problem(PROBLEM_IPV4_OPTIONS, have, ihl);
  const proto = u8at(off + 9);
  const totalField = u16be(off + 2);
  let total = <i32>totalField;
  if (total === 0 && proto === PROTO_TCP) {
    // TCP segmentation offload: the kernel hands the capture a super-frame with total length 0 (tcpdump: "presumed TSO").
    total = <i32>originalLength - <i32>(off - frameStart);
  }
  if (total < ihl) {
    setP(P_PROBLEM, PROBLEM_IPV4_TOTAL);
    setP(P_PROBLEM_HAVE, total);
    return;
  }
  const fragField = u16be(off + 6);
  const fragment: u32 =
    (fragField & 0x1fff) !== 0 ? FRAGMENT_LATER : (fragField & 0x2000) !== 0 ? FRAGMENT_FIRST : FRAGMENT_NONE;
  const src = u32be(off + 12);
  const dst = u32be(off + 16);
  setP(P_FRAGMENT, fragment);
  setP(P_IP_VERSION, 4);
  setP(P_SRC, src);
  setP(P_SRC + 1, 0);
  setP(P_SRC + 2, 0);
  setP(P_SRC + 3, 0);
  setP(P_DST, dst);
  setP(P_DST + 1, 0);
  setP(P_DST + 2, 0);
  setP(P_DST + 3, 0);
  setP(P_PROTO, proto);
  setP(P_IP_LENGTH, total);
  // The header checksum: the length and flags words as written, before any TSO fix-up.
  const headerSum =
    ihl === 20
      ? vihl * 256 +
        u8at(off + 1) +
        totalField +
        u16be(off + 4) +
        fragField +
        u16be(off + 8) +
        u16be(off + 10) +
        (src >> 16) +
        (src & 0xffff) +
        (dst >> 16) +
        (dst & 0xffff)
      : onesSum(off, off + <usize>ihl);
  if (fold(headerSum) !== 0xffff) setP(P_BAD_CHECKSUMS, getP(P_BAD_CHECKSUMS) | BAD_IPV4_HEADER_CHECKSUM);
  if (fragment === FRAGMENT_LATER) return;
  const l4 = off + <usize>ihl;
  const ipEnd = off + <usize>total;
  decodeTransport(proto, l4, ipEnd < end ? ipEnd : end, total - ihl, depth);
}

@inline function isIpv6ExtensionHeader(nh: u32): bool {
  // Hop-by-hop, routing, destination options, mobility, HIP, shim6 (RFC 8200 §4 and the IANA list).
  return nh === 0 || nh === 43 || nh === 60 || nh === 135 || nh === 139 || nh === 140;
}

function decodeIpv6(off: usize, end: usize, depth: i32): void {
  const have = <i32>(end - off);
  if (have < 40) return problem(PROBLEM_IPV6_HEADER, have, 40);
  if (u8at(off) >> 4 !== 6) {
    setP(P_PROBLEM, PROBLEM_IPV6_VERSION);
    setP(P_PROBLEM_HAVE, u8at(off) >> 4);
    return;
  }
  let payload = <i32>u16be(off + 4);
  if (payload === 0) {
    // Payload length 0: a jumbogram or a GSO super-frame; take the wire length.
    payload = <i32>originalLength - <i32>(off - frameStart) - 40;
    if (payload < 0) payload = 0;
  }
  setP(P_IP_VERSION, 6);
  for (let w = 0; w < 4; w++) {
    setP(P_SRC + w, u32be(off + 8 + <usize>(w * 4)));
    setP(P_DST + w, u32be(off + 24 + <usize>(w * 4)));
  }
  setP(P_IP_LENGTH, 40 + payload);
  const ipEnd = off + 40 + <usize>payload;
  const capEnd = ipEnd < end ? ipEnd : end;
  let nh = u8at(off + 6);
  let pos = off + 40;
  for (let i = 0; i < MAX_IPV6_EXTENSION_HEADERS; i++) {
    if (nh === 44) {
      if (<i64>capEnd - <i64>pos < 8) {
        setP(P_PROTO, nh);
        return problem(PROBLEM_IPV6_FRAGMENT, <i32>(<i64>capEnd - <i64>pos), 8);
      }
      const field = u16be(pos + 2);
      nh = u8at(pos);
      pos += 8;
      if (field >> 3 !== 0) {
        setP(P_FRAGMENT, FRAGMENT_LATER);
        setP(P_PROTO, nh);
        return;
      }
      if ((field & 1) !== 0) setP(P_FRAGMENT, FRAGMENT_FIRST);
    } else if (isIpv6ExtensionHeader(nh) || nh === 51) {
      if (<i64>capEnd - <i64>pos < 2) {
        setP(P_PROTO, nh);
        return problem(PROBLEM_IPV6_EXTENSION, <i32>(<i64>capEnd - <i64>pos), 2);
      }
      const len = nh === 51 ? (u8at(pos + 1) + 2) * 4 : (u8at(pos + 1) + 1) * 8;
      nh = u8at(pos);
      pos += <usize>len;
    } else break;
  }
  setP(P_PROTO, nh);
  if (pos > capEnd) return problem(PROBLEM_IPV6_EXTENSIONS, <i32>(capEnd - off), <i32>(pos - off));
  decodeTransport(nh, pos, capEnd, <i32>(ipEnd - pos), depth);
}

/** A UDP datagram at `off` (udpLength bytes, all captured) checked against the IP pseudo-header (RFC 768 / RFC 8200 §8.1). */
function udpChecksumOk(off: usize, udpLength: u32): bool {
  let sum: u32 = 17 + udpLength;
  const words = getP(P_IP_VERSION) === 4 ? 1 : 4;
  for (let w = 0; w < words; w++) {
    const s = getP(P_SRC + w);
    const d = getP(P_DST + w);
    sum += (s >> 16) + (s & 0xffff) + (d >> 16) + (d & 0xffff);
  }
  return fold(sum + onesSum(off, off + <usize>udpLength)) === 0xffff;
}

/** `end` is where captured transport bytes stop; `wireLength` is the transport length the IP header declares. */
function decodeTransport(proto: u32, off: usize, end: usize, wireLength: i32, depth: i32): void {
  // end < off when the IP lengths say less than the headers took (signed, as the lengths are).
  const have = <i32>(<i64>end - <i64>off);
  switch (proto) {
    case PROTO_TCP: {
      if (have < 4) {
        setP(P_TRANSPORT_TRUNCATED, 1);
        return;
      }
      setP(P_HAS_PORTS, 1);
      setP(P_SPORT, u16be(off));
      setP(P_DPORT, u16be(off + 2));
      if (have < 16) {
        setP(P_TRANSPORT_TRUNCATED, 1);
        return;
      }
      setP(P_HAS_TCP_FLAGS, 1);
      setP(P_SEQ, u32be(off + 4));
      setP(P_ACK, u32be(off + 8));
      setP(P_TCP_FLAGS, u8at(off + 13));
      setP(P_WINDOW, u16be(off + 14));
      const dataOffset = <i32>(u8at(off + 12) >> 4) * 4;
      setP(P_PAYLOAD_LENGTH, wireLength > dataOffset ? wireLength - dataOffset : 0);
      setP(P_TRANSPORT_TRUNCATED, have < 20 || have < dataOffset ? 1 : 0);
      return;
    }
    case PROTO_UDP: {
      if (have < 4) {
        setP(P_TRANSPORT_TRUNCATED, 1);
        return;
      }
      setP(P_HAS_PORTS, 1);
      const sport = u16be(off);
      const dport = u16be(off + 2);
      setP(P_SPORT, sport);
      setP(P_DPORT, dport);
      setP(P_PAYLOAD_LENGTH, wireLength > 8 ? wireLength - 8 : 0);
      if (have < 8) {
        setP(P_TRANSPORT_TRUNCATED, 1);
        return;
      }
      const udpLength = u16be(off + 4);
      // Only a whole, unfragmented datagram can be checked; IPv4's checksum 0 means the sender computed none.
      if (
        udpLength >= 8 &&
        <u32>have >= udpLength &&
        getP(P_FRAGMENT) === FRAGMENT_NONE &&
        (u16be(off + 6) !== 0 || getP(P_IP_VERSION) === 6)
      ) {
        setP(P_UDP_CHECKSUMS_VERIFIED, getP(P_UDP_CHECKSUMS_VERIFIED) + 1);
        if (!udpChecksumOk(off, udpLength)) setP(P_BAD_CHECKSUMS, getP(P_BAD_CHECKSUMS) | BAD_UDP_CHECKSUM);
      }
      const vx = off + 8;
      if (
        depth < MAX_ENCAPSULATION_DEPTH &&
        (load<u8>(<usize>VXLAN_PORTS + <usize>dport) === 1 || load<u8>(<usize>VXLAN_PORTS + <usize>sport) === 1) &&
        <i64>end - <i64>vx >= VXLAN_HEADER_BYTES + ETHERNET_HEADER_BYTES &&
        (u8at(vx) & 0x08) !== 0
      ) {
        // RFC 7348: flags byte with the I bit (0x08), 24 reserved bits, 24-bit VNI, 8 reserved bits; then Ethernet.
        if (enterTunnel(TUNNEL_VXLAN)) {
          setP(P_VNI, (u8at(vx + 4) << 16) | (u8at(vx + 5) << 8) | u8at(vx + 6));
          setP(P_VXLAN_FLAGS, u8at(vx));
        }
        decodeEthernet(vx + VXLAN_HEADER_BYTES, end, depth + 1);
      }
      return;
    }
    case PROTO_ICMP:
    case PROTO_ICMPV6: {
      if (have < 2) {
        setP(P_TRANSPORT_TRUNCATED, 1);
        return;
      }
      setP(P_HAS_ICMP, 1);
      const t = u8at(off);
      setP(P_ICMP_TYPE, t);
      setP(P_ICMP_CODE, u8at(off + 1));
      setP(P_PAYLOAD_LENGTH, wireLength);
      const echo = proto === PROTO_ICMP ? t === 0 || t === 8 : t === 128 || t === 129;
      if (echo && have >= 8) {
        setP(P_HAS_ICMP_ECHO, 1);
        setP(P_ICMP_ID, u16be(off + 4));
        setP(P_ICMP_SEQ, u16be(off + 6));
      }
      return;
    }
    case PROTO_IPIP:
    case PROTO_IPV6:
      if (depth < MAX_ENCAPSULATION_DEPTH && getP(P_FRAGMENT) === FRAGMENT_NONE) {
        enterTunnel(TUNNEL_IPIP);
        if (proto === PROTO_IPIP) decodeIpv4(off, end, depth + 1);
        else decodeIpv6(off, end, depth + 1);
      }
      return;
    default:
      setP(P_PAYLOAD_LENGTH, wireLength);
  }
}

// ---- flows ---------------------------------------------------------------------------------------------------

let maxFlows: i32 = MAX_FLOWS;

/** Starts a summary: no packets, no flows, at most `limit` flows kept (the memory is new: every byte is zero). */
export function start(limit: i32): void {
  maxFlows = limit < 0 ? 0 : limit > MAX_FLOWS ? MAX_FLOWS : limit;
  setCounter(C_FIRST_SEC, -1);
}

@inline function mix(h: u32, k: u32): u32 {
  // MurmurHash3 x86_32 body step.
  let x = k * 0xcc9e2d51;
  x = rotl<u32>(x, 15);
  x *= 0x1b873593;
  h ^= x;
  h = rotl<u32>(h, 13);
  return h * 5 + 0xe6546b64;
}

@inline function pair(low: u32, high: u32): u64 {
  return <u64>low | (<u64>high << 32);
}

let created = false;

/**
 * The flow id for the key of words 0–9, given as five little-endian pairs (the table's layout), with its hash `h`;
 * created if new and room is left; -1 when the table is full. The key is never stored to be read back: loading
 * 64 bits over two fresh 32-bit stores defeats the CPU's store forwarding.
 */
function lookup(h: u32, k01: u64, k23: u64, k45: u64, k67: u64, k89: u64): i32 {
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  const mask: u32 = SLOT_COUNT - 1;
  for (let s = h & mask; ; s = (s + 1) & mask) {
    const slot = <usize>FLOW_SLOTS + <usize>(s * 4);
    const entry = load<i32>(slot);
    if (entry === 0) {
      const count = <i32>counter(C_FLOWS);
      if (count >= maxFlows) return -1;
      const at = <usize>FLOW_KEYS + <usize>(count * KEY_WORDS * 4);
      store<u64>(at, k01);
      store<u64>(at, k23, 8);
      store<u64>(at, k45, 16);
      store<u64>(at, k67, 24);
      store<u64>(at, k89, 32);
      store<i32>(slot, count + 1);
      setCounter(C_FLOWS, count + 1);
      created = true;
      return count;
    }
    const at = <usize>FLOW_KEYS + <usize>((entry - 1) * KEY_WORDS * 4);
    if (
      load<u64>(at) === k01 &&
      load<u64>(at, 8) === k23 &&
      load<u64>(at, 16) === k45 &&
      load<u64>(at, 24) === k67 &&
      load<u64>(at, 32) === k89
    ) {
      created = false;
      return entry - 1;
    }
  }
  return -1; // not reached: the table is never full of slots (SLOT_COUNT ≥ 2 × MAX_FLOWS)
}

@inline function getR(flow: usize, field: i32): u32 {
  return load<u32>(flow + <usize>field);
}

@inline function setR(flow: usize, field: i32, value: u32): void {
  store<u32>(flow + <usize>field, value);
}

@inline function addR(flow: usize, field: i32, by: f64): void {
  store<f64>(flow + <usize>field, load<f64>(flow + <usize>field) + by);
}

/** a ≤ b in 32-bit sequence space (RFC 1982 serial arithmetic). */
@inline function seqAtMost(a: u32, b: u32): bool {
  return <i32>(a - b) <= 0;
}

/** Updates the flow with the packet's TCP fields, sent by `side`. */
function countTcp(flow: usize, side: u32): void {
  const f = getP(P_TCP_FLAGS);
  const syn = (f & TCP_SYN) !== 0;
  const bit: u32 = 1 << side;
  let seen = getR(flow, R_FLAGS_SEEN);
  if (syn) {
    if ((f & TCP_ACK) !== 0) {
      seen |= SEEN_SYN_ACK;
      setR(flow, R_SYN_ACK_FROM, getR(flow, R_SYN_ACK_FROM) | bit);
      if (getR(flow, R_INITIATOR_FROM_SYN) === 0) setR(flow, R_INITIATOR, 1 - side);
    } else {
      seen |= SEEN_SYN;
      setR(flow, R_SYN_FROM, getR(flow, R_SYN_FROM) | bit);
      if (getR(flow, R_INITIATOR_FROM_SYN) === 0) {
        setR(flow, R_INITIATOR, side);
        setR(flow, R_INITIATOR_FROM_SYN, 1);
      }
    }
  } else if ((f & TCP_ACK) !== 0) {
    seen |= SEEN_ACK;
    if (
      getR(flow, R_HANDSHAKE_COMPLETE) === 0 &&
      side === getR(flow, R_INITIATOR) &&
      (getR(flow, R_SYN_FROM) & bit) !== 0 &&
      (getR(flow, R_SYN_ACK_FROM) & (1 << (1 - side))) !== 0
    ) {
      setR(flow, R_HANDSHAKE_COMPLETE, 1);
    }
  }
  if ((f & TCP_FIN) !== 0) seen |= SEEN_FIN;
  if ((f & TCP_RST) !== 0) {
    seen |= SEEN_RST;
    addR(flow, R_RESETS, 1);
  }
  if ((f & TCP_PSH) !== 0) seen |= SEEN_PSH;
  if ((f & TCP_URG) !== 0) seen |= SEEN_URG;
  if ((f & TCP_ECE) !== 0) seen |= SEEN_ECE;
  if ((f & TCP_CWR) !== 0) seen |= SEEN_CWR;
  setR(flow, R_FLAGS_SEEN, seen);

  // Retransmission: a segment carrying data or SYN that adds nothing past the highest sequence already sent
  // this way (the same seq+len again, or an older one). Out-of-order arrival is counted too, as with any
  // single-point capture heuristic.
  const seq = getP(P_SEQ);
  const payload = getP(P_PAYLOAD_LENGTH);
  const end = seq + payload + (syn ? 1 : 0) + ((f & TCP_FIN) !== 0 ? 1 : 0);
  const maxEndField = side === 0 ? R_MAX_END0 : R_MAX_END1;
  const seqSeen = getR(flow, R_SEQ_SEEN);
  if ((seqSeen & bit) === 0) {
    setR(flow, R_SEQ_SEEN, seqSeen | bit);
    setR(flow, maxEndField, end);
    return;
  }
  const maxEnd = getR(flow, maxEndField);
  if (seqAtMost(end, maxEnd)) {
    // A keep-alive probe (RFC 9293 §3.8.4: seq = next − 1 with 0 or 1 garbage byte) is not a retransmission.
    const keepAlive = payload <= 1 && !syn && seq + 1 === maxEnd;
    if ((payload > 0 || syn) && !keepAlive) addR(flow, R_RETRANSMISSIONS, 1);
  } else setR(flow, maxEndField, end);
}

/** Counts the decoded (IP) packet into its flow. */
function countFlow(wireLength: f64, sec: f64, nsec: f64): void {
  const hasPorts = getP(P_HAS_PORTS) !== 0;
  const sport = hasPorts ? getP(P_SPORT) : 0;
  const dport = hasPorts ? getP(P_DPORT) : 0;
  const s0 = getP(P_SRC);
  const d0 = getP(P_DST);
  const version = getP(P_IP_VERSION);
  // Side 0 is the lower (address, port); compare word by word.
  let side: u32 = 0;
  if (s0 !== d0) side = s0 > d0 ? 1 : 0;
  else if (version === 4) side = sport > dport ? 1 : 0;
  else {
    const s1 = getP(P_SRC + 1);
    const d1 = getP(P_DST + 1);
    const s2 = getP(P_SRC + 2);
    const d2 = getP(P_DST + 2);
    const s3 = getP(P_SRC + 3);
    const d3 = getP(P_DST + 3);
    if (s1 !== d1) side = s1 > d1 ? 1 : 0;
    else if (s2 !== d2) side = s2 > d2 ? 1 : 0;
    else if (s3 !== d3) side = s3 > d3 ? 1 : 0;
    else side = sport > dport ? 1 : 0;
  }
  const word0 = (version << 8) | getP(P_PROTO);
  const word1 = side === 0 ? (sport << 16) | dport : (dport << 16) | sport;
  // Side 0's address is words 2–5, side 1's words 6–9. IPv4 keys have zeros in the other address words:
  // hashing them would only cost time.
  const a0 = side === 0 ? s0 : d0;
  const b0 = side === 0 ? d0 : s0;
  let h = mix(mix(mix(mix(0, word0), word1), a0), b0);
  let id: i32;
  if (version === 4) id = lookup(h, pair(word0, word1), <u64>a0, 0, <u64>b0, 0);
  else {
    const a = side === 0 ? P_SRC : P_DST;
    const b = side === 0 ? P_DST : P_SRC;
    const a1 = getP(a + 1);
    const a2 = getP(a + 2);
    const a3 = getP(a + 3);
    const b1 = getP(b + 1);
    const b2 = getP(b + 2);
    const b3 = getP(b + 3);
    h = mix(mix(mix(h, a1), a2), a3);
    h = mix(mix(mix(h, b1), b2), b3);
    id = lookup(h, pair(word0, word1), pair(a0, a1), pair(a2, a3), pair(b0, b1), pair(b2, b3));
  }
  if (id < 0) {
    bump(C_OTHER_PACKETS, 1);
    bump(C_OTHER_BYTES, wireLength);
    return;
  }
  const flow = <usize>FLOW_RECORDS + <usize>(id * FLOW_BYTES);
  if (created) {
    setR(flow, R_INITIATOR, side);
    store<f64>(flow + R_FIRST_SEC, sec);
    store<f64>(flow + R_FIRST_NSEC, nsec);
  }
  addR(flow, R_PACKETS, 1);
  addR(flow, R_BYTES, wireLength);
  addR(flow, side === 0 ? R_PACKETS_SIDE0 : R_PACKETS_SIDE1, 1);
  store<f64>(flow + R_LAST_SEC, sec);
  store<f64>(flow + R_LAST_NSEC, nsec);
  if (getP(P_FRAGMENT) !== FRAGMENT_NONE) addR(flow, R_FRAGMENTS, 1);
  const tunnel = getP(P_TUNNEL);
  if (tunnel !== TUNNEL_NONE && getR(flow, R_TUNNEL) === TUNNEL_NONE) {
    setR(flow, R_TUNNEL, tunnel);
    setR(flow, R_TUNNEL_SIDE, side);
    setR(flow, R_OUTER_VERSION, getP(P_OUTER_VERSION));
    for (let w = 0; w < 4; w++) {
      setR(flow, R_OUTER_SRC + w * 4, getP(P_OUTER_SRC + w));
      setR(flow, R_OUTER_DST + w * 4, getP(P_OUTER_DST + w));
    }
    setR(flow, R_VNI, tunnel === TUNNEL_IPIP ? 0 : getP(P_VNI));
  }
  if (getP(P_HAS_TCP_FLAGS) !== 0 && getP(P_PROTO) === PROTO_TCP) countTcp(flow, side);
}

/**
 * One packet record: counts it, decodes the frame at memory[frame, frame + capturedLength) and counts it into its
 * flow. Returns the packet's problem code (PROBLEM_NONE for a sound packet); the decoded fields stay in PACKET.
 */
export function packet(
  frame: usize,
  capturedLength: u32,
  wireLength: u32,
  linkType: u32,
  sec: f64,
  nsec: f64,
): i32 {
  bump(C_PACKETS, 1);
  bump(C_BYTES, <f64>wireLength);
  if (counter(C_FIRST_SEC) < 0) {
    setCounter(C_FIRST_SEC, sec);
    setCounter(C_FIRST_NSEC, nsec);
  }
  setCounter(C_LAST_SEC, sec);
  setCounter(C_LAST_NSEC, nsec);
  decode(frame, capturedLength, wireLength, linkType);
  const problemCode = <i32>getP(P_PROBLEM);
  if (problemCode !== PROBLEM_NONE) bump(C_MALFORMED, 1);
  const bad = getP(P_BAD_CHECKSUMS);
  if (bad !== 0) {
    if ((bad & BAD_UDP_CHECKSUM) !== 0) bump(C_BAD_UDP, 1);
    if ((bad & BAD_IPV4_HEADER_CHECKSUM) !== 0) bump(C_BAD_IP, 1);
  }
  if (getP(P_IP_VERSION) === 0) bump(C_NON_IP, 1);
  else countFlow(<f64>wireLength, sec, nsec);
  return problemCode;
}

@inline function recordWord(at: usize, bigEndian: bool): u32 {
  const w = load<u32>(at);
  return bigEndian ? bswap<u32>(w) : w;
}

/**
 * The classic pcap records in memory[pos, end), each through `packet`. Stops before a record that is not whole or
 * whose captured length is impossible (the caller reports it), and after a packet with a problem (so the caller
 * can describe it while its fields are still in PACKET). Returns where it stopped.
 */
export function pcapRecords(pos: usize, end: usize, bigEndian: bool, nanosecondUnits: bool, linkType: u32): usize {
  const fracToNs: f64 = nanosecondUnits ? 1 : 1000;
  while (end - pos >= PCAP_RECORD_HEADER_BYTES) {
    const caplen = recordWord(pos + 8, bigEndian);
    if (caplen > <u32>MAX_CAPTURED_LENGTH) break;
    const unit: usize = PCAP_RECORD_HEADER_BYTES + <usize>caplen;
    if (end - pos < unit) break;
    const sec = <f64>recordWord(pos, bigEndian);
    const nsec = <f64>recordWord(pos + 4, bigEndian) * fracToNs;
    const wireLength = recordWord(pos + 12, bigEndian);
    const problemCode = packet(pos + PCAP_RECORD_HEADER_BYTES, caplen, wireLength, linkType, sec, nsec);
    pos += unit;
    if (problemCode !== PROBLEM_NONE) break;
  }
  return pos;
}
