/**
 * NodeShell over SSH: catalogue commands and captures on the pool's per-node connections. Each command is one
 * ssh2 session channel (node-ssh's execCommand would turn stdout into a string, which corrupts pcap, and its exec()
 * throws on any stderr), read as Buffers with a byte cap, bounded on the node by `timeout` and on our side by a
 * deadline just past it. Aborting closes our end; the node-side watchdog (remote-command.ts) then kills the command.
 */
import { PassThrough } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import { InvalidInputError } from '../errors.ts';
import { tcpdump } from './catalogue.ts';
import { KILL_AFTER_SECONDS, exitMeansTimedOut, remoteCommandLine } from './remote-command.ts';
import { cancelled, type SshPool } from './ssh-pool.ts';
import type { CaptureSpec, CaptureStream, CommandResult, NodeCommand, NodeShell, NodeTarget } from './types.ts';

/** stderr is for diagnosis only: the first 64 KiB say what went wrong. */
export const STDERR_MAX_BYTES = 64 * 1024;
/** Our own deadline past the node-side one (timeout + kill-after): a node that stops answering is not waited on. */
const CLIENT_GRACE_MS = 5000;
/** After we close our end (abort, output cap), how long the node gets to end the session before we drop the channel. */
const CLOSE_GRACE_MS = 3000;
/** No catalogue command needs an hour; anything asking for more is a mistake. */
const MAX_COMMAND_SECONDS = 3600;

export interface CommandAuditEvent {
  node: string;
  argv: string[];
  exitCode: number | null;
  timedOut: boolean;
  durationMs: number;
}

export interface SshNodeShellOptions {
  /** Called when each command or capture ends: what ran and how it ended (the audit trail); never its output. */
  onCommand?: (event: CommandAuditEvent) => void;
}

function checkCommand(command: NodeCommand): void {
  if (!Array.isArray(command.argv) || command.argv.length === 0 || command.argv.some((a) => typeof a !== 'string')) {
    throw new InvalidInputError('command', 'argv must be a non-empty list of strings');
  }
  if (
    !Number.isInteger(command.timeoutSeconds) ||
    command.timeoutSeconds < 1 ||
    command.timeoutSeconds > MAX_COMMAND_SECONDS
  ) {
    throw new InvalidInputError('command timeout', `${command.timeoutSeconds} is not 1–${MAX_COMMAND_SECONDS} seconds`);
  }
  if (!Number.isInteger(command.maxOutputBytes) || command.maxOutputBytes < 1)
    throw new InvalidInputError('command output cap', `${command.maxOutputBytes} is not a positive byte count`);
}

/** Collects at most `max` bytes; says whether more came. */
class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  overflowed = false;
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }
  /** Returns false once the cap is reached. */
  push(chunk: Buffer): boolean {
    const room = this.max - this.size;
    if (chunk.length > room) this.overflowed = true;
    if (room > 0) {
      const kept = chunk.subarray(0, room);
      this.chunks.push(kept);
      this.size += kept.length;
    }
    return !this.overflowed;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** Ends a channel politely (EOF: the node-side watchdog kills the command), then drops it if the node lingers. */
function stopChannel(channel: ClientChannel): void {
  channel.end();
  const timer = setTimeout(() => channel.close(), CLOSE_GRACE_MS);
  timer.unref();
  channel.once('close', () => clearTimeout(timer));
}

interface ChannelEnd {
  exitCode: number | null;
  signal: string | null;
}

/**
 * Follows a channel to its end: the exit status or signal sshd reported. ssh2 repeats them as 'close''s arguments,
 * and only those are sure to arrive: a quick command's exit-status can come in the same read as the exec reply, so
 * its 'exit' event fires before anyone awaiting the channel could listen.
 */
function channelEnded(channel: ClientChannel): Promise<ChannelEnd> {
  return new Promise((resolve) => {
    channel.on('close', (code?: number | null, signal?: string) =>
      resolve({ exitCode: typeof code === 'number' ? code : null, signal: signal ?? null }),
    );
  });
}

export class SshNodeShell implements NodeShell {
  private readonly pool: SshPool;
  private readonly options: SshNodeShellOptions;

  constructor(pool: SshPool, options: SshNodeShellOptions = {}) {
    this.pool = pool;
    this.options = options;
  }

  private audit(event: CommandAuditEvent): void {
    try {
      this.options.onCommand?.(event);
    } catch {
      // An audit hook that throws must not change the command's result.
    }
  }

  async run(node: NodeTarget, command: NodeCommand, signal?: AbortSignal): Promise<CommandResult> {
    checkCommand(command);
    if (signal?.aborted) throw cancelled(`running ${command.argv[0]} on ${node.name}`);
    const started = Date.now();
    const line = remoteCommandLine(command, this.pool.endpoint(node).user);
    const { channel, release } = await this.pool.exec(node, line, signal);
    const stdout = new CappedBuffer(command.maxOutputBytes);
    const stderr = new CappedBuffer(STDERR_MAX_BYTES);
    let clientTimedOut = false;
    let aborted = false;
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      stopChannel(channel);
    };
    channel.on('data', (chunk: Buffer) => {
      // Past the cap nothing more is kept: we stop reading and the watchdog ends the command on the node.
      if (!stdout.push(chunk)) stop();
    });
    channel.stderr.on('data', (chunk: Buffer) => void stderr.push(chunk));
    const deadline = setTimeout(
      () => {
        clientTimedOut = true;
        channel.close();
      },
      (command.timeoutSeconds + KILL_AFTER_SECONDS) * 1000 + CLIENT_GRACE_MS,
    );
    const onAbort = () => {
      aborted = true;
      stop();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const end = await channelEnded(channel);
    clearTimeout(deadline);
    signal?.removeEventListener('abort', onAbort);
    release();
    const durationMs = Date.now() - started;
    const timedOut = clientTimedOut || exitMeansTimedOut(end.exitCode);
    this.audit({ node: node.name, argv: command.argv, exitCode: end.exitCode, timedOut, durationMs });
    if (aborted) throw cancelled(`running ${command.argv[0]} on ${node.name}`);
    return {
      node: node.name,
      argv: command.argv,
      stdout: stdout.text(),
      stderr: stderr.text(),
      exitCode: end.exitCode,
      signal: end.signal,
      timedOut,
      truncated: stdout.overflowed,
      durationMs,
    };
  }

  async capture(node: NodeTarget, spec: CaptureSpec, signal?: AbortSignal): Promise<CaptureStream> {
    const command = tcpdump(spec);
    if (signal?.aborted) throw cancelled(`starting a capture on ${node.name}`);
    const started = Date.now();
    const line = remoteCommandLine(command, this.pool.endpoint(node).user);
    const { channel, release } = await this.pool.exec(node, line, signal);
    const pcap = new PassThrough();
    const stderr = new CappedBuffer(STDERR_MAX_BYTES);
    let bytes = 0;
    let stopping = false;
    let clientTimedOut = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      stopChannel(channel);
    };
    channel.on('data', (chunk: Buffer) => {
      // Bytes stay Buffers end to end. tcpdump cannot write more than the bound (packets × (record header + snap)).
      const kept = chunk.subarray(0, Math.max(0, command.maxOutputBytes - bytes));
      bytes += chunk.length;
      if (kept.length > 0 && !pcap.write(kept)) {
        channel.pause();
        pcap.once('drain', () => channel.resume());
      }
      if (bytes > command.maxOutputBytes) stop();
    });
    channel.stderr.on('data', (chunk: Buffer) => void stderr.push(chunk));
    // A reader that gives up (destroys the stream) ends the capture too.
    pcap.once('close', stop);
    const deadline = setTimeout(
      () => {
        clientTimedOut = true;
        channel.close();
      },
      (command.timeoutSeconds + KILL_AFTER_SECONDS) * 1000 + CLIENT_GRACE_MS,
    );
    signal?.addEventListener('abort', stop, { once: true });
    const done = channelEnded(channel).then((end) => {
      clearTimeout(deadline);
      signal?.removeEventListener('abort', stop);
      release();
      pcap.end();
      const timedOut = clientTimedOut || exitMeansTimedOut(end.exitCode);
      this.audit({
        node: node.name,
        argv: command.argv,
        exitCode: end.exitCode,
        timedOut,
        durationMs: Date.now() - started,
      });
      return { exitCode: end.exitCode, stderr: stderr.text() };
    });
    return { pcap, done };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
