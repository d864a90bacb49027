/**
 * Flow accounting keyed by the inner 5-tuple, direction-normalised (the lower address/port side is side 0), in an
 * open-addressing hash table over typed arrays: a packet costs a key fill, a hash and usually one probe — no string
 * keys and no objects per packet. Each flow is one `FlowRecord` (created once per flow) updated in place.
 */
import {
  TCP_ACK,
  TCP_CWR,
  TCP_ECE,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
  type DecodedPacket,
} from './packet-decoder.ts';

/**
 * Distinct flows kept per summary. A few seconds' capture on a busy node holds hundreds of flows; 10 000 keeps the
 * table (≈ 1.4 MB) and the JSON bounded, and everything past it is still counted as "other".
 */
export const MAX_FLOWS = 10_000;
/** Words per key: version<<8|proto, sport<<16|dport, 4 address words per side. */
const KEY_WORDS = 10;
const INITIAL_SLOTS = 1024;

/** Bits of `FlowRecord.flagsSeen`, named as in `TCP_FLAG_NAMES`. */
const SEEN_SYN = 1;
const SEEN_SYN_ACK = 2;
const SEEN_ACK = 4;
const SEEN_FIN = 8;
const SEEN_RST = 16;
const SEEN_PSH = 32;
const SEEN_URG = 64;
const SEEN_ECE = 128;
const SEEN_CWR = 256;
export const TCP_FLAG_NAMES: readonly string[] = ['SYN', 'SYN-ACK', 'ACK', 'FIN', 'RST', 'PSH', 'URG', 'ECE', 'CWR'];

export interface FlowTunnel {
  type: 'vxlan' | 'ipip';
  /** Outer source/destination as sent by the side that sent the first tunnelled packet (see `FlowRecord.tunnelSide`). */
  outerSrc: string;
  outerDst: string;
  vni: number | null;
}

export class FlowRecord {
  packets = 0;
  bytes = 0;
  packetsSide0 = 0;
  packetsSide1 = 0;
  flagsSeen = 0;
  /** Side (0 or 1) that started the flow: the first pure SYN's sender, else inferred from a SYN-ACK, else the first packet's. */
  initiator = 0;
  initiatorFromSyn = false;
  synFrom = 0;
  synAckFrom = 0;
  handshakeComplete = false;
  resets = 0;
  retransmissions = 0;
  /** Per side: whether a sequence number was seen, and the highest sequence end (seq + data + SYN + FIN). */
  seqSeen = 0;
  maxEnd0 = 0;
  maxEnd1 = 0;
  fragments = 0;
  firstSec = 0;
  firstNsec = 0;
  lastSec = 0;
  lastNsec = 0;
  tunnel: FlowTunnel | null = null;
  tunnelSide = 0;
}

/** a ≤ b in 32-bit sequence space (RFC 1982 serial arithmetic). */
function seqAtMost(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** Updates `flow` with the TCP fields of `p`, sent by `side`. */
export function countTcp(flow: FlowRecord, p: DecodedPacket, side: number): void {
  const f = p.tcpFlags;
  const syn = (f & TCP_SYN) !== 0;
  const bit = 1 << side;
  let seen = flow.flagsSeen;
  if (syn) {
    if (f & TCP_ACK) {
      seen |= SEEN_SYN_ACK;
      flow.synAckFrom |= bit;
      if (!flow.initiatorFromSyn) flow.initiator = 1 - side;
    } else {
      seen |= SEEN_SYN;
      flow.synFrom |= bit;
      if (!flow.initiatorFromSyn) {
        flow.initiator = side;
        flow.initiatorFromSyn = true;
      }
    }
  } else if (f & TCP_ACK) {
    seen |= SEEN_ACK;
    if (
      !flow.handshakeComplete &&
      side === flow.initiator &&
      flow.synFrom & bit &&
      flow.synAckFrom & (1 << (1 - side))
    ) {
      flow.handshakeComplete = true;
    }
  }
  if (f & TCP_FIN) seen |= SEEN_FIN;
  if (f & TCP_RST) {
    seen |= SEEN_RST;
    flow.resets++;
  }
  if (f & TCP_PSH) seen |= SEEN_PSH;
  if (f & TCP_URG) seen |= SEEN_URG;
  if (f & TCP_ECE) seen |= SEEN_ECE;
  if (f & TCP_CWR) seen |= SEEN_CWR;
  flow.flagsSeen = seen;

  // Retransmission: a segment carrying data or SYN that adds nothing past the highest sequence already sent
  // this way (the same seq+len again, or an older one). Out-of-order arrival is counted too, as with any
  // single-point capture heuristic.
  const end = (p.seq + p.payloadLength + (syn ? 1 : 0) + (f & TCP_FIN ? 1 : 0)) >>> 0;
  if ((flow.seqSeen & bit) === 0) {
    flow.seqSeen |= bit;
    if (side === 0) flow.maxEnd0 = end;
    else flow.maxEnd1 = end;
    return;
  }
  const maxEnd = side === 0 ? flow.maxEnd0 : flow.maxEnd1;
  if (seqAtMost(end, maxEnd)) {
    // A keep-alive probe (RFC 9293 §3.8.4: seq = next − 1 with 0 or 1 garbage byte) is not a retransmission.
    const keepAlive = p.payloadLength <= 1 && !syn && (p.seq + 1) >>> 0 === maxEnd;
    if ((p.payloadLength > 0 || syn) && !keepAlive) flow.retransmissions++;
  } else if (side === 0) flow.maxEnd0 = end;
  else flow.maxEnd1 = end;
}

export function tcpFlagNames(flagsSeen: number): string[] {
  return TCP_FLAG_NAMES.filter((_, i) => flagsSeen & (1 << i));
}

export function handshakeState(flow: FlowRecord): 'complete' | 'syn-only' | 'syn-ack-seen' | 'none' {
  if (flow.handshakeComplete) return 'complete';
  if (flow.flagsSeen & SEEN_SYN_ACK) return 'syn-ack-seen';
  if (flow.flagsSeen & SEEN_SYN) return 'syn-only';
  return 'none';
}

function mix(h: number, k: number): number {
  // MurmurHash3 x86_32 body step.
  let x = Math.imul(k, 0xcc9e2d51);
  x = (x << 15) | (x >>> 17);
  x = Math.imul(x, 0x1b873593);
  h ^= x;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

export class FlowTable {
  /** Scratch key the caller fills before `lookup`. */
  readonly key = new Uint32Array(KEY_WORDS);
  readonly flows: FlowRecord[] = [];
  /** Set by `lookup`: whether the returned flow was just created. */
  created = false;
  readonly #maxFlows: number;
  #slots: Int32Array;
  #keys: Uint32Array;
  #hashes: Uint32Array;

  constructor(maxFlows: number = MAX_FLOWS) {
    this.#maxFlows = maxFlows;
    this.#slots = new Int32Array(INITIAL_SLOTS).fill(-1);
    this.#keys = new Uint32Array((INITIAL_SLOTS / 2) * KEY_WORDS);
    this.#hashes = new Uint32Array(INITIAL_SLOTS / 2);
  }

  /** Words of flow `id`'s key (version<<8|proto, ports, side-0 address, side-1 address). */
  keyOf(id: number): Uint32Array {
    return this.#keys.subarray(id * KEY_WORDS, id * KEY_WORDS + KEY_WORDS);
  }

  /** The flow for `key`, created if new and room is left; -1 when the table is full. */
  lookup(): number {
    const k = this.key;
    let h = mix(mix(mix(mix(0, k[0]!), k[1]!), k[2]!), k[6]!);
    // IPv4 keys have zeros in the other address words: hashing them would only cost time.
    if (k[0]! >>> 8 === 6) {
      h = mix(mix(mix(h, k[3]!), k[4]!), k[5]!);
      h = mix(mix(mix(h, k[7]!), k[8]!), k[9]!);
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    const slots = this.#slots;
    const mask = slots.length - 1;
    const keys = this.#keys;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const id = slots[s]!;
      if (id < 0) break;
      const o = id * KEY_WORDS;
      if (
        keys[o] === k[0] &&
        keys[o + 1] === k[1] &&
        keys[o + 2] === k[2] &&
        keys[o + 6] === k[6] &&
        keys[o + 3] === k[3] &&
        keys[o + 4] === k[4] &&
        keys[o + 5] === k[5] &&
        keys[o + 7] === k[7] &&
        keys[o + 8] === k[8] &&
        keys[o + 9] === k[9]
      ) {
        this.created = false;
        return id;
      }
    }
    if (this.flows.length >= this.#maxFlows) return -1;
    if ((this.flows.length + 1) * 2 > slots.length) this.#grow();
    const id = this.flows.length;
    this.flows.push(new FlowRecord());
    this.#keys.set(k, id * KEY_WORDS);
    this.#hashes[id] = h >>> 0;
    this.#place(id, h);
    this.created = true;
    return id;
  }

  #place(id: number, h: number): void {
    const slots = this.#slots;
    const mask = slots.length - 1;
    let s = h & mask;
    while (slots[s]! >= 0) s = (s + 1) & mask;
    slots[s] = id;
  }

  #grow(): void {
    const size = this.#slots.length * 2;
    this.#slots = new Int32Array(size).fill(-1);
    const keys = new Uint32Array((size / 2) * KEY_WORDS);
    keys.set(this.#keys);
    this.#keys = keys;
    const hashes = new Uint32Array(size / 2);
    hashes.set(this.#hashes);
    this.#hashes = hashes;
    for (let id = 0; id < this.flows.length; id++) this.#place(id, hashes[id]!);
  }
}
