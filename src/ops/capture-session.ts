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
 * The node-side bound's margin over the window: tcpdump's own time cap (coreutils `timeout` on the node) starts
 * when the node starts it, before it is listening, so it gets this much more than the window. With a `windowMs`
 * the capture is not left to run into it: it is stopped `windowMs` after every capture is listening (readiness,
 * below) — the margin only bounds a capture whose client went away.
 */
export const CAPTURE_SETUP_SECONDS = 2;
/**
 * After the test traffic returns, captures run at least this much longer so its last packets, already on the wire or
 * in tcpdump's pipe and the SSH channel, reach us (the lab's round trip through sshd is a few ms; a cloud's is ~100).
 */
export const CAPTURE_TAIL_MS = 300;

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
  | {
      ok: true;
      p: CapturePointRequest<Role>;
      done: Promise<{ exitCode: number | null; stderr: string }>;
      ready: Promise<void>;
      summary: Promise<Summary>;
      chunks: Buffer[];
      stop: () => void;
    }
  | { ok: false; p: CapturePointRequest<Role>; error: string };

async function startPoint<Role extends string, Summary>(
  shell: NodeShell,
  p: CapturePointRequest<Role>,
  summarize: (pcap: Readable) => Promise<Summary>,
  signal: AbortSignal,
): Promise<Started<Role, Summary>> {
  try {
    // Our own stop (the window is over) ends the capture like a cancel does, without cancelling the job.
    const stopper = new AbortController();
    const stream = await shell.capture(p.node, p.spec, AbortSignal.any([signal, stopper.signal]));
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
    return {
      ok: true,
      p,
      done: stream.done,
      ready,
      summary: summarize(toSummary),
      chunks,
      stop: () => stopper.abort(),
    };
  } catch (err) {
    return { ok: false, p, error: describeError(err) };
  }
}

async function finishPoint<Role extends string, Summary>(
  s: Started<Role, Summary>,
): Promise<CapturePointResult<Role, Summary>> {
  const base = { node: s.p.node.name, interface: s.p.spec.interface, role: s.p.role };
  if (!s.ok) return { ...base, summary: null, pcap: null, error: s.error };
  try {
    const [summary, done] = await Promise.all([s.summary, s.done]);
    const pcap = Buffer.concat(s.chunks);
    // tcpdump that never wrote a file header failed to start (no such interface, no permission).
    const failed = pcap.length < PCAP_HEADER_BYTES;
    return {
      ...base,
      summary,
      pcap,
      error: failed ? `tcpdump exited ${done.exitCode}: ${done.stderr.trim().split('\n').at(-1) ?? ''}` : null,
    };
  } catch (err) {
    return { ...base, summary: null, pcap: Buffer.concat(s.chunks), error: describeError(err) };
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Starts every capture, waits until each is listening (its pcap file header arrived: tcpdump -U writes it once it
 * listens), runs `whileCapturing` (the test traffic) and returns its outcome with every point's summary. With
 * `windowMs`, the captures are stopped that long after all were listening (and at least CAPTURE_TAIL_MS after the
 * traffic returned); without it, or if they end first, when they hit their packet or time caps.
 */
export async function runCaptures<Role extends string, Summary, Traffic>(
  shell: NodeShell,
  points: readonly CapturePointRequest<Role>[],
  summarize: (pcap: Readable) => Promise<Summary>,
  options: {
    signal: AbortSignal;
    whileCapturing?: () => Promise<Traffic>;
    locks?: CaptureLocks | undefined;
    windowMs?: number;
  },
): Promise<{ points: CapturePointResult<Role, Summary>[]; traffic: Traffic | null }> {
  const release = options.locks ? await lockCapturePoints(options.locks, points) : async () => undefined;
  try {
    const started = await Promise.all(points.map((p) => startPoint(shell, p, summarize, options.signal)));
    await Promise.all(started.map((s) => (s.ok ? s.ready : undefined)));
    const readyAt = performance.now();
    const traffic = options.whileCapturing ? await options.whileCapturing() : null;
    if (options.signal.aborted) throw new K8snetError('timeout', 'cancelled while capturing');
    if (options.windowMs !== undefined) {
      const stopAt = Math.max(readyAt + options.windowMs, performance.now() + CAPTURE_TAIL_MS);
      const ended = new AbortController();
      // Captures that hit their packet cap first end the wait early.
      void Promise.all(started.map((s) => (s.ok ? s.done : undefined))).then(
        () => ended.abort(),
        () => ended.abort(),
      );
      await sleep(stopAt - performance.now(), AbortSignal.any([options.signal, ended.signal]));
      for (const s of started) if (s.ok) s.stop();
    }
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
async function lockCapturePoints(
  locks: CaptureLocks,
  points: readonly CapturePointRequest<string>[],
): Promise<() => Promise<void>> {
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
