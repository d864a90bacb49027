/**
 * The Node side of the capture engine (engine/engine.ts compiled to engine.wasm): one instance per summary, with a
 * fixed-size WebAssembly memory of its own laid out as engine/constants.ts says. Frames that lie in that memory (the
 * capture file is read into its room) are decoded where they lie; any other frame is copied in first. Results are
 * read back from the memory: counters, flows, and the last packet's fields for the few packets shown as text.
 */
import { readFileSync } from 'node:fs';
import {
  COUNTERS,
  C_PACKETS,
  FLOW_BYTES,
  FLOW_KEYS,
  FLOW_RECORDS,
  FRAME_SCRATCH,
  KEY_WORDS,
  MAX_CAPTURED_LENGTH,
  MAX_FLOWS,
  PACKET,
  PACKET_WORDS,
  PROBLEM_NONE,
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
  ROOM,
  VXLAN_PORTS,
  WASM_PAGE_BYTES,
} from './engine/constants.ts';

/** The phrase of each problem code (engine/constants.ts PROBLEM_*), shown in warnings and sample lines. */
const PROBLEM_PHRASES: readonly string[] = [
  '',
  'truncated Linux cooked (SLL) header',
  'truncated Linux cooked v2 (SLL2) header',
  'empty raw IP packet',
  'truncated loopback header',
  'unsupported link type',
  'truncated Ethernet header',
  'truncated 802.1Q VLAN tag',
  'truncated IPv4 header',
  'IP version is not 4 in an IPv4 header',
  'IPv4 header length below 20',
  'truncated IPv4 options',
  'IPv4 total length below the header length',
  'truncated IPv6 header',
  'IP version is not 6 in an IPv6 header',
  'truncated IPv6 fragment header',
  'truncated IPv6 extension header',
  'truncated IPv6 extension headers',
];

/** One decoded frame, copied out of the engine for text (engine/constants.ts documents each field). */
export interface DecodedPacket {
  ipVersion: number;
  src0: number;
  src1: number;
  src2: number;
  src3: number;
  dst0: number;
  dst1: number;
  dst2: number;
  dst3: number;
  proto: number;
  ipLength: number;
  fragment: number;
  hasPorts: boolean;
  sport: number;
  dport: number;
  hasTcpFlags: boolean;
  tcpFlags: number;
  seq: number;
  ack: number;
  window: number;
  payloadLength: number;
  hasIcmp: boolean;
  icmpType: number;
  icmpCode: number;
  hasIcmpEcho: boolean;
  icmpId: number;
  icmpSeq: number;
  transportTruncated: boolean;
  badChecksums: number;
  udpChecksumsVerified: number;
  tunnel: number;
  outerVersion: number;
  outerSrc0: number;
  outerSrc1: number;
  outerSrc2: number;
  outerSrc3: number;
  outerDst0: number;
  outerDst1: number;
  outerDst2: number;
  outerDst3: number;
  outerSport: number;
  outerDport: number;
  vni: number;
  vxlanFlags: number;
  etherType: number;
  /** Where the non-IP payload starts and where the frame ends, in the caller's buffer. */
  l3Offset: number;
  frameEnd: number;
  /** The first problem met, as a fixed phrase, with byte counts (-1 when they do not apply). */
  problem: string | null;
  problemHave: number;
  problemNeed: number;
}

interface EngineExports {
  start(limit: number): void;
  decode(start: number, capturedLength: number, wireLength: number, linkType: number): void;
  packet(
    frame: number,
    capturedLength: number,
    wireLength: number,
    linkType: number,
    sec: number,
    nsec: number,
  ): number;
  pcapRecords(pos: number, end: number, bigEndian: number, nanosecondUnits: number, linkType: number): number;
  onesSum(from: number, to: number): number;
}

let compiled: WebAssembly.Module | null = null;

function engineModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(readFileSync(new URL('./engine/engine.wasm', import.meta.url)));
  return compiled;
}

export interface CaptureEngineOptions {
  /** Bytes after the engine's own areas for `region()` (the file's read buffers). */
  room?: number;
  maxFlows?: number;
  vxlanPorts?: readonly number[];
}

export class CaptureEngine {
  readonly #bytes: Uint8Array;
  readonly #words: Uint32Array;
  readonly #signed: Int32Array;
  readonly #doubles: Float64Array;
  readonly #engine: EngineExports;

  constructor(options: CaptureEngineOptions = {}) {
    const pages = Math.ceil((ROOM + (options.room ?? 0)) / WASM_PAGE_BYTES);
    // Fixed size: a memory that grew would detach the buffers handed out over it.
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const instance = new WebAssembly.Instance(engineModule(), { env: { memory } });
    this.#engine = instance.exports as unknown as EngineExports;
    this.#bytes = new Uint8Array(memory.buffer);
    this.#words = new Uint32Array(memory.buffer);
    this.#signed = new Int32Array(memory.buffer);
    this.#doubles = new Float64Array(memory.buffer);
    for (const port of options.vxlanPorts ?? [])
      if (Number.isInteger(port) && port > 0 && port < 65536) this.#bytes[VXLAN_PORTS + port] = 1;
    this.#engine.start(options.maxFlows ?? MAX_FLOWS);
  }

  /** `length` bytes of the room, from `offset` in it: a buffer whose frames are decoded where they lie. */
  region(offset: number, length: number): Buffer {
    const start = ROOM + offset;
    if (offset < 0 || start + length > this.#bytes.length)
      throw new RangeError(`region ${offset}+${length} is outside the ${this.#bytes.length - ROOM} bytes of room`);
    return Buffer.from(this.#bytes.buffer, start, length);
  }

  /** Whether `buf` lies in the engine's memory (a `region()`): its frames are decoded where they lie. */
  decodesInPlace(buf: Uint8Array): boolean {
    return buf.buffer === this.#bytes.buffer;
  }

  /**
   * Where buf[offset, offset + length) is in the memory, copied to the frame scratch area unless it is there
   * already. A copied frame is cut to MAX_CAPTURED_LENGTH (libpcap refuses longer records; only pcapng could hold one).
   */
  #place(buf: Uint8Array, offset: number, length: number): number {
    if (this.decodesInPlace(buf)) return buf.byteOffset + offset;
    this.#bytes.set(buf.subarray(offset, offset + Math.min(length, MAX_CAPTURED_LENGTH)), FRAME_SCRATCH);
    return FRAME_SCRATCH;
  }

  #placedLength(buf: Uint8Array, length: number): number {
    return this.decodesInPlace(buf) ? length : Math.min(length, MAX_CAPTURED_LENGTH);
  }

  /** Counts one packet record (its frame at buf[offset, offset + capturedLength)); returns its problem code. */
  packet(
    buf: Uint8Array,
    offset: number,
    capturedLength: number,
    wireLength: number,
    linkType: number,
    sec: number,
    nsec: number,
  ): number {
    const frame = this.#place(buf, offset, capturedLength);
    return this.#engine.packet(frame, this.#placedLength(buf, capturedLength), wireLength, linkType, sec, nsec);
  }

  /**
   * The whole classic pcap records of `chunk` (which must be `decodesInPlace`) from `pos`, until one that is not whole
   * or impossible, or after one with a problem (`lastHadProblem`). Returns where it stopped, in the chunk.
   */
  pcapRecords(chunk: Buffer, pos: number, bigEndian: boolean, nanosecondUnits: boolean, linkType: number): number {
    const base = chunk.byteOffset;
    const end = this.#engine.pcapRecords(base + pos, base + chunk.length, +bigEndian, +nanosecondUnits, linkType);
    return end - base;
  }

  get lastHadProblem(): boolean {
    return this.#words[PACKET / 4 + P_PROBLEM] !== PROBLEM_NONE;
  }

  /** Decodes a frame without counting it. */
  decode(buf: Uint8Array, offset: number, capturedLength: number, wireLength: number, linkType: number): DecodedPacket {
    const frame = this.#place(buf, offset, capturedLength);
    this.#engine.decode(frame, this.#placedLength(buf, capturedLength), wireLength, linkType);
    return this.lastPacket(offset);
  }

  /** The summary counter in `slot` (C_*). */
  counter(slot: number): number {
    return this.#doubles[COUNTERS / 8 + slot]!;
  }

  get packets(): number {
    return this.counter(C_PACKETS);
  }

  /** Words of flow `id`'s key (version<<8|proto, ports, side-0 address, side-1 address). */
  flowKey(id: number): Uint32Array {
    const at = FLOW_KEYS / 4 + id * KEY_WORDS;
    return this.#words.subarray(at, at + KEY_WORDS);
  }

  /** Flow `id`'s record field at byte offset `field` (R_*): a float64 below R_FLAGS_SEEN, a 32-bit word from it. */
  flowDouble(id: number, field: number): number {
    return this.#doubles[(FLOW_RECORDS + id * FLOW_BYTES + field) / 8]!;
  }

  flowWord(id: number, field: number): number {
    return this.#words[(FLOW_RECORDS + id * FLOW_BYTES + field) / 4]!;
  }

  /** RFC 1071 sum of b[from, to) (at most MAX_CAPTURED_LENGTH bytes), folded: 0..0xffff. */
  onesSum(b: Uint8Array, from: number, to: number): number {
    if (to - from > MAX_CAPTURED_LENGTH) throw new RangeError(`${to - from} bytes: the engine sums frames, not more`);
    const at = this.#place(b, from, to - from);
    return this.#engine.onesSum(at, at + (to - from));
  }

  /** The packet just decoded, with its non-IP offsets in the caller's buffer (its frame started at `offset`). */
  lastPacket(offset: number): DecodedPacket {
    const w = this.#words.subarray(PACKET / 4, PACKET / 4 + PACKET_WORDS);
    const signed = this.#signed.subarray(PACKET / 4, PACKET / 4 + PACKET_WORDS);
    const code = w[P_PROBLEM]!;
    return {
      ipVersion: w[P_IP_VERSION]!,
      src0: w[P_SRC]!,
      src1: w[P_SRC + 1]!,
      src2: w[P_SRC + 2]!,
      src3: w[P_SRC + 3]!,
      dst0: w[P_DST]!,
      dst1: w[P_DST + 1]!,
      dst2: w[P_DST + 2]!,
      dst3: w[P_DST + 3]!,
      proto: w[P_PROTO]!,
      ipLength: w[P_IP_LENGTH]!,
      fragment: w[P_FRAGMENT]!,
      hasPorts: w[P_HAS_PORTS] !== 0,
      sport: w[P_SPORT]!,
      dport: w[P_DPORT]!,
      hasTcpFlags: w[P_HAS_TCP_FLAGS] !== 0,
      tcpFlags: w[P_TCP_FLAGS]!,
      seq: w[P_SEQ]!,
      ack: w[P_ACK]!,
      window: w[P_WINDOW]!,
      payloadLength: w[P_PAYLOAD_LENGTH]!,
      hasIcmp: w[P_HAS_ICMP] !== 0,
      icmpType: w[P_ICMP_TYPE]!,
      icmpCode: w[P_ICMP_CODE]!,
      hasIcmpEcho: w[P_HAS_ICMP_ECHO] !== 0,
      icmpId: w[P_ICMP_ID]!,
      icmpSeq: w[P_ICMP_SEQ]!,
      transportTruncated: w[P_TRANSPORT_TRUNCATED] !== 0,
      badChecksums: w[P_BAD_CHECKSUMS]!,
      udpChecksumsVerified: w[P_UDP_CHECKSUMS_VERIFIED]!,
      tunnel: w[P_TUNNEL]!,
      outerVersion: w[P_OUTER_VERSION]!,
      outerSrc0: w[P_OUTER_SRC]!,
      outerSrc1: w[P_OUTER_SRC + 1]!,
      outerSrc2: w[P_OUTER_SRC + 2]!,
      outerSrc3: w[P_OUTER_SRC + 3]!,
      outerDst0: w[P_OUTER_DST]!,
      outerDst1: w[P_OUTER_DST + 1]!,
      outerDst2: w[P_OUTER_DST + 2]!,
      outerDst3: w[P_OUTER_DST + 3]!,
      outerSport: w[P_OUTER_SPORT]!,
      outerDport: w[P_OUTER_DPORT]!,
      vni: w[P_VNI]!,
      vxlanFlags: w[P_VXLAN_FLAGS]!,
      etherType: w[P_ETHER_TYPE]!,
      l3Offset: offset + w[P_L3_OFFSET]!,
      frameEnd: offset + w[P_CAPTURED_LENGTH]!,
      problem: code === PROBLEM_NONE ? null : (PROBLEM_PHRASES[code] ?? `problem ${code}`),
      problemHave: signed[P_PROBLEM_HAVE]!,
      problemNeed: signed[P_PROBLEM_NEED]!,
    };
  }
}
