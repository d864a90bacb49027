/**
 * Streaming reader of capture containers: classic pcap (µs and ns magic, both byte orders) and pcapng (SHB, IDB,
 * EPB, SPB and the obsolete Packet Block; every other block is skipped; per-interface link type, timestamp
 * resolution and offset; both byte orders, a new section may switch them).
 *
 * Chunks are handed in with `write()`; each complete record is passed to the sink straight out of the chunk (no
 * copy). Only a record that straddles two chunks is copied, into one carry buffer that never grows past the largest
 * record allowed. Memory therefore stays flat whatever the capture size. The first problem with the container
 * itself (bad magic, impossible length, a file that ends inside a record) stops the reader with one clear message
 * naming the record and its byte offset; everything before it has already reached the sink.
 */
import { MAX_CAPTURED_LENGTH } from './engine/constants.ts';

/** What a sink's `pcapRecords` took: where it stopped and how many records it took. */
export interface RecordsTaken {
  pos: number;
  records: number;
}

/** Receives each packet record. `buf` is only valid during the call. */
export interface PacketSink {
  onPacket(
    buf: Buffer,
    offset: number,
    capturedLength: number,
    originalLength: number,
    linkType: number,
    seconds: number,
    nanoseconds: number,
  ): void;
  /**
   * Optional fast path for classic pcap: takes every whole record of `chunk` from `pos` itself, stopping before one
   * that is not whole or whose captured length exceeds MAX_CAPTURED_LENGTH (the reader handles those), and says in
   * `taken` what it took. Returns false when it cannot take this chunk now; the records then go to `onPacket`.
   */
  pcapRecords?(
    chunk: Buffer,
    pos: number,
    bigEndian: boolean,
    nanosecondUnits: boolean,
    linkType: number,
    taken: RecordsTaken,
  ): boolean;
}

/** libpcap's limit on a pcapng block (sf-pcapng.c, MAX_BLOCKSIZE = 16 MiB): larger means a corrupt length. */
export const MAX_PCAPNG_BLOCK_BYTES = 16 * 1024 * 1024;

const PCAP_MAGIC_MICRO = 0xa1b2c3d4;
const PCAP_MAGIC_NANO = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const PCAP_FILE_HEADER_BYTES = 24;
const PCAP_RECORD_HEADER_BYTES = 16;
/** Bytes needed before the length of the next unit is known (pcapng: type, length, byte-order magic). */
const PEEK_BYTES = 12;

const BLOCK_IDB = 1;
const BLOCK_OBSOLETE_PACKET = 2;
const BLOCK_SPB = 3;
const BLOCK_EPB = 6;

const OPT_END = 0;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;

type Format = 'unknown' | 'pcap' | 'pcapng';

interface PcapngInterface {
  linkType: number;
  snapLength: number;
  /** Timestamp units per second as 10^n or 2^n: `unitsPerSecond` when it fits a double's safe range. */
  unitsPerSecond: number;
  offsetSeconds: number;
}

function readU32(buf: Buffer, off: number, le: boolean): number {
  return le
    ? (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0
    : ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

function readU16(buf: Buffer, off: number, le: boolean): number {
  return le ? buf[off]! | (buf[off + 1]! << 8) : (buf[off]! << 8) | buf[off + 1]!;
}

/**
 * Splits a 64-bit timestamp (`high`·2³² + `low` units) into whole seconds and nanoseconds exactly, by long division
 * in 16-bit digits (every intermediate stays below 2⁴⁶, inside a double's exact range; the divisor is at most 2³⁰).
 */
export function splitTimestamp(
  high: number,
  low: number,
  unitsPerSecond: number,
  out: { sec: number; nsec: number },
): void {
  const digits = [high >>> 16, high & 0xffff, low >>> 16, low & 0xffff];
  let rem = 0;
  let quotient = 0;
  for (const d of digits) {
    const cur = rem * 65536 + d;
    const q = Math.floor(cur / unitsPerSecond);
    rem = cur - q * unitsPerSecond;
    quotient = quotient * 65536 + q;
  }
  out.sec = quotient;
  out.nsec = unitsPerSecond === 1e9 ? rem : Math.floor((rem * 1e9) / unitsPerSecond);
}

export class CaptureReader {
  readonly #sink: PacketSink;
  #format: Format = 'unknown';
  #le = true;
  #nanoPcap = false;
  #pcapLinkType = 0;
  #interfaces: PcapngInterface[] = [];
  #carry: Buffer = Buffer.alloc(0);
  #carryLen = 0;
  /** Byte offset in the input of the unit being read (the carry's start when it holds bytes). */
  #offset = 0;
  #records = 0;
  #bytesSeen = 0;
  #lastSec = 0;
  #lastNsec = 0;
  readonly #ts = { sec: 0, nsec: 0 };
  readonly #taken: RecordsTaken = { pos: 0, records: 0 };
  #error: string | null = null;
  /** pcap: whether the 24-byte file header has been read. */
  #headerDone = false;
  readonly linkTypes = new Set<number>();

  constructor(sink: PacketSink) {
    this.#sink = sink;
  }

  /** Whether timestamps are finer than microseconds (nanosecond pcap, or a pcapng interface with if_tsresol > 6). */
  get nanosecondResolution(): boolean {
    return this.#nanoPcap || this.#interfaces.some((i) => i.unitsPerSecond > 1e6);
  }

  get format(): Format {
    return this.#format;
  }

  /** The first container problem, or null. Once set, further input is ignored. */
  get error(): string | null {
    return this.#error;
  }

  /** Feed the next chunk. Never throws for bad input: problems end up in `error`. */
  write(chunk: Buffer): void {
    if (this.#error !== null || chunk.length === 0) return;
    this.#bytesSeen += chunk.length;
    let pos = 0;
    if (this.#carryLen > 0) {
      pos = this.#fillCarry(chunk);
      if (pos < 0) return;
    }
    const len = chunk.length;
    if (this.#format === 'pcap' && this.#headerDone) pos = this.#pcapRecords(chunk, pos);
    while (this.#error === null) {
      if (len - pos < PEEK_BYTES) break;
      const unit = this.#unitLength(chunk, pos);
      if (unit < 0) return;
      if (len - pos < unit) break;
      this.#processUnit(chunk, pos, unit);
      this.#offset += unit;
      pos += unit;
    }
    if (this.#error === null && pos < len) this.#startCarry(chunk, pos);
  }

  /**
   * The hot loop for classic pcap: every complete record in `chunk` from `pos`, straight to the sink; returns where
   * the first incomplete record starts (or where a bad record header was found, after failing).
   */
  #pcapRecords(chunk: Buffer, pos: number): number {
    const len = chunk.length;
    const le = this.#le;
    const sink = this.#sink;
    const linkType = this.#pcapLinkType;
    const fracToNs = this.#nanoPcap ? 1 : 1000;
    // One unaligned load per header field (four byte loads each through readU32).
    const view = new DataView(chunk.buffer, chunk.byteOffset, len);
    const taken = this.#taken;
    while (len - pos >= PCAP_RECORD_HEADER_BYTES) {
      if (sink.pcapRecords?.(chunk, pos, !le, fracToNs === 1, linkType, taken) === true) {
        this.#records += taken.records;
        this.#offset += taken.pos - pos;
        pos = taken.pos;
        break; // what is left is not a whole record, or a bad one: reported or carried by write()
      }
      const caplen = view.getUint32(pos + 8, le);
      if (caplen > MAX_CAPTURED_LENGTH) break; // #unitLength reports it with the record number and offset
      const unit = PCAP_RECORD_HEADER_BYTES + caplen;
      if (len - pos < unit) break;
      // Counted in the loop, not after it: V8 compiles this loop on the stack (OSR) before the code after it has
      // ever run, and a field store there would leave that code without feedback, deoptimizing once per chunk.
      this.#records++;
      this.#offset += unit;
      sink.onPacket(
        chunk,
        pos + PCAP_RECORD_HEADER_BYTES,
        caplen,
        view.getUint32(pos + 12, le),
        linkType,
        view.getUint32(pos, le),
        view.getUint32(pos + 4, le) * fracToNs,
      );
      pos += unit;
    }
    return pos;
  }

  /** Input is over: a partial unit left over is a truncated file. */
  end(): void {
    if (this.#error !== null) return;
    if (this.#bytesSeen === 0) {
      this.#fail('empty input: no capture file header');
      return;
    }
    if (this.#carryLen === 0) return;
    const what = this.#format === 'unknown' ? 'the file header' : this.#unitName();
    const need = this.#carryLen >= PEEK_BYTES ? this.#unitLength(this.#carry, 0) : -1;
    if (this.#error !== null) return;
    const needText = need > 0 ? `${need} bytes needed, ${this.#carryLen} present` : `${this.#carryLen} bytes present`;
    this.#fail(`truncated capture: the input ends inside ${what} at offset ${this.#offset} (${needText})`);
  }

  #unitName(): string {
    if (this.#format === 'pcap') return this.#headerDone ? `packet record ${this.#records + 1}` : 'the file header';
    return `pcapng block ${this.#records + 1}`;
  }

  #fail(message: string): void {
    this.#error = message;
    this.#carryLen = 0;
  }

  #startCarry(chunk: Buffer, pos: number): void {
    const rest = chunk.length - pos;
    this.#ensureCarry(Math.max(rest, PEEK_BYTES));
    chunk.copy(this.#carry, 0, pos);
    this.#carryLen = rest;
  }

  #ensureCarry(size: number): void {
    if (this.#carry.length >= size) return;
    const next = Buffer.allocUnsafe(Math.max(size, this.#carry.length * 2, 4096));
    this.#carry.copy(next, 0, 0, this.#carryLen);
    this.#carry = next;
  }

  /** Completes the unit held in the carry from `chunk`; returns where the chunk's own units begin, or -1. */
  #fillCarry(chunk: Buffer): number {
    let pos = 0;
    if (this.#carryLen < PEEK_BYTES) {
      const take = Math.min(PEEK_BYTES - this.#carryLen, chunk.length);
      chunk.copy(this.#carry, this.#carryLen, 0, take);
      this.#carryLen += take;
      pos = take;
      if (this.#carryLen < PEEK_BYTES) return -1;
    }
    const unit = this.#unitLength(this.#carry, 0);
    if (unit < 0) return -1;
    this.#ensureCarry(unit);
    const take = Math.min(unit - this.#carryLen, chunk.length - pos);
    if (take > 0) {
      chunk.copy(this.#carry, this.#carryLen, pos, pos + take);
      this.#carryLen += take;
      pos += take;
    }
    if (this.#carryLen < unit) return -1;
    this.#carryLen = 0;
    this.#processUnit(this.#carry, 0, unit);
    this.#offset += unit;
    return this.#error === null ? pos : -1;
  }

  /** Length of the unit starting at `pos` (at least PEEK_BYTES present), or -1 after failing. */
  #unitLength(buf: Buffer, pos: number): number {
    if (this.#format === 'unknown') return this.#detect(buf, pos);
    if (this.#format === 'pcap') {
      if (!this.#headerDone) return PCAP_FILE_HEADER_BYTES;
      const caplen = readU32(buf, pos + 8, this.#le);
      if (caplen > MAX_CAPTURED_LENGTH) {
        this.#fail(
          `packet record ${this.#records + 1} at offset ${this.#offset}: captured length ${caplen} exceeds ${MAX_CAPTURED_LENGTH} (corrupt record header)`,
        );
        return -1;
      }
      return PCAP_RECORD_HEADER_BYTES + caplen;
    }
    const type = readU32(buf, pos, this.#le);
    if (type === PCAPNG_SHB) {
      const bom = buf.readUInt32LE(pos + 8);
      if (bom === PCAPNG_BYTE_ORDER_MAGIC) this.#le = true;
      else if (bom === 0x4d3c2b1a) this.#le = false;
      else {
        this.#fail(`pcapng section header at offset ${this.#offset}: bad byte-order magic 0x${bom.toString(16)}`);
        return -1;
      }
    }
    const total = readU32(buf, pos + 4, this.#le);
    if (total < 12 || total % 4 !== 0 || total > MAX_PCAPNG_BLOCK_BYTES) {
      this.#fail(
        `pcapng block ${this.#records + 1} (type 0x${type.toString(16)}) at offset ${this.#offset}: impossible block length ${total}`,
      );
      return -1;
    }
    return total;
  }

  #detect(buf: Buffer, pos: number): number {
    const magic = buf.readUInt32LE(pos);
    const magicBe = buf.readUInt32BE(pos);
    if (magic === PCAP_MAGIC_MICRO || magic === PCAP_MAGIC_NANO) {
      this.#format = 'pcap';
      this.#le = true;
      this.#nanoPcap = magic === PCAP_MAGIC_NANO;
      return PCAP_FILE_HEADER_BYTES;
    }
    if (magicBe === PCAP_MAGIC_MICRO || magicBe === PCAP_MAGIC_NANO) {
      this.#format = 'pcap';
      this.#le = false;
      this.#nanoPcap = magicBe === PCAP_MAGIC_NANO;
      return PCAP_FILE_HEADER_BYTES;
    }
    if (magic === PCAPNG_SHB) {
      this.#format = 'pcapng';
      return this.#unitLength(buf, pos);
    }
    this.#fail(
      `not a pcap or pcapng file: unknown magic number 0x${magicBe.toString(16).padStart(8, '0')} at offset ${this.#offset}`,
    );
    return -1;
  }

  #processUnit(buf: Buffer, pos: number, unit: number): void {
    if (this.#format === 'pcap') {
      if (this.#headerDone) this.#pcapRecord(buf, pos);
      else this.#pcapFileHeader(buf, pos);
      return;
    }
    this.#pcapngBlock(buf, pos, unit);
  }

  #pcapFileHeader(buf: Buffer, pos: number): void {
    this.#headerDone = true;
    // LinkType field: the low 26 bits are the link type, the upper bits carry FCS information (pcap spec, LINKTYPE).
    this.#pcapLinkType = readU32(buf, pos + 20, this.#le) & 0x03ffffff;
    this.linkTypes.add(this.#pcapLinkType);
  }

  #pcapRecord(buf: Buffer, pos: number): void {
    this.#records++;
    const le = this.#le;
    const sec = readU32(buf, pos, le);
    const frac = readU32(buf, pos + 4, le);
    const caplen = readU32(buf, pos + 8, le);
    const origlen = readU32(buf, pos + 12, le);
    this.#sink.onPacket(
      buf,
      pos + PCAP_RECORD_HEADER_BYTES,
      caplen,
      origlen,
      this.#pcapLinkType,
      sec,
      this.#nanoPcap ? frac : frac * 1000,
    );
  }

  #pcapngBlock(buf: Buffer, pos: number, total: number): void {
    this.#records++;
    const le = this.#le;
    const type = readU32(buf, pos, le);
    const trailer = readU32(buf, pos + total - 4, le);
    if (trailer !== total) {
      this.#fail(
        `pcapng block ${this.#records} (type 0x${type.toString(16)}) at offset ${this.#offset}: trailing length ${trailer} differs from ${total}`,
      );
      return;
    }
    const bodyEnd = pos + total - 4;
    switch (type) {
      case PCAPNG_SHB:
        this.#interfaces = [];
        return;
      case BLOCK_IDB:
        this.#interfaceBlock(buf, pos + 8, bodyEnd);
        return;
      case BLOCK_EPB:
      case BLOCK_OBSOLETE_PACKET:
        this.#enhancedPacket(buf, pos + 8, bodyEnd, type === BLOCK_EPB);
        return;
      case BLOCK_SPB:
        this.#simplePacket(buf, pos + 8, bodyEnd);
        return;
      default:
        return; // name resolution, statistics, custom, decryption secrets, …: nothing to summarize
    }
  }

  #interfaceBlock(buf: Buffer, body: number, end: number): void {
    if (end - body < 8) {
      this.#fail(
        `pcapng interface description block at offset ${this.#offset}: body of ${end - body} bytes is too short`,
      );
      return;
    }
    const le = this.#le;
    const iface: PcapngInterface = {
      linkType: readU16(buf, body, le),
      snapLength: readU32(buf, body + 4, le),
      unitsPerSecond: 1e6,
      offsetSeconds: 0,
    };
    let opt = body + 8;
    while (opt + 4 <= end) {
      const code = readU16(buf, opt, le);
      const len = readU16(buf, opt + 2, le);
      if (code === OPT_END || opt + 4 + len > end) break;
      if (code === OPT_IF_TSRESOL && len >= 1) {
        const v = buf[opt + 4]!;
        const exp = v & 0x7f;
        // 10^-n or 2^-n seconds; past 2^-30 / 10^-9 the long division in splitTimestamp would lose exactness.
        iface.unitsPerSecond = v & 0x80 ? 2 ** Math.min(exp, 30) : 10 ** Math.min(exp, 9);
      } else if (code === OPT_IF_TSOFFSET && len >= 8) {
        const hi = readU32(buf, opt + 4 + (le ? 4 : 0), le) | 0;
        const lo = readU32(buf, opt + 4 + (le ? 0 : 4), le);
        iface.offsetSeconds = hi * 4294967296 + lo;
      }
      opt += 4 + ((len + 3) & ~3);
    }
    this.#interfaces.push(iface);
    this.linkTypes.add(iface.linkType);
  }

  #enhancedPacket(buf: Buffer, body: number, end: number, enhanced: boolean): void {
    const le = this.#le;
    if (end - body < 20) {
      this.#fail(
        `pcapng packet block ${this.#records} at offset ${this.#offset}: body of ${end - body} bytes is too short`,
      );
      return;
    }
    const ifIndex = enhanced ? readU32(buf, body, le) : readU16(buf, body, le);
    const iface = this.#interfaces[ifIndex];
    if (iface === undefined) {
      this.#fail(
        `pcapng packet block ${this.#records} at offset ${this.#offset}: interface ${ifIndex} was never described`,
      );
      return;
    }
    const caplen = readU32(buf, body + 12, le);
    const origlen = readU32(buf, body + 16, le);
    if (body + 20 + caplen > end) {
      this.#fail(
        `pcapng packet block ${this.#records} at offset ${this.#offset}: captured length ${caplen} overruns the block`,
      );
      return;
    }
    splitTimestamp(readU32(buf, body + 4, le), readU32(buf, body + 8, le), iface.unitsPerSecond, this.#ts);
    this.#lastSec = this.#ts.sec + iface.offsetSeconds;
    this.#lastNsec = this.#ts.nsec;
    this.#sink.onPacket(buf, body + 20, caplen, origlen, iface.linkType, this.#lastSec, this.#lastNsec);
  }

  #simplePacket(buf: Buffer, body: number, end: number): void {
    const iface = this.#interfaces[0];
    if (iface === undefined || end - body < 4) {
      this.#fail(
        `pcapng simple packet block ${this.#records} at offset ${this.#offset}: no interface 0 or body too short`,
      );
      return;
    }
    const origlen = readU32(buf, body, this.#le);
    let caplen = Math.min(origlen, end - body - 4);
    if (iface.snapLength > 0) caplen = Math.min(caplen, iface.snapLength);
    // A Simple Packet Block has no timestamp: it shares the previous packet's time.
    this.#sink.onPacket(buf, body + 4, caplen, origlen, iface.linkType, this.#lastSec, this.#lastNsec);
  }
}
