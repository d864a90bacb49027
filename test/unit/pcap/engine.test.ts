import { describe, expect, it } from '@jest/globals';
import { createReadStream, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileEngine, ENGINE_WASM } from '../../../scripts/build-wasm.ts';
import { CaptureEngine } from '../../../src/pcap/capture-engine.ts';
import * as layout from '../../../src/pcap/engine/constants.ts';
import { summarizeCapture, summarizeCaptureFile, type CaptureSummary } from '../../../src/pcap/index.ts';
import { pcapngFile, tcpFrame } from '../../support/capture-builder.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** RFC 1071 as written: big-endian 16-bit words, a last odd byte padded with zero, end-around carry. */
function referenceSum(b: Uint8Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i += 2) sum += (b[i]! << 8) | (i + 1 < to ? b[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** Deterministic bytes (xorshift32), so a failure names a reproducible case. */
function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The tcpdump and Zeek test-suite captures the corpus tests read (copied from ../shared/corpus/pcap). */
function captures(): string[] {
  return readdirSync(FIXTURES)
    .filter((f) => /\.(pcap|pcapng)$/.test(f))
    .map((f) => join(FIXTURES, f));
}

describe('the capture engine (engine.wasm)', () => {
  it('is the build of engine.ts (run `npm run build:wasm` after editing the source)', async () => {
    const built = await compileEngine();
    expect(Buffer.from(built).equals(readFileSync(ENGINE_WASM))).toBe(true);
  }, 60_000);

  it('lays out its memory without overlaps, each area aligned for what it holds', () => {
    const areas: [string, number, number][] = [
      ['frame scratch', layout.FRAME_SCRATCH, layout.MAX_CAPTURED_LENGTH],
      ['packet', layout.PACKET, layout.PACKET_WORDS * 4],
      ['counters', layout.COUNTERS, layout.COUNTER_SLOTS * 8],
      ['VXLAN ports', layout.VXLAN_PORTS, 65536],
      ['flow slots', layout.FLOW_SLOTS, layout.SLOT_COUNT * 4],
      ['flow keys', layout.FLOW_KEYS, layout.MAX_FLOWS * layout.KEY_WORDS * 4],
      ['flow records', layout.FLOW_RECORDS, layout.MAX_FLOWS * layout.FLOW_BYTES],
    ];
    for (let i = 1; i < areas.length; i++) {
      const [name, start, size] = areas[i - 1]!;
      expect([name, start + size <= areas[i]![1]]).toEqual([name, true]);
    }
    const [, lastStart, lastSize] = areas[areas.length - 1]!;
    expect(lastStart + lastSize).toBeLessThanOrEqual(layout.ROOM);
    expect(layout.ROOM % layout.WASM_PAGE_BYTES).toBe(0);
    for (const [, start] of areas) expect(start % 8).toBe(0);
    expect(layout.FLOW_BYTES % 8).toBe(0);
    expect(layout.SLOT_COUNT & (layout.SLOT_COUNT - 1)).toBe(0);
    expect(layout.SLOT_COUNT).toBeGreaterThanOrEqual(2 * layout.MAX_FLOWS);
    const fields = Object.entries(layout);
    for (const [name, value] of fields.filter(([n]) => n.startsWith('P_'))) {
      const words =
        name === 'P_SRC' || name === 'P_DST' || name.startsWith('P_OUTER_S') || name.startsWith('P_OUTER_D') ? 4 : 1;
      expect([name, value + words <= layout.PACKET_WORDS]).toEqual([name, true]);
    }
    for (const [name, value] of fields.filter(([n]) => n.startsWith('C_')))
      expect([name, value < layout.COUNTER_SLOTS]).toEqual([name, true]);
    for (const [name, value] of fields.filter(([n]) => n.startsWith('R_'))) {
      const size = value < layout.R_FLAGS_SEEN ? 8 : name === 'R_OUTER_SRC' || name === 'R_OUTER_DST' ? 16 : 4;
      expect([name, value % Math.min(size, 8) === 0 && value + size <= layout.FLOW_BYTES]).toEqual([name, true]);
    }
  });

  it('sums as RFC 1071 on every length and alignment, in its memory and copied in from outside it', () => {
    const engine = new CaptureEngine({ room: 8192 });
    const inside = engine.region(0, 8192);
    const outside = bytes(8192, 7);
    outside.copy(inside);
    for (let from = 0; from < 40; from += 3) {
      for (let length = 0; length <= 700; length += 1 + (length >> 4)) {
        const want = referenceSum(outside, from, from + length);
        expect([from, length, engine.onesSum(inside, from, from + length)]).toEqual([from, length, want]);
        expect([from, length, engine.onesSum(outside, from, from + length)]).toEqual([from, length, want]);
      }
    }
  });

  it('sums a whole largest frame, all-ones data included (its SIMD lanes would overflow past 512 KiB)', () => {
    const engine = new CaptureEngine();
    const noise = bytes(layout.MAX_CAPTURED_LENGTH, 99);
    expect(engine.onesSum(noise, 1, noise.length - 3)).toBe(referenceSum(noise, 1, noise.length - 3));
    expect(engine.onesSum(Buffer.alloc(layout.MAX_CAPTURED_LENGTH, 0xff), 0, layout.MAX_CAPTURED_LENGTH)).toBe(0xffff);
    // 45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7: the IPv4 header of Wikipedia's checksum example.
    const header = Buffer.from('4500007300004000 4011b861c0a80001c0a800c7'.replace(/ /g, ''), 'hex');
    expect(engine.onesSum(header, 0, header.length)).toBe(0xffff);
  });

  it('refuses a region outside its room', () => {
    expect(() => new CaptureEngine({ room: 1024 }).region(60_000, 10_000)).toThrow(/outside/);
  });

  it('decodes a frame without counting it, its fields read back', () => {
    const engine = new CaptureEngine();
    const frame = tcpFrame('10.244.1.5', '10.96.0.1', { sport: 40000, dport: 443, flags: layout.TCP_SYN, seq: 7 });
    const p = engine.decode(
      Buffer.concat([Buffer.alloc(5), frame]),
      5,
      frame.length,
      frame.length,
      layout.LINKTYPE_ETHERNET,
    );
    expect(p).toMatchObject({
      ipVersion: 4,
      proto: layout.PROTO_TCP,
      sport: 40000,
      dport: 443,
      hasTcpFlags: true,
      seq: 7,
    });
    expect(p.problem).toBeNull();
    expect(engine.packets).toBe(0);
  });
});

describe('summaries through the engine', () => {
  const strip = (s: CaptureSummary) => ({ ...s, sample: [] });

  it.each(captures().map((path) => [path.replace(/.*\//, ''), path]))(
    '%s: a file decoded in place is summarized as the same bytes streamed in small chunks',
    async (_name, path) => {
      const inPlace = await summarizeCaptureFile(path, { sampleSize: 0 });
      const streamed = await summarizeCapture(createReadStream(path, { highWaterMark: 997 }), { sampleSize: 0 });
      expect(strip(inPlace)).toEqual(strip(streamed));
      const sampled = await summarizeCaptureFile(path, { sampleSize: 5 });
      expect(strip(sampled)).toEqual(strip(inPlace));
    },
  );

  it('damaged captures never fail the summary or trap in the engine, and stream as they read in place', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8snet-engine-'));
    try {
      let seed = 2026;
      const random = (n: number) => {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        return (seed >>> 0) % n;
      };
      for (const path of captures()) {
        const original = readFileSync(path);
        if (original.length <= 24) continue;
        for (let m = 0; m < 12; m++) {
          const damaged = Buffer.from(original);
          for (let i = 1 + random(20); i > 0; i--) damaged[24 + random(damaged.length - 24)] = random(256);
          const file = join(dir, 'damaged.pcap');
          writeFileSync(file, damaged);
          const options = { sampleSize: m % 2 === 0 ? 0 : 20, maxFlows: m % 3 === 0 ? 2 : 10_000 };
          const inPlace = await summarizeCaptureFile(file, options);
          expect(inPlace.errors.filter((e) => e.startsWith('internal error'))).toEqual([]);
          const chunks: Buffer[] = [];
          for (let at = 0; at < damaged.length; at += 777) chunks.push(damaged.subarray(at, at + 777));
          expect(await summarizeCapture(chunks, options)).toEqual(inPlace);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a pcapng timestamp beyond the Date range is written as an offset from the epoch, not a failure', async () => {
    const frame = tcpFrame('10.0.0.1', '10.0.0.2', { sport: 1, dport: 2, flags: layout.TCP_SYN, seq: 1 });
    // if_tsresol 0: whole seconds, so a 64-bit timestamp reaches 10^13 s (the year 318857).
    const file = pcapngFile([{ linkType: layout.LINKTYPE_ETHERNET, tsresol: 0 }], [{ data: frame, sec: 1e13 }]);
    const s = await summarizeCapture([file]);
    expect(s.errors).toEqual([]);
    expect(s.firstSeen).toBe('1970-01-01T00:00:00Z+10000000000000.000000s');
    expect(s.flows[0]!.firstSeen).toBe(s.firstSeen);
  });
});
