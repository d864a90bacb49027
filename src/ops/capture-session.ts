/**
 * Several bounded captures at the same moment (trace: the source cali, the source node's tunnel and uplink, the
 * destination node's tunnel), with optional test traffic sent once every capture is listening. Each capture's
 * pcap stream is summarized as it arrives (nothing buffered but a copy for the attachment, itself bounded by the
 * packet cap × snap length).
 */
import type { Readable } from 'node:stream';
import { PassThrough } from 'node:stream';
import { K8snetError, describeError } from '../errors.ts';
import type { CaptureSpec, NodeShell, NodeTarget } from '../node/types.ts';
import type { CaptureLocks } from './deps.ts';

export interface CapturePointRequest<Role extends string = string> {
  node: NodeTarget;
  role: Role;
  spec: CaptureSpec;
}

export interface CapturePointResult<Role extends string, Summary> {
  node: string;
  interface: string;
  role: Role;
  summary: Summary | null;
  /** The raw pcap (headers only: snap length keeps payload out), for the Wireshark attachment. */
  pcap: Buffer | null;
  error: string | null;
}

/**
 * tcpdump's time cap starts when the node starts it, but test traffic starts only once every capture is listening
 * and the test command's own SSH session is open (about half a second each here): each capture gets this much
 * on top of the window the user asked for, so a one-second window still sees the traffic.
 */
export const CAPTURE_SETUP_SECONDS = 2;

/** tcpdump -U writes the 24-byte pcap file header as soon as it is listening: our "capture ready" signal. */
const PCAP_HEADER_BYTES = 24;
/** How long to wait for every tcpdump to start listening before sending test traffic anyway. */
const READY_TIMEOUT_MS = 5000;
/** pcap record header per packet. */
const RECORD_HEADER_BYTES = 16;

function firstBytes(stream: Readable, count: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const timer = setTimeout(finish, timeoutMs);
    function finish() {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', finish);
      stream.off('error', finish);
      resolve();
    }
    function onData(chunk: Buffer) {
      seen += chunk.length;
      if (seen >= count) finish();
    }
    stream.on('data', onData);
    stream.once('end', finish);
    stream.once('error', finish);
  });
}

type Started<Role extends string, Summary> =
  | { ok: true; p: CapturePointRequest<Role>; done: Promise<{ exitCode: number | null; stderr: string }>; ready: Promise<void>; summary: Promise<Summary>; chunks: Buffer[] }
  | { ok: false; p: CapturePointRequest<Role>; error: string };

async function startPoint<Role extends string, Summary>(
  shell: NodeShell,
  p: CapturePointRequest<Role>,
  summarize: (pcap: Readable) => Promise<Summary>,
  signal: AbortSignal,
): Promise<Started<Role, Summary>> {
  try {
    const stream = await shell.capture(p.node, p.spec, signal);
    // One tee: the summarizer and a bounded copy for the attachment read the same bytes.
    const toSummary = new PassThrough();
    const chunks: Buffer[] = [];
    let kept = 0;
    const keepLimit = PCAP_HEADER_BYTES + p.spec.maxPackets * (RECORD_HEADER_BYTES + p.spec.snapLength);
    const ready = firstBytes(stream.pcap, PCAP_HEADER_BYTES, READY_TIMEOUT_MS);
    stream.pcap.on('data', (chunk: Buffer) => {
      if (kept < keepLimit) {
        chunks.push(chunk.subarray(0, keepLimit - kept));
        kept += Math.min(chunk.length, keepLimit - kept);
      }
    });
    stream.pcap.pipe(toSummary);
    return { ok: true, p, done: stream.done, ready, summary: summarize(toSummary), chunks };
  } catch (err) {
    return { ok: false, p, error: describeError(err) };
  }
}

async function finishPoint<Role extends string, Summary>(s: Started<Role, Summary>): Promise<CapturePointResult<Role, Summary>> {
  const base = { node: s.p.node.name, interface: s.p.spec.interface, role: s.p.role };
  if (!s.ok) return { ...base, summary: null, pcap: null, error: s.error };
  try {
    const [summary, done] = await Promise.all([s.summary, s.done]);
    const pcap = Buffer.concat(s.chunks);
    // tcpdump that never wrote a file header failed to start (no such interface, no permission).
    const failed = pcap.length < PCAP_HEADER_BYTES;
    return { ...base, summary, pcap, error: failed ? `tcpdump exited ${done.exitCode}: ${done.stderr.trim().split('\n').at(-1) ?? ''}` : null };
  } catch (err) {
    return { ...base, summary: null, pcap: Buffer.concat(s.chunks), error: describeError(err) };
  }
}

/**
 * Starts every capture, waits until each is listening, runs `whileCapturing` (the test traffic) and returns its
 * outcome with every point's summary once the captures hit their packet or time caps.
 */
export async function runCaptures<Role extends string, Summary, Traffic>(
  shell: NodeShell,
  points: readonly CapturePointRequest<Role>[],
  summarize: (pcap: Readable) => Promise<Summary>,
  options: { signal: AbortSignal; whileCapturing?: () => Promise<Traffic>; locks?: CaptureLocks | undefined },
): Promise<{ points: CapturePointResult<Role, Summary>[]; traffic: Traffic | null }> {
  const release = options.locks ? await lockCapturePoints(options.locks, points) : async () => undefined;
  try {
    const started = await Promise.all(points.map((p) => startPoint(shell, p, summarize, options.signal)));
    await Promise.all(started.map((s) => (s.ok ? s.ready : undefined)));
    const traffic = options.whileCapturing ? await options.whileCapturing() : null;
    if (options.signal.aborted) throw new K8snetError('timeout', 'cancelled while capturing');
    const results = await Promise.all(started.map((s) => finishPoint(s)));
    // Captures cut short by a cancel saw too little to judge by: no result rather than a wrong one.
    if (options.signal.aborted) throw new K8snetError('timeout', 'cancelled while capturing');
    return { points: results, traffic };
  } finally {
    await release();
  }
}

/** The lock key of a capture point: one capture at a time per node interface (per netns for pod interfaces). */
export function captureLockKey(p: { node: NodeTarget; spec: { interface: string; netns?: string } }): string {
  return [p.node.name, p.spec.netns ?? '', p.spec.interface].join('/');
}

/** Takes every point's lock in one sorted order (two jobs wanting the same pair never deadlock); all or none. */
async function lockCapturePoints(locks: CaptureLocks, points: readonly CapturePointRequest<string>[]): Promise<() => Promise<void>> {
  const keys = [...new Set(points.map(captureLockKey))].sort();
  // Held for the longest capture plus setup and tcpdump's kill grace; a crashed holder's lock expires by itself.
  const ttlMs = (Math.max(0, ...points.map((p) => p.spec.maxSeconds)) + CAPTURE_SETUP_SECONDS + 15) * 1000;
  const releases: (() => Promise<void>)[] = [];
  const releaseAll = async () => {
    await Promise.all(releases.splice(0).map((r) => r().catch(() => undefined)));
  };
  try {
    for (const key of keys) releases.push(await locks.acquire(key, ttlMs));
  } catch (err) {
    await releaseAll();
    throw err;
  }
  return releaseAll;
}
