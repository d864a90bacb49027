/**
 * What operations know of the nodes: run a catalogue command, stream a capture. Filled by the SSH layer
 * (src/node/ssh-*.ts); operations depend on NodeShell only, so they are testable with a fake.
 */
import type { Readable } from 'node:stream';

/** A node to reach: its Kubernetes name and the address SSH connects to (InternalIP unless overridden). */
export interface NodeTarget {
  name: string;
  address: string;
}

/** One command of the catalogue: an argument vector (never a shell line) and its bounds. */
export interface NodeCommand {
  argv: string[];
  /** Killed on the node (coreutils `timeout`) after this many seconds. */
  timeoutSeconds: number;
  /** stdout beyond this is dropped and `truncated` is set. */
  maxOutputBytes: number;
  /** When set, the command runs as root (sudo -n) on nodes whose SSH user is not root. */
  privileged?: boolean;
}

export interface CommandResult {
  node: string;
  argv: string[];
  stdout: string;
  stderr: string;
  exitCode: number | null;
  /** The signal that ended the remote command, when sshd reported one (exit-signal). */
  signal?: string | null;
  timedOut: boolean;
  truncated: boolean;
  durationMs: number;
}

/** What to capture: every part validated before it becomes a tcpdump argument or BPF term. */
export interface CaptureSpec {
  interface: string;
  /** Capture inside this network namespace (`ip netns exec`) instead of the node's root namespace. */
  netns?: string;
  /** Hosts (any direction) the packets must involve; empty = any. Combined with `or`. */
  hosts: string[];
  /** Ports (any direction); empty = any. */
  ports: number[];
  /** Add UDP 4789/8472 and IP protocol 4 so tunnelled packets between these hosts are kept. */
  includeTunnel: boolean;
  maxPackets: number;
  maxSeconds: number;
  snapLength: number;
}

export interface CaptureStream {
  /** pcap bytes as tcpdump writes them to stdout (`-w -`), streamed as Buffers. */
  pcap: Readable;
  /** Resolves when tcpdump exits (after the packet or time cap, or on abort), with its stderr summary. */
  done: Promise<{ exitCode: number | null; stderr: string }>;
}

export interface NodeShell {
  run(node: NodeTarget, command: NodeCommand, signal?: AbortSignal): Promise<CommandResult>;
  capture(node: NodeTarget, spec: CaptureSpec, signal?: AbortSignal): Promise<CaptureStream>;
  close(): Promise<void>;
}
