/**
 * NodeShell over SSH (node-ssh for connecting, ssh2 channels for running): one connection per node, reused across
 * steps and jobs, connected lazily with concurrent callers sharing one attempt, dropped and re-made once when it
 * dies. Commands are argument vectors quoted in one place (shellQuote) and wrapped in coreutils `timeout`, so a
 * command past its time is killed on the node too. Output is read as Buffers and capped; captures stream tcpdump's
 * pcap bytes untouched (node-ssh's execCommand would turn them into a string).
 */
import { PassThrough, type Duplex } from 'node:stream';
import { NodeSSH } from 'node-ssh';
import type { ClientChannel } from 'ssh2';
import type { SshEnvSettings } from '../config.ts';
import { K8snetError, describeError } from '../errors.ts';
import { validateInterfaceName, validateIp, validateNetnsName, validatePort, validateIntegerInRange } from '../validate.ts';
import type { CaptureSpec, CaptureStream, CommandResult, NodeCommand, NodeShell, NodeTarget } from './types.ts';
import { knownHostsVerifier } from './known-hosts-file.ts';

/** Seconds `timeout` waits after SIGTERM before SIGKILL. */
const KILL_AFTER_SECONDS = 2;
/** Our own deadline on top of the node-side one: if the node never answers, stop waiting. */
const CLIENT_GRACE_MS = 5000;
const STDERR_CAP = 64 * 1024;
/** Captures: tcpdump's own bounds, never more than these whatever the caller asks. */
export const CAPTURE_LIMITS = { maxPackets: 100_000, maxSeconds: 300, snapLength: { min: 68, max: 262_144 } } as const;
/** UDP ports Calico's VXLAN uses (4789) and Linux's default (8472), and IP-in-IP. */
const TUNNEL_BPF = 'udp port 4789 or udp port 8472 or ip proto 4';

/** POSIX single-quoting: the one place an argument vector becomes the command line SSH carries. */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/**
 * Without a pty, sshd does not signal a command when its channel closes: a capture with a quiet filter would live
 * until its time cap. This constant wrapper (arguments as "$@", never interpolated) watches the channel's stdin and
 * stops the command the moment we close the channel.
 */
const KILL_ON_CLOSE = 'exec 3<&0; "$@" & p=$!; (cat <&3 >/dev/null; kill $p) >/dev/null 2>&1 & wait $p';

export function remoteCommandLine(command: NodeCommand, user: string, options: { killOnClose?: boolean } = {}): string {
  const timeout = ['timeout', `--kill-after=${KILL_AFTER_SECONDS}`, String(command.timeoutSeconds)];
  const sudo = command.privileged && user !== 'root' ? ['sudo', '-n'] : [];
  const argv = [...sudo, ...timeout, ...command.argv];
  return shellQuote(options.killOnClose ? ['sh', '-c', KILL_ON_CLOSE, 'k8snet-watch', ...argv] : argv);
}

/** tcpdump's filter from validated parts only: hosts and ports (any direction), plus the tunnels when asked. */
export function captureFilter(spec: Pick<CaptureSpec, 'hosts' | 'ports' | 'includeTunnel'>): string[] {
  const hosts = spec.hosts.map((h) => `host ${validateIp(h, 'capture host')}`);
  const ports = spec.ports.map((p) => `port ${validatePort(p, 'capture port')}`);
  const parts: string[] = [];
  if (hosts.length > 0) parts.push(`(${hosts.join(' or ')})`);
  if (ports.length > 0) parts.push(`(${ports.join(' or ')})`);
  let filter = parts.join(' and ');
  if (spec.includeTunnel) filter = filter ? `${filter} or (${TUNNEL_BPF})` : `(${TUNNEL_BPF})`;
  return filter ? [filter] : [];
}

export function captureCommand(spec: CaptureSpec): NodeCommand {
  const iface = validateInterfaceName(spec.interface);
  const packets = validateIntegerInRange('capture packets', spec.maxPackets, 1, CAPTURE_LIMITS.maxPackets);
  const seconds = validateIntegerInRange('capture seconds', spec.maxSeconds, 1, CAPTURE_LIMITS.maxSeconds);
  const snap = validateIntegerInRange('snap length', spec.snapLength, CAPTURE_LIMITS.snapLength.min, CAPTURE_LIMITS.snapLength.max);
  // -U: write each packet as it arrives (the pcap header first, which tells us tcpdump is listening).
  const tcpdump = ['tcpdump', '-i', iface, '-nn', '-U', '-w', '-', '-s', String(snap), '-c', String(packets), ...captureFilter(spec)];
  const argv = spec.netns ? ['ip', 'netns', 'exec', validateNetnsName(spec.netns), ...tcpdump] : tcpdump;
  return { argv, timeoutSeconds: seconds, maxOutputBytes: 24 + packets * (16 + snap), privileged: true };
}

export interface NodeSshShellOptions {
  /** Called after each command with what ran and how it ended (the audit trail); never with output. */
  onCommand?: (event: { node: string; argv: string[]; exitCode: number | null; durationMs: number }) => void;
}

export class NodeSshShell implements NodeShell {
  private readonly settings: SshEnvSettings;
  private readonly options: NodeSshShellOptions;
  private readonly connections = new Map<string, Promise<NodeSSH>>();
  private jump: Promise<NodeSSH> | null = null;

  constructor(settings: SshEnvSettings, options: NodeSshShellOptions = {}) {
    this.settings = settings;
    this.options = options;
  }

  private endpoint(node: NodeTarget) {
    const o = this.settings.perNode[node.name] ?? {};
    return { host: o.host ?? node.address, port: o.port ?? this.settings.port, user: o.user ?? this.settings.user, key: o.privateKeyPath ?? this.settings.privateKeyPath };
  }

  private async connectJump(): Promise<NodeSSH> {
    const j = this.settings.jumpHost!;
    const ssh = new NodeSSH();
    const verifier = knownHostsVerifier(this.settings.knownHostsPath, j.host, j.host, j.port);
    try {
      return await ssh.connect({ host: j.host, port: j.port, username: j.user, privateKeyPath: j.privateKeyPath, readyTimeout: this.settings.connectTimeoutMs, keepaliveInterval: this.settings.keepaliveIntervalMs, hostVerifier: (key: Buffer) => verifier.verify(key) });
    } catch (err) {
      throw new K8snetError(verifier.refusal() ? 'ssh_host_key' : 'ssh_connect', `cannot reach jump host ${j.host}:${j.port}: ${verifier.refusal() ?? describeError(err)}`, { cause: err, retryable: !verifier.refusal() });
    }
  }

  private async connect(node: NodeTarget): Promise<NodeSSH> {
    const e = this.endpoint(node);
    const verifier = knownHostsVerifier(this.settings.knownHostsPath, node.name, e.host, e.port);
    let sock: Duplex | undefined;
    if (this.settings.jumpHost) {
      this.jump ??= this.connectJump();
      const jump = await this.jump;
      sock = await new Promise((resolve, reject) => jump.connection!.forwardOut('127.0.0.1', 0, e.host, e.port, (err, stream) => (err ? reject(new K8snetError('ssh_connect', `jump host cannot reach ${node.name} (${e.host}:${e.port}): ${err.message}`, { retryable: true })) : resolve(stream))));
    }
    const ssh = new NodeSSH();
    try {
      await ssh.connect({
        host: e.host,
        port: e.port,
        username: e.user,
        privateKeyPath: e.key,
        ...(this.settings.passphrase ? { passphrase: this.settings.passphrase } : {}),
        readyTimeout: this.settings.connectTimeoutMs,
        keepaliveInterval: this.settings.keepaliveIntervalMs,
        hostVerifier: this.settings.strictHostKeys ? (key: Buffer) => verifier.verify(key) : () => true,
        ...(sock ? { sock } : {}),
      });
    } catch (err) {
      const refusal = verifier.refusal();
      if (refusal) throw new K8snetError('ssh_host_key', refusal, { cause: err });
      throw new K8snetError('ssh_connect', `cannot connect to ${node.name} (${e.user}@${e.host}:${e.port}): ${describeError(err).replace(/^Error: /, '')}`, { cause: err, retryable: true });
    }
    ssh.connection!.on('close', () => this.connections.delete(node.name));
    ssh.connection!.on('error', () => this.connections.delete(node.name));
    return ssh;
  }

  /** The node's connection, made once and shared; a failed attempt is forgotten so the next call tries again. */
  private connection(node: NodeTarget): Promise<NodeSSH> {
    let c = this.connections.get(node.name);
    if (!c) {
      c = this.connect(node);
      this.connections.set(node.name, c);
      c.catch(() => this.connections.delete(node.name));
    }
    return c;
  }

  private async channel(node: NodeTarget, line: string): Promise<ClientChannel> {
    const open = async (): Promise<ClientChannel> => {
      const ssh = await this.connection(node);
      return new Promise((resolve, reject) => ssh.connection!.exec(line, (err, ch) => (err ? reject(err) : resolve(ch))));
    };
    try {
      return await open();
    } catch (err) {
      if (err instanceof K8snetError) throw err;
      // A connection that died since it was made: drop it and try once more on a fresh one.
      this.connections.delete(node.name);
      return open();
    }
  }

  async run(node: NodeTarget, command: NodeCommand, signal?: AbortSignal): Promise<CommandResult> {
    const user = this.endpoint(node).user;
    const started = Date.now();
    const ch = await this.channel(node, remoteCommandLine(command, user));
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let truncated = false;
    let stderr = '';
    return new Promise((resolve) => {
      let exitCode: number | null = null;
      const deadline = setTimeout(() => ch.close(), (command.timeoutSeconds + KILL_AFTER_SECONDS) * 1000 + CLIENT_GRACE_MS);
      const onAbort = () => {
        ch.signal('KILL');
        ch.close();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      ch.on('data', (d: Buffer) => {
        if (stdoutBytes >= command.maxOutputBytes) {
          truncated = true;
          return;
        }
        const keep = d.subarray(0, command.maxOutputBytes - stdoutBytes);
        if (keep.length < d.length) truncated = true;
        stdout.push(keep);
        stdoutBytes += keep.length;
      });
      ch.stderr.on('data', (d: Buffer) => {
        if (stderr.length < STDERR_CAP) stderr += d.toString('utf8').slice(0, STDERR_CAP - stderr.length);
      });
      ch.on('exit', (code: number | null) => {
        exitCode = code;
      });
      ch.on('close', () => {
        clearTimeout(deadline);
        signal?.removeEventListener('abort', onAbort);
        const durationMs = Date.now() - started;
        this.options.onCommand?.({ node: node.name, argv: command.argv, exitCode, durationMs });
        // coreutils timeout exits 124 when it had to stop the command (137 after SIGKILL).
        resolve({ node: node.name, argv: command.argv, stdout: Buffer.concat(stdout).toString('utf8'), stderr, exitCode, timedOut: exitCode === 124 || exitCode === 137 || exitCode === null, truncated, durationMs });
      });
    });
  }

  async capture(node: NodeTarget, spec: CaptureSpec, signal?: AbortSignal): Promise<CaptureStream> {
    const command = captureCommand(spec);
    const user = this.endpoint(node).user;
    const started = Date.now();
    const ch = await this.channel(node, remoteCommandLine(command, user, { killOnClose: true }));
    const pcap = new PassThrough();
    let stderr = '';
    let bytes = 0;
    // Closing our end of the channel is what stops the remote capture (see KILL_ON_CLOSE).
    const onAbort = () => ch.end();
    signal?.addEventListener('abort', onAbort, { once: true });
    ch.on('data', (d: Buffer) => {
      // Bytes stay Buffers end to end; past the bound (packets × snap length) nothing more is passed on.
      if (bytes < command.maxOutputBytes) pcap.write(d.subarray(0, command.maxOutputBytes - bytes));
      bytes += d.length;
    });
    ch.stderr.on('data', (d: Buffer) => {
      if (stderr.length < STDERR_CAP) stderr += d.toString('utf8');
    });
    const done = new Promise<{ exitCode: number | null; stderr: string }>((resolve) => {
      let exitCode: number | null = null;
      ch.on('exit', (code: number | null) => {
        exitCode = code;
      });
      ch.on('close', () => {
        signal?.removeEventListener('abort', onAbort);
        pcap.end();
        this.options.onCommand?.({ node: node.name, argv: command.argv, exitCode, durationMs: Date.now() - started });
        resolve({ exitCode, stderr });
      });
    });
    return { pcap, done };
  }

  async close(): Promise<void> {
    const all = [...this.connections.values(), ...(this.jump ? [this.jump] : [])];
    this.connections.clear();
    this.jump = null;
    await Promise.all(all.map((c) => c.then((s) => s.dispose(), () => undefined)));
  }
}
