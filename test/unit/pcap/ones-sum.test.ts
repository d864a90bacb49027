import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { compileWat } from '../../../scripts/build-wasm.ts';
import { OnesSum, SUM_PIECE_BYTES, defaultOnesSum } from '../../../src/pcap/ones-sum.ts';

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

describe('OnesSum (ones-sum.wasm)', () => {
  it('is the build of ones-sum.wat (run `npm run build:wasm` after editing the source)', async () => {
    const built = await compileWat('src/pcap/ones-sum.wat');
    expect(Buffer.from(built).equals(readFileSync('src/pcap/ones-sum.wasm'))).toBe(true);
  });

  it('matches RFC 1071 on every length and alignment, in its memory and copied from outside it', () => {
    const sums = new OnesSum(8192);
    const inside = sums.region(0, 8192);
    const outside = bytes(8192, 7);
    outside.copy(inside);
    for (let from = 0; from < 40; from += 3) {
      for (let length = 0; length <= 700; length += 1 + (length >> 4)) {
        const want = referenceSum(outside, from, from + length);
        expect([from, length, sums.sum(inside, from, from + length)]).toEqual([from, length, want]);
        expect([from, length, sums.sum(outside, from, from + length)]).toEqual([from, length, want]);
      }
    }
  });

  it('sums ranges longer than one wasm call takes, and all-ones data whose lanes would overflow 32 bits', () => {
    const sums = new OnesSum(2 * SUM_PIECE_BYTES + 64);
    const noise = sums.region(0, 2 * SUM_PIECE_BYTES + 64);
    bytes(noise.length, 99).copy(noise);
    expect(sums.sum(noise, 1, noise.length - 3)).toBe(referenceSum(noise, 1, noise.length - 3));
    const ones = Buffer.alloc(SUM_PIECE_BYTES + 10, 0xff);
    expect(defaultOnesSum().sum(ones, 0, ones.length)).toBe(0xffff);
  });

  it('verifies a real header: the IPv4 header of RFC 1071 examples sums to 0xffff with its checksum in place', () => {
    // 45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7: the header Wikipedia's IPv4 checksum example uses.
    const header = Buffer.from('450000730000400040 11b861c0a80001c0a800c7'.replace(/ /g, ''), 'hex');
    expect(defaultOnesSum().sum(header, 0, header.length)).toBe(0xffff);
    header[11] = 0x62;
    expect(defaultOnesSum().sum(header, 0, header.length)).not.toBe(0xffff);
  });

  it('refuses a region outside its room', () => {
    expect(() => new OnesSum(1024).region(60_000, 10_000)).toThrow(/outside/);
  });
});
