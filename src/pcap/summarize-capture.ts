/**
 * `summarizeCapture`: streams a pcap/pcapng capture through the reader and decoder and returns counts, flows by
 * inner 5-tuple (with the outer tunnel endpoints), a tcpdump-style sample of the first packets, and the errors met.
 * A broken capture never throws away what was decoded before the break: the problem goes into `errors`.
 */
import { open } from 'node:fs/promises';
import { describeError } from '../errors.ts';
import { CaptureReader, type PacketSink } from './capture-reader.ts';
import {
  FlowTable,
  MAX_FLOWS,
  countTcp,
  handshakeState,
  tcpFlagNames,
  type FlowRecord,
  type FlowTunnel,
} from './flow-table.ts';
import {
  DecodedPacket,
  FRAGMENT_NONE,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  PROTO_UDP,
  TUNNEL_IPIP,
  TUNNEL_NONE,
  TUNNEL_VXLAN,
  decodeFrame,
  vxlanPortTable,
  BAD_IPV4_HEADER_CHECKSUM,
  BAD_UDP_CHECKSUM,
} from './packet-decoder.ts';
import { formatIp, formatPacketLine, protocolName } from './packet-line.ts';
import { OnesSum } from './ones-sum.ts';

/** UDP ports decoded as VXLAN: 4789 is IANA's (Calico), 8472 the Linux kernel's and flannel's default. */
export const DEFAULT_VXLAN_PORTS: readonly number[] = [4789, 8472];
/** Packets shown as text by default: enough to see a handshake and its first data on a few flows. */
export const DEFAULT_SAMPLE_SIZE = 20;
/** Upper bound on the sample, whatever is asked: the lines end up in a chat message or a terminal. */
export const MAX_SAMPLE_SIZE = 1000;
/** Per-packet problems (truncated headers, bad lengths) listed one by one; the rest are only counted. */
export const MAX_WARNINGS = 50;
/** Read size for files: large reads keep syscall and promise overhead small; two buffers of it are held (in the
 * checksum module's memory, so checksums are summed where the bytes were read). */
export const FILE_READ_CHUNK_BYTES = 4 * 1024 * 1024;

export type FlowProto = 'tcp' | 'udp' | 'icmp' | 'icmp6' | string;
export type Handshake = 'complete' | 'syn-only' | 'syn-ack-seen' | 'none';

export interface FlowSummary {
  /** The initiator: the sender of the first SYN, else the side a SYN-ACK answered, else the first packet's sender. */
  src: string;
  dst: string;
  proto: FlowProto;
  /** Null for protocols without ports (ICMP, later fragments, transport header not captured). */
  sport: number | null;
  dport: number | null;
  packets: number;
  /** Bytes on the wire (original lengths, not the snap length). */
  bytes: number;
  packetsFromSrc: number;
  packetsFromDst: number;
  /** Outer endpoints oriented like src → dst; null for packets seen bare. */
  tunnel: FlowTunnel | null;
  tcpFlags: string[];
  handshake: Handshake;
  resets: number;
  retransmissions: number;
  /** IP fragments of this flow (first ones with ports, later ones are counted in a flow with null ports). */
  fragments: number;
  firstSeen: string;
  lastSeen: string;
}

export interface SamplePacket {
  /** 1-based packet number, as `tcpdump -#` prints it. */
  number: number;
  time: string;
  /** Original (wire) length. */
  length: number;
  line: string;
}

export interface CaptureSummary {
  format: 'pcap' | 'pcapng' | 'unknown';
  packets: number;
  bytes: number;
  linkTypes: string[];
  firstSeen: string | null;
  lastSeen: string | null;
  flows: FlowSummary[];
  /** Packets and bytes of flows past MAX_FLOWS (not listed one by one). */
  otherFlows: { packets: number; bytes: number };
  /** Frames without an IP packet inside (ARP, STP, …), or whose IP header could not be read. */
  nonIpPackets: number;
  /** Packets with a problem in a header (truncated or invalid); the first few are described in `warnings`. */
  malformedPackets: number;
  /** Packets with a UDP datagram whose checksum was checked (the whole datagram captured, a checksum filled in) and wrong. */
  badUdpChecksums: number;
  /** Packets with an IPv4 header whose checksum is wrong. */
  badIpChecksums: number;
  sample: SamplePacket[];
  /** Problems with the capture as a whole (truncated file, bad magic, read failure): decoding stopped there. */
  errors: string[];
  /** Problems with single packets; decoding went on. */
  warnings: string[];
}

export interface SummarizeOptions {
  vxlanPorts?: readonly number[];
  sampleSize?: number;
  maxFlows?: number;
  signal?: AbortSignal;
}

/** libpcap's names for the link types we decode (pcap-linktype(7)). */
const LINK_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'NULL',
  1: 'EN10MB',
  12: 'RAW',
  14: 'RAW',
  101: 'RAW',
  108: 'LOOP',
  113: 'LINUX_SLL',
  228: 'IPV4',
  229: 'IPV6',
  276: 'LINUX_SLL2',
};

export function linkTypeName(linkType: number): string {
  return LINK_TYPE_NAMES[linkType] ?? `LINKTYPE_${linkType}`;
}

/** ISO 8601 UTC with 6 or 9 fraction digits, as the capture's resolution allows. */
export function formatTimestamp(sec: number, nsec: number, nano: boolean): string {
  const whole = new Date(sec * 1000).toISOString().slice(0, 19);
  const frac = nano ? String(nsec).padStart(9, '0') : String(Math.floor(nsec / 1000)).padStart(6, '0');
  return `${whole}.${frac}Z`;
}

function flowProto(proto: number): FlowProto {
  if (proto === PROTO_TCP) return 'tcp';
  if (proto === PROTO_UDP) return 'udp';
  if (proto === PROTO_ICMP) return 'icmp';
  if (proto === PROTO_ICMPV6) return 'icmp6';
  return protocolName(proto);
}

interface PendingSample {
  number: number;
  sec: number;
  nsec: number;
  length: number;
  line: string;
}

/** The packet sink that does the counting; one per summary. */
class Summarizer implements PacketSink {
  readonly table: FlowTable;
  readonly #packet: DecodedPacket;
  readonly #vxlanPorts: Uint8Array;
  readonly #sampleSize: number;
  packets = 0;
  bytes = 0;
  firstSec = -1;
  firstNsec = 0;
  lastSec = 0;
  lastNsec = 0;
  nonIp = 0;
  malformed = 0;
  badUdp = 0;
  badIp = 0;
  otherPackets = 0;
  otherBytes = 0;
  readonly samples: PendingSample[] = [];
  readonly warnings: string[] = [];

  constructor(options: SummarizeOptions, sums?: OnesSum) {
    this.#packet = new DecodedPacket(sums);
    this.table = new FlowTable(Math.max(0, Math.min(options.maxFlows ?? MAX_FLOWS, MAX_FLOWS)));
    this.#vxlanPorts = vxlanPortTable(options.vxlanPorts ?? DEFAULT_VXLAN_PORTS);
    this.#sampleSize = Math.max(0, Math.min(options.sampleSize ?? DEFAULT_SAMPLE_SIZE, MAX_SAMPLE_SIZE));
  }

  onPacket(
    buf: Buffer,
    offset: number,
    caplen: number,
    origlen: number,
    linkType: number,
    sec: number,
    nsec: number,
  ): void {
    const n = ++this.packets;
    this.bytes += origlen;
    if (this.firstSec < 0) {
      this.firstSec = sec;
      this.firstNsec = nsec;
    }
    this.lastSec = sec;
    this.lastNsec = nsec;
    const p = this.#packet;
    decodeFrame(buf, offset, caplen, origlen, linkType, this.#vxlanPorts, p);
    if (p.problem !== null) this.#warn(n, p);
    if (p.badChecksums !== 0) {
      if (p.badChecksums & BAD_UDP_CHECKSUM) this.badUdp++;
      if (p.badChecksums & BAD_IPV4_HEADER_CHECKSUM) this.badIp++;
    }
    if (this.samples.length < this.#sampleSize) {
      this.samples.push({ number: n, sec, nsec, length: origlen, line: formatPacketLine(p, buf) });
    }
    if (p.ipVersion === 0) {
      this.nonIp++;
      return;
    }
    this.#count(p, origlen, sec, nsec);
  }

  #warn(n: number, p: DecodedPacket): void {
    this.malformed++;
    if (this.warnings.length >= MAX_WARNINGS) return;
    let detail = '';
    if (p.problemNeed >= 0) detail = ` (${p.problemHave} of ${p.problemNeed} bytes captured)`;
    else if (p.problemHave >= 0) detail = ` (${p.problemHave})`;
    this.warnings.push(`packet ${n}: ${p.problem}${detail}`);
  }

  #count(p: DecodedPacket, origlen: number, sec: number, nsec: number): void {
    const table = this.table;
    const k = table.key;
    const sport = p.hasPorts ? p.sport : 0;
    const dport = p.hasPorts ? p.dport : 0;
    // Side 0 is the lower (address, port); compare word by word.
    let side = 0;
    if (p.src0 !== p.dst0) side = p.src0 > p.dst0 ? 1 : 0;
    else if (p.src1 !== p.dst1) side = p.src1 > p.dst1 ? 1 : 0;
    else if (p.src2 !== p.dst2) side = p.src2 > p.dst2 ? 1 : 0;
    else if (p.src3 !== p.dst3) side = p.src3 > p.dst3 ? 1 : 0;
    else side = sport > dport ? 1 : 0;
    k[0] = (p.ipVersion << 8) | p.proto;
    k[1] = side === 0 ? ((sport << 16) | dport) >>> 0 : ((dport << 16) | sport) >>> 0;
    // Side 0's address goes to words 2–5, side 1's to words 6–9.
    const s = side === 0 ? 2 : 6;
    const d = 8 - s;
    k[s] = p.src0;
    k[s + 1] = p.src1;
    k[s + 2] = p.src2;
    k[s + 3] = p.src3;
    k[d] = p.dst0;
    k[d + 1] = p.dst1;
    k[d + 2] = p.dst2;
    k[d + 3] = p.dst3;
    const id = table.lookup();
    if (id < 0) {
      this.otherPackets++;
      this.otherBytes += origlen;
      return;
    }
    const flow = table.flows[id]!;
    if (table.created) {
      flow.initiator = side;
      flow.firstSec = sec;
      flow.firstNsec = nsec;
    }
    flow.packets++;
    flow.bytes += origlen;
    if (side === 0) flow.packetsSide0++;
    else flow.packetsSide1++;
    flow.lastSec = sec;
    flow.lastNsec = nsec;
    if (p.fragment !== FRAGMENT_NONE) flow.fragments++;
    if (p.tunnel !== TUNNEL_NONE && flow.tunnel === null) {
      flow.tunnel = {
        type: p.tunnel === TUNNEL_VXLAN ? 'vxlan' : 'ipip',
        outerSrc: formatIp(p.outerVersion, p.outerSrc0, p.outerSrc1, p.outerSrc2, p.outerSrc3),
        outerDst: formatIp(p.outerVersion, p.outerDst0, p.outerDst1, p.outerDst2, p.outerDst3),
        vni: p.tunnel === TUNNEL_IPIP ? null : p.vni,
      };
      flow.tunnelSide = side;
    }
    if (p.hasTcpFlags && p.proto === PROTO_TCP) countTcp(flow, p, side);
  }

  flowSummary(id: number, flow: FlowRecord, nano: boolean): FlowSummary {
    const k = this.table.keyOf(id);
    const version = k[0]! >>> 8;
    const proto = k[0]! & 255;
    const side0 = formatIp(version, k[2]!, k[3]!, k[4]!, k[5]!);
    const side1 = formatIp(version, k[6]!, k[7]!, k[8]!, k[9]!);
    const port0 = k[1]! >>> 16;
    const port1 = k[1]! & 0xffff;
    const hasPorts = (proto === PROTO_TCP || proto === PROTO_UDP) && (port0 !== 0 || port1 !== 0);
    const fromZero = flow.initiator === 0;
    let tunnel = flow.tunnel;
    if (tunnel !== null && flow.tunnelSide !== flow.initiator)
      tunnel = { ...tunnel, outerSrc: tunnel.outerDst, outerDst: tunnel.outerSrc };
    return {
      src: fromZero ? side0 : side1,
      dst: fromZero ? side1 : side0,
      proto: flowProto(proto),
      sport: hasPorts ? (fromZero ? port0 : port1) : null,
      dport: hasPorts ? (fromZero ? port1 : port0) : null,
      packets: flow.packets,
      bytes: flow.bytes,
      packetsFromSrc: fromZero ? flow.packetsSide0 : flow.packetsSide1,
      packetsFromDst: fromZero ? flow.packetsSide1 : flow.packetsSide0,
      tunnel,
      tcpFlags: tcpFlagNames(flow.flagsSeen),
      handshake: proto === PROTO_TCP ? handshakeState(flow) : 'none',
      resets: flow.resets,
      retransmissions: flow.retransmissions,
      fragments: flow.fragments,
      firstSeen: formatTimestamp(flow.firstSec, flow.firstNsec, nano),
      lastSeen: formatTimestamp(flow.lastSec, flow.lastNsec, nano),
    };
  }
}

function toBuffer(chunk: Uint8Array | string): Buffer {
  if (typeof chunk === 'string') throw new TypeError('the capture stream yields text; open it without an encoding');
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

function finish(s: Summarizer, reader: CaptureReader, errors: string[]): CaptureSummary {
  const nano = reader.nanosecondResolution;
  const flows = s.table.flows.map((flow, id) => s.flowSummary(id, flow, nano));
  return {
    format: reader.format,
    packets: s.packets,
    bytes: s.bytes,
    linkTypes: [...reader.linkTypes].map(linkTypeName),
    firstSeen: s.firstSec < 0 ? null : formatTimestamp(s.firstSec, s.firstNsec, nano),
    lastSeen: s.firstSec < 0 ? null : formatTimestamp(s.lastSec, s.lastNsec, nano),
    flows,
    otherFlows: { packets: s.otherPackets, bytes: s.otherBytes },
    nonIpPackets: s.nonIp,
    malformedPackets: s.malformed,
    badUdpChecksums: s.badUdp,
    badIpChecksums: s.badIp,
    sample: s.samples.map((x) => ({
      number: x.number,
      time: formatTimestamp(x.sec, x.nsec, nano),
      length: x.length,
      line: x.line,
    })),
    errors,
    warnings: s.warnings,
  };
}

/**
 * Summarizes a pcap or pcapng capture read from `source` (a Node Readable, or any (async) iterable of bytes).
 * Never rejects for bad input or a failing stream: the summary holds what was decoded and `errors` says why it
 * stopped. Memory is bounded by the largest record, MAX_FLOWS and the sample size, not by the capture size.
 */
export function summarizeCapture(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  options: SummarizeOptions = {},
): Promise<CaptureSummary> {
  return summarizeWith(source, options);
}

async function summarizeWith(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  options: SummarizeOptions,
  sums?: OnesSum,
): Promise<CaptureSummary> {
  const s = new Summarizer(options, sums);
  const reader = new CaptureReader(s);
  const errors: string[] = [];
  let bytesRead = 0;
  let stopped = false;
  try {
    for await (const chunk of source) {
      if (options.signal?.aborted) {
        errors.push(`stopped after ${bytesRead} bytes (${s.packets} packets): aborted`);
        stopped = true;
        break;
      }
      const buf = toBuffer(chunk);
      bytesRead += buf.length;
      try {
        reader.write(buf);
      } catch (err) {
        // A decoder bug must not cost the user the summary so far; it is reported like a broken file.
        errors.push(`internal error decoding packet ${s.packets}: ${describeError(err)}`);
        stopped = true;
        break;
      }
      if (reader.error !== null) break;
    }
  } catch (err) {
    errors.push(`reading the capture failed after ${bytesRead} bytes (${s.packets} packets): ${describeError(err)}`);
    stopped = true;
  }
  if (!stopped) reader.end();
  if (reader.error !== null) errors.unshift(reader.error);
  return finish(s, reader, errors);
}

/**
 * Chunks of a file through two reused buffers: the next read runs while the caller decodes the current chunk.
 * A chunk is only valid until the caller asks for the next one (summarizeCapture copies what it keeps).
 */
async function* readFileChunks(path: string, sums: OnesSum): AsyncGenerator<Buffer> {
  const file = await open(path, 'r');
  try {
    const buffers = [sums.region(0, FILE_READ_CHUNK_BYTES), sums.region(FILE_READ_CHUNK_BYTES, FILE_READ_CHUNK_BYTES)];
    let current = 0;
    let pending = file.read(buffers[0]!, 0, FILE_READ_CHUNK_BYTES, null);
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) return;
      const chunk = buffers[current]!.subarray(0, bytesRead);
      current ^= 1;
      pending = file.read(buffers[current]!, 0, FILE_READ_CHUNK_BYTES, null);
      yield chunk;
    }
  } finally {
    await file.close();
  }
}

/** Summarizes a capture file, read in large chunks with read-ahead (two buffers held, whatever the file size). */
export function summarizeCaptureFile(path: string, options: SummarizeOptions = {}): Promise<CaptureSummary> {
  const sums = new OnesSum(2 * FILE_READ_CHUNK_BYTES);
  return summarizeWith(readFileChunks(path, sums), options, sums);
}

/** The `pcap` JSON contract (README): the required fields first, then the rest of the summary. */
export function summaryToJson(summary: CaptureSummary): Record<string, unknown> {
  return {
    packets: summary.packets,
    bytes: summary.bytes,
    flows: summary.flows.map((f) => ({
      src: f.src,
      dst: f.dst,
      proto: f.proto,
      sport: f.sport,
      dport: f.dport,
      packets: f.packets,
      bytes: f.bytes,
      tunnel: f.tunnel,
      packetsFromSrc: f.packetsFromSrc,
      packetsFromDst: f.packetsFromDst,
      tcpFlags: f.tcpFlags,
      handshake: f.handshake,
      resets: f.resets,
      retransmissions: f.retransmissions,
      fragments: f.fragments,
      firstSeen: f.firstSeen,
      lastSeen: f.lastSeen,
    })),
    errors: summary.errors,
    format: summary.format,
    linkTypes: summary.linkTypes,
    firstSeen: summary.firstSeen,
    lastSeen: summary.lastSeen,
    otherFlows: summary.otherFlows,
    nonIpPackets: summary.nonIpPackets,
    malformedPackets: summary.malformedPackets,
    badUdpChecksums: summary.badUdpChecksums,
    badIpChecksums: summary.badIpChecksums,
    warnings: summary.warnings,
    sample: summary.sample,
  };
}
