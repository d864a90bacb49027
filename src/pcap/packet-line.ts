/**
 * tcpdump-style one-line text for a decoded packet (as `tcpdump -n` prints it, without the timestamp), built only for
 * the few packets that go into a summary's sample. Tunnelled packets show the outer header, then the inner one, as
 * tcpdump does. Payload bytes are never shown: only header fields and lengths.
 */
import {
  ETHERTYPE_ARP,
  FRAGMENT_LATER,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  PROTO_UDP,
  TUNNEL_IPIP,
  TUNNEL_NONE,
  TUNNEL_VXLAN,
} from './engine/constants.ts';
import type { DecodedPacket } from './capture-engine.ts';

export function formatIpv4(w: number): string {
  return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
}

/** RFC 5952 text: lower-case hex, the longest run (two or more) of zero groups written `::`. */
export function formatIpv6(w0: number, w1: number, w2: number, w3: number): string {
  const g = [w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff];
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function formatIp(version: number, w0: number, w1: number, w2: number, w3: number): string {
  return version === 6 ? formatIpv6(w0, w1, w2, w3) : formatIpv4(w0);
}

/** Names for IP protocol numbers (IANA "Assigned Internet Protocol Numbers"); others print as `ip-proto-N`. */
const PROTOCOL_NAMES: Readonly<Record<number, string>> = {
  1: 'icmp',
  2: 'igmp',
  4: 'ipip',
  6: 'tcp',
  17: 'udp',
  41: 'ipv6',
  47: 'gre',
  50: 'esp',
  51: 'ah',
  58: 'icmp6',
  89: 'ospf',
  112: 'vrrp',
  132: 'sctp',
};

export function protocolName(proto: number): string {
  return PROTOCOL_NAMES[proto] ?? `ip-proto-${proto}`;
}

/** tcpdump's flag letters in its order (print-tcp.c tcp_flag_values): F S R P . U E W. */
const TCP_FLAG_LETTERS = ['F', 'S', 'R', 'P', '.', 'U', 'E', 'W'];

export function tcpFlagLetters(flags: number): string {
  let text = '';
  for (let i = 0; i < 8; i++) if (flags & (1 << i)) text += TCP_FLAG_LETTERS[i];
  return text === '' ? 'none' : text;
}

const ICMP_UNREACHABLE: readonly string[] = ['net', 'host', 'protocol', 'port', 'need to frag'];
const ICMP_TYPES: Readonly<Record<number, string>> = {
  0: 'echo reply',
  4: 'source quench',
  5: 'redirect',
  8: 'echo request',
  11: 'time exceeded in-transit',
  12: 'parameter problem',
  13: 'time stamp request',
  14: 'time stamp reply',
};
const ICMP6_TYPES: Readonly<Record<number, string>> = {
  1: 'destination unreachable',
  2: 'packet too big',
  3: 'time exceeded in-transit',
  4: 'parameter problem',
  128: 'echo request',
  129: 'echo reply',
  133: 'router solicitation',
  134: 'router advertisement',
  135: 'neighbor solicitation',
  136: 'neighbor advertisement',
  143: 'multicast listener report v2',
};

function icmpText(p: DecodedPacket): string {
  const echo = p.hasIcmpEcho ? `, id ${p.icmpId}, seq ${p.icmpSeq}` : '';
  if (p.proto === PROTO_ICMPV6) {
    const name = ICMP6_TYPES[p.icmpType] ?? `type ${p.icmpType}, code ${p.icmpCode}`;
    return `ICMP6, ${name}${echo}, length ${p.payloadLength}`;
  }
  const name =
    p.icmpType === 3
      ? `${ICMP_UNREACHABLE[p.icmpCode] ?? `code ${p.icmpCode}`} unreachable`
      : (ICMP_TYPES[p.icmpType] ?? `type ${p.icmpType}, code ${p.icmpCode}`);
  return `ICMP ${name}${echo}, length ${p.payloadLength}`;
}

function tcpText(p: DecodedPacket): string {
  const f = p.tcpFlags;
  const parts = [`Flags [${tcpFlagLetters(f)}]`];
  if (p.payloadLength > 0) parts.push(`seq ${p.seq}:${(p.seq + p.payloadLength) >>> 0}`);
  else if (f & 0x07) parts.push(`seq ${p.seq}`);
  if (f & 0x10) parts.push(`ack ${p.ack}`);
  parts.push(`win ${p.window}`, `length ${p.payloadLength}`);
  return parts.join(', ') + (p.transportTruncated ? ' [|tcp]' : '');
}

function hex16(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}

function macText(buf: Buffer, off: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(buf[off + i]!.toString(16).padStart(2, '0'));
  return parts.join(':');
}

function arpText(p: DecodedPacket, buf: Buffer): string {
  const o = p.l3Offset;
  const length = p.frameEnd - o;
  // Ethernet/IPv4 ARP (RFC 826): htype, ptype, hlen 6, plen 4, op, sha, spa, tha, tpa = 28 bytes.
  if (length < 28 || buf[o + 4] !== 6 || buf[o + 5] !== 4) return `ARP, length ${length}`;
  const op = (buf[o + 6]! << 8) | buf[o + 7]!;
  const spa = formatIpv4(buf.readUInt32BE(o + 14));
  const tpa = formatIpv4(buf.readUInt32BE(o + 24));
  if (op === 1) return `ARP, Request who-has ${tpa} tell ${spa}, length 28`;
  if (op === 2) return `ARP, Reply ${spa} is-at ${macText(buf, o + 8)}, length 28`;
  return `ARP, op ${op}, length 28`;
}

function nonIpText(p: DecodedPacket, buf: Buffer): string {
  if (p.etherType === ETHERTYPE_ARP) return arpText(p, buf);
  if (p.etherType === 0x8035) return `Reverse ARP, length ${p.frameEnd - p.l3Offset}`;
  if (p.etherType !== 0 && p.etherType <= 1500) return `802.3 LLC, length ${p.etherType}`;
  return `ethertype ${hex16(p.etherType)}, length ${p.frameEnd - p.l3Offset}`;
}

function innerText(p: DecodedPacket, buf: Buffer): string {
  if (p.ipVersion === 0) {
    if (p.problem !== null) return `[${p.problem}]`;
    return nonIpText(p, buf);
  }
  const family = p.ipVersion === 6 ? 'IP6' : 'IP';
  const src = formatIp(p.ipVersion, p.src0, p.src1, p.src2, p.src3);
  const dst = formatIp(p.ipVersion, p.dst0, p.dst1, p.dst2, p.dst3);
  if (p.fragment === FRAGMENT_LATER) return `${family} ${src} > ${dst}: ${protocolName(p.proto)} (fragment)`;
  if (p.hasPorts) {
    const head = `${family} ${src}.${p.sport} > ${dst}.${p.dport}: `;
    if (p.proto === PROTO_TCP) return head + (p.hasTcpFlags ? tcpText(p) : '[|tcp]');
    if (p.proto === PROTO_UDP) return head + (p.transportTruncated ? '[|udp]' : `UDP, length ${p.payloadLength}`);
  }
  const head = `${family} ${src} > ${dst}: `;
  if (p.hasIcmp) return head + icmpText(p);
  if (p.problem !== null) return `${head}[${p.problem}]`;
  if (p.proto === PROTO_TCP || p.proto === PROTO_UDP || p.proto === PROTO_ICMP || p.proto === PROTO_ICMPV6) {
    return `${head}[|${protocolName(p.proto)}]`;
  }
  return `${head}${protocolName(p.proto)}, length ${p.payloadLength}`;
}

/** One line for the packet just decoded into `p` from `buf` (the same buffer, before it is reused). */
export function formatPacketLine(p: DecodedPacket, buf: Buffer): string {
  if (p.problem === 'unsupported link type') return `[unsupported link type ${p.problemHave}]`;
  if (p.tunnel === TUNNEL_NONE) return innerText(p, buf);
  const family = p.outerVersion === 6 ? 'IP6' : 'IP';
  const src = formatIp(p.outerVersion, p.outerSrc0, p.outerSrc1, p.outerSrc2, p.outerSrc3);
  const dst = formatIp(p.outerVersion, p.outerDst0, p.outerDst1, p.outerDst2, p.outerDst3);
  if (p.tunnel === TUNNEL_VXLAN) {
    const flags = `flags [${p.vxlanFlags & 0x08 ? 'I' : '.'}] (${`0x${p.vxlanFlags.toString(16).padStart(2, '0')}`})`;
    return `${family} ${src}.${p.outerSport} > ${dst}.${p.outerDport}: VXLAN, ${flags}, vni ${p.vni} ${innerText(p, buf)}`;
  }
  if (p.tunnel === TUNNEL_IPIP) return `${family} ${src} > ${dst}: ${innerText(p, buf)}`;
  return innerText(p, buf);
}
