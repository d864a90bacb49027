/**
 * RFC 1071 one's-complement sums (the IP, UDP and TCP checksum arithmetic) through ones-sum.wasm: 32 bytes per step
 * with WebAssembly SIMD instead of one 32-bit word per step in JavaScript.
 *
 * Each `OnesSum` has a WebAssembly memory of its own: a scratch area, then `room` bytes the caller may fill (the
 * capture file's read buffers, `region()`). Bytes that lie in the memory are summed in place; any other buffer (a
 * stream's chunk, a record that straddled two chunks) is first copied to the scratch area. A sum is synchronous, so
 * summaries that run concurrently on one thread can share one instance.
 */
import { readFileSync } from 'node:fs';

const WASM_PAGE_BYTES = 65_536;
/**
 * Largest range given to one wasm call: the module's i32 lanes are exact up to 512 KiB, and the scratch area holds
 * one piece. Even, so the pieces after the first keep the 16-bit word alignment.
 */
export const SUM_PIECE_BYTES = 256 * 1024;

type Sum16 = (from: number, to: number) => number;

let compiled: WebAssembly.Module | null = null;

function onesSumModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(readFileSync(new URL('./ones-sum.wasm', import.meta.url)));
  return compiled;
}

export class OnesSum {
  readonly #memory: Uint8Array;
  readonly #sum16: Sum16;

  /** `room`: bytes after the scratch area for `region()`. */
  constructor(room = 0) {
    const pages = Math.ceil((SUM_PIECE_BYTES + room) / WASM_PAGE_BYTES);
    // Fixed size: a memory that grew would detach the buffers handed out over it.
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const instance = new WebAssembly.Instance(onesSumModule(), { env: { memory } });
    this.#sum16 = instance.exports.sum16 as Sum16;
    this.#memory = new Uint8Array(memory.buffer);
  }

  /** `length` bytes of the room, from `offset` in it: a buffer whose bytes are summed where they lie. */
  region(offset: number, length: number): Buffer {
    const start = SUM_PIECE_BYTES + offset;
    if (offset < 0 || start + length > this.#memory.length)
      throw new RangeError(
        `region ${offset}+${length} is outside the ${this.#memory.length - SUM_PIECE_BYTES} bytes of room`,
      );
    return Buffer.from(this.#memory.buffer, start, length);
  }

  /** The sum of the big-endian 16-bit words of b[from, to) (a last odd byte padded with zero), folded: 0..0xffff. */
  sum(b: Uint8Array, from: number, to: number): number {
    let sum: number;
    if (to - from <= SUM_PIECE_BYTES) sum = this.#piece(b, from, to);
    else {
      sum = 0;
      for (let start = from; start < to; start += SUM_PIECE_BYTES)
        sum += this.#piece(b, start, Math.min(to, start + SUM_PIECE_BYTES));
      sum = (sum & 0xffff) + (sum >>> 16);
      sum = (sum & 0xffff) + (sum >>> 16);
    }
    // Summed as little-endian words; byte order commutes with the one's-complement sum (RFC 1071 §2(B)).
    return ((sum & 0xff) << 8) | (sum >>> 8);
  }

  #piece(b: Uint8Array, from: number, to: number): number {
    if (b.buffer === this.#memory.buffer) return this.#sum16(b.byteOffset + from, b.byteOffset + to);
    this.#memory.set(b.subarray(from, to), 0);
    return this.#sum16(0, to - from);
  }
}

let threadDefault: OnesSum | null = null;

/** This thread's instance for buffers outside any instance's memory (streams, tests): a scratch area alone. */
export function defaultOnesSum(): OnesSum {
  threadDefault ??= new OnesSum();
  return threadDefault;
}
