/**
 * `summarizeCapture`: streams a pcap/pcapng capture through the reader and decoder and returns counts, flows by
 * inner 5-tuple (with the outer tunnel endpoints), a tcpdump-style sample of the first packets, and the errors met.
 * A broken capture never throws away what was decoded before the break: the problem goes into `errors`.
 */
import { open } from 'node:fs/promises';
import { describeError } from '../errors.ts';
import { CaptureReader, type PacketSink, type RecordsTaken } from './capture-reader.ts';
import { CaptureEngine } from './capture-engine.ts';
import {
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
  MAX_FLOWS,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_TCP,
  PROTO_UDP,
  R_BYTES,
  R_FIRST_NSEC,
  R_FIRST_SEC,
  R_FLAGS_SEEN,
  R_FRAGMENTS,
  R_HANDSHAKE_COMPLETE,
  R_INITIATOR,
  R_LAST_NSEC,
  R_LAST_SEC,
  R_OUTER_DST,
  R_OUTER_SRC,
  R_OUTER_VERSION,
  R_PACKETS,
  R_PACKETS_SIDE0,
  R_PACKETS_SIDE1,
  R_RESETS,
  R_RETRANSMISSIONS,
  R_TUNNEL,
  R_TUNNEL_SIDE,
  R_VNI,
  SEEN_SYN,
  SEEN_SYN_ACK,
  TUNNEL_IPIP,
  TUNNEL_NONE,
  TUNNEL_VXLAN,
} from './engine/constants.ts';
import { formatIp, formatPacketLine, protocolName } from './packet-line.ts';

/** UDP ports decoded as VXLAN: 4789 is IANA's (Calico), 8472 the Linux kernel's and flannel's default. */
export const DEFAULT_VXLAN_PORTS: readonly number[] = [4789, 8472];
/** Packets shown as text by default: enough to see a handshake and its first data on a few flows. */
export const DEFAULT_SAMPLE_SIZE = 20;
/** Upper bound on the sample, whatever is asked: the lines end up in a chat message or a terminal. */
export const MAX_SAMPLE_SIZE = 1000;
/** Per-packet problems (truncated headers, bad lengths) listed one by one; the rest are only counted. */
export const MAX_WARNINGS = 50;
/** Read size for files: large reads keep syscall and promise overhead small; two buffers of it are held (in the
 * capture engine's memory, so frames are decoded where they were read). */
export const FILE_READ_CHUNK_BYTES = 4 * 1024 * 1024;

export type FlowProto = 'tcp' | 'udp' | 'icmp' | 'icmp6' | string;
export type Handshake = 'complete' | 'syn-only' | 'syn-ack-seen' | 'none';

export interface FlowTunnel {
  type: 'vxlan' | 'ipip';
  /** Outer source/destination oriented like the flow's src → dst. */
  outerSrc: string;
  outerDst: string;
  vni: number | null;
}

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

/** ECMAScript's Date range (±10^8 days). */
const MAX_DATE_SECONDS = 8.64e12;

/** ISO 8601 UTC with 6 or 9 fraction digits, as the capture's resolution allows. */
export function formatTimestamp(sec: number, nsec: number, nano: boolean): string {
  const frac = nano ? String(nsec).padStart(9, '0') : String(Math.floor(nsec / 1000)).padStart(6, '0');
  // A pcapng timestamp is 64 bits of units: past ±8.64e12 s (year 275760) a Date cannot hold it, so it is
  // written as an offset from the epoch instead of failing the whole summary.
  if (Math.abs(sec) > MAX_DATE_SECONDS) return `1970-01-01T00:00:00Z+${sec}.${frac}s`;
  const whole = new Date(sec * 1000).toISOString().slice(0, 19);
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

/** tcpdump's names for the TCP flags a flow has shown, in the order of the engine's SEEN_* bits. */
const TCP_FLAG_NAMES: readonly string[] = ['SYN', 'SYN-ACK', 'ACK', 'FIN', 'RST', 'PSH', 'URG', 'ECE', 'CWR'];

function tcpFlagNames(flagsSeen: number): string[] {
  return TCP_FLAG_NAMES.filter((_, i) => flagsSeen & (1 << i));
}

function handshakeState(engine: CaptureEngine, id: number): Handshake {
  if (engine.flowWord(id, R_HANDSHAKE_COMPLETE) !== 0) return 'complete';
  const seen = engine.flowWord(id, R_FLAGS_SEEN);
  if (seen & SEEN_SYN_ACK) return 'syn-ack-seen';
  if (seen & SEEN_SYN) return 'syn-only';
  return 'none';
}

function outerAddress(engine: CaptureEngine, id: number, field: number): string {
  const word = (i: number) => engine.flowWord(id, field + 4 * i);
  return formatIp(engine.flowWord(id, R_OUTER_VERSION), word(0), word(1), word(2), word(3));
}

/**
 * The packet sink of one summary: the engine decodes and counts every packet; this side keeps what needs text
 * (the first packets as tcpdump lines, the first problems as warnings) and reads the flows out at the end.
 */
class Summarizer implements PacketSink {
  readonly engine: CaptureEngine;
  readonly #sampleSize: number;
  readonly samples: PendingSample[] = [];
  readonly warnings: string[] = [];

  constructor(options: SummarizeOptions, room = 0) {
    this.engine = new CaptureEngine({
      room,
      maxFlows: Math.max(0, Math.min(options.maxFlows ?? MAX_FLOWS, MAX_FLOWS)),
      vxlanPorts: options.vxlanPorts ?? DEFAULT_VXLAN_PORTS,
    });
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
    const problem = this.engine.packet(buf, offset, caplen, origlen, linkType, sec, nsec);
    if (problem !== 0) this.#warn();
    if (this.samples.length < this.#sampleSize) {
      const line = formatPacketLine(this.engine.lastPacket(offset), buf);
      this.samples.push({ number: this.engine.packets, sec, nsec, length: origlen, line });
    }
  }

  /** The engine takes whole records itself once the sample is full and the chunk lies in its memory. */
  pcapRecords(
    chunk: Buffer,
    pos: number,
    bigEndian: boolean,
    nanosecondUnits: boolean,
    linkType: number,
    taken: RecordsTaken,
  ): boolean {
    if (this.samples.length < this.#sampleSize || !this.engine.decodesInPlace(chunk)) return false;
    const first = this.engine.packets;
    let at = pos;
    for (;;) {
      const before = this.engine.packets;
      at = this.engine.pcapRecords(chunk, at, bigEndian, nanosecondUnits, linkType);
      if (this.engine.packets === before || !this.engine.lastHadProblem) break;
      this.#warn();
    }
    taken.pos = at;
    taken.records = this.engine.packets - first;
    return true;
  }

  /** The packet just counted had a problem: the first few are described. */
  #warn(): void {
    if (this.warnings.length >= MAX_WARNINGS) return;
    const p = this.engine.lastPacket(0);
    let detail = '';
    if (p.problemNeed >= 0) detail = ` (${p.problemHave} of ${p.problemNeed} bytes captured)`;
    else if (p.problemHave >= 0) detail = ` (${p.problemHave})`;
    this.warnings.push(`packet ${this.engine.packets}: ${p.problem}${detail}`);
  }

  flowSummary(id: number, nano: boolean): FlowSummary {
    const e = this.engine;
    const k = e.flowKey(id);
    const version = k[0]! >>> 8;
    const proto = k[0]! & 255;
    const side0 = formatIp(version, k[2]!, k[3]!, k[4]!, k[5]!);
    const side1 = formatIp(version, k[6]!, k[7]!, k[8]!, k[9]!);
    const port0 = k[1]! >>> 16;
    const port1 = k[1]! & 0xffff;
    const hasPorts = (proto === PROTO_TCP || proto === PROTO_UDP) && (port0 !== 0 || port1 !== 0);
    const initiator = e.flowWord(id, R_INITIATOR);
    const fromZero = initiator === 0;
    const tunnelType = e.flowWord(id, R_TUNNEL);
    let tunnel: FlowTunnel | null = null;
    if (tunnelType !== TUNNEL_NONE) {
      // Outer addresses as the first tunnelled packet's sender sent them, turned to run src → dst.
      const asSent = e.flowWord(id, R_TUNNEL_SIDE) === initiator;
      const src = outerAddress(e, id, asSent ? R_OUTER_SRC : R_OUTER_DST);
      const dst = outerAddress(e, id, asSent ? R_OUTER_DST : R_OUTER_SRC);
      tunnel = {
        type: tunnelType === TUNNEL_VXLAN ? 'vxlan' : 'ipip',
        outerSrc: src,
        outerDst: dst,
        vni: tunnelType === TUNNEL_IPIP ? null : e.flowWord(id, R_VNI),
      };
    }
    const side0Packets = e.flowDouble(id, R_PACKETS_SIDE0);
    const side1Packets = e.flowDouble(id, R_PACKETS_SIDE1);
    return {
      src: fromZero ? side0 : side1,
      dst: fromZero ? side1 : side0,
      proto: flowProto(proto),
      sport: hasPorts ? (fromZero ? port0 : port1) : null,
      dport: hasPorts ? (fromZero ? port1 : port0) : null,
      packets: e.flowDouble(id, R_PACKETS),
      bytes: e.flowDouble(id, R_BYTES),
      packetsFromSrc: fromZero ? side0Packets : side1Packets,
      packetsFromDst: fromZero ? side1Packets : side0Packets,
      tunnel,
      tcpFlags: tcpFlagNames(e.flowWord(id, R_FLAGS_SEEN)),
      handshake: proto === PROTO_TCP ? handshakeState(e, id) : 'none',
      resets: e.flowDouble(id, R_RESETS),
      retransmissions: e.flowDouble(id, R_RETRANSMISSIONS),
      fragments: e.flowDouble(id, R_FRAGMENTS),
      firstSeen: formatTimestamp(e.flowDouble(id, R_FIRST_SEC), e.flowDouble(id, R_FIRST_NSEC), nano),
      lastSeen: formatTimestamp(e.flowDouble(id, R_LAST_SEC), e.flowDouble(id, R_LAST_NSEC), nano),
    };
  }
}

function toBuffer(chunk: Uint8Array | string): Buffer {
  if (typeof chunk === 'string') throw new TypeError('the capture stream yields text; open it without an encoding');
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

function finish(s: Summarizer, reader: CaptureReader, errors: string[]): CaptureSummary {
  const nano = reader.nanosecondResolution;
  const e = s.engine;
  const flows: FlowSummary[] = [];
  for (let id = 0; id < e.counter(C_FLOWS); id++) flows.push(s.flowSummary(id, nano));
  const none = e.counter(C_FIRST_SEC) < 0;
  return {
    format: reader.format,
    packets: e.packets,
    bytes: e.counter(C_BYTES),
    linkTypes: [...reader.linkTypes].map(linkTypeName),
    firstSeen: none ? null : formatTimestamp(e.counter(C_FIRST_SEC), e.counter(C_FIRST_NSEC), nano),
    lastSeen: none ? null : formatTimestamp(e.counter(C_LAST_SEC), e.counter(C_LAST_NSEC), nano),
    flows,
    otherFlows: { packets: e.counter(C_OTHER_PACKETS), bytes: e.counter(C_OTHER_BYTES) },
    nonIpPackets: e.counter(C_NON_IP),
    malformedPackets: e.counter(C_MALFORMED),
    badUdpChecksums: e.counter(C_BAD_UDP),
    badIpChecksums: e.counter(C_BAD_IP),
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
  return summarizeWith(source, new Summarizer(options), options);
}

async function summarizeWith(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  s: Summarizer,
  options: SummarizeOptions,
): Promise<CaptureSummary> {
  const reader = new CaptureReader(s);
  const errors: string[] = [];
  let bytesRead = 0;
  let stopped = false;
  try {
    for await (const chunk of source) {
      if (options.signal?.aborted) {
        errors.push(`stopped after ${bytesRead} bytes (${s.engine.packets} packets): aborted`);
        stopped = true;
        break;
      }
      const buf = toBuffer(chunk);
      bytesRead += buf.length;
      try {
        reader.write(buf);
      } catch (err) {
        // A decoder bug must not cost the user the summary so far; it is reported like a broken file.
        errors.push(`internal error decoding packet ${s.engine.packets}: ${describeError(err)}`);
        stopped = true;
        break;
      }
      if (reader.error !== null) break;
    }
  } catch (err) {
    errors.push(
      `reading the capture failed after ${bytesRead} bytes (${s.engine.packets} packets): ${describeError(err)}`,
    );
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
async function* readFileChunks(path: string, engine: CaptureEngine): AsyncGenerator<Buffer> {
  const file = await open(path, 'r');
  try {
    const buffers = [
      engine.region(0, FILE_READ_CHUNK_BYTES),
      engine.region(FILE_READ_CHUNK_BYTES, FILE_READ_CHUNK_BYTES),
    ];
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
  const s = new Summarizer(options, 2 * FILE_READ_CHUNK_BYTES);
  return summarizeWith(readFileChunks(path, s.engine), s, options);
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
