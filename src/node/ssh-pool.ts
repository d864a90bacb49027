/**
 * One SSH connection per node (node-ssh over ssh2), reused across steps and jobs: connected lazily, concurrent
 * callers share one in-flight attempt, a dead connection is dropped and re-made once, keepalive finds half-dead
 * ones. Host keys are checked against known_hosts (strict by default); an optional jump host carries every node
 * connection (ssh2 `forwardOut` on the jump connection, handed to the node connection as `sock`). ssh2's errors
 * are translated into K8snetError here, at the edge: ssh_connect, ssh_host_key, timeout.
 */
import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { NodeSSH, type Config as NodeSshConfig } from 'node-ssh';
import type { ClientChannel } from 'ssh2';
import { K8snetError } from '../errors.ts';
import { knownHostsVerifier, loadKnownHosts, type HostKeyVerifier } from './known-hosts.ts';
import { jumpEndpoint, resolveEndpoint, type SshEndpoint, type SshSettings } from './ssh-settings.ts';
import type { NodeTarget } from './types.ts';

/**
 * Channels open at once on one connection. sshd's MaxSessions defaults to 10 (sshd_config(5)); we stay under it so a
 * burst of commands and captures waits its turn instead of failing with "open failed".
 */
export const DEFAULT_MAX_CHANNELS_PER_NODE = 8;
/** A refused session is asked for again this many times, after 25, 50, 100, 200 ms: well under a second in all. */
const OPEN_REFUSED_RETRIES = 4;
const OPEN_REFUSED_BACKOFF_MS = 25;
/** Missed keepalive replies before ssh2 gives the connection up (ssh2's keepaliveCountMax, OpenSSH's ServerAliveCountMax default). */
const KEEPALIVE_COUNT_MAX = 3;
/** ssh2 reports these `level`s on connection errors. */
const LEVEL_TIMEOUT = 'client-timeout';
const LEVEL_AUTH = 'client-authentication';

export interface SshPoolOptions {
  maxChannelsPerNode?: number;
}

/** A counting semaphore for one node's channels; waiters are served in order. */
class ChannelSlots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(size: number) {
    this.free = size;
  }
  acquire(signal?: AbortSignal): Promise<() => void> {
    const release = once(() => {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    });
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(release);
      };
      const onAbort = () => {
        this.waiting.splice(this.waiting.indexOf(grant), 1);
        reject(cancelled('waiting for a free SSH channel'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      fn();
    }
  };
}

export function cancelled(what: string): K8snetError {
  return new K8snetError('timeout', `cancelled while ${what}`);
}

interface SshErrorShape {
  level?: string;
  code?: string;
  message?: string;
}

/** ssh2 / node-ssh / socket errors → K8snetError. Never includes key material (ssh2's messages do not carry it). */
export function translateConnectError(
  err: unknown,
  endpoint: SshEndpoint,
  timeoutMs: number,
  verifier: HostKeyVerifier | null,
): K8snetError {
  if (err instanceof K8snetError) return err;
  const refusal = verifier?.refusal();
  if (refusal) return new K8snetError(refusal.code, refusal.message, { cause: err });
  const e = (err ?? {}) as SshErrorShape;
  const where = `${endpoint.node} (${endpoint.user}@${endpoint.host}:${endpoint.port})`;
  if (e.level === LEVEL_TIMEOUT || e.code === 'ETIMEDOUT') {
    return new K8snetError('timeout', `connecting to ${where} took longer than ${timeoutMs} ms`, {
      cause: err,
      retryable: true,
    });
  }
  if (e.level === LEVEL_AUTH) {
    return new K8snetError(
      'ssh_connect',
      `${where} refused our key (${endpoint.privateKeyPath ?? 'inline key'}): check the user and that the public key is in its authorized_keys`,
      { cause: err },
    );
  }
  const reason =
    e.code && /^E[A-Z]+$/.test(e.code) ? `${e.code} ${e.message ?? ''}`.trim() : (e.message ?? String(err));
  return new K8snetError('ssh_connect', `cannot connect to ${where}: ${reason}`, { cause: err, retryable: true });
}

export class SshPool {
  private readonly settings: SshSettings;
  private readonly maxChannels: number;
  private readonly connections = new Map<string, Promise<NodeSSH>>();
  private readonly slots = new Map<string, ChannelSlots>();
  private jump: Promise<NodeSSH> | null = null;
  private closed = false;

  constructor(settings: SshSettings, options: SshPoolOptions = {}) {
    this.settings = settings;
    this.maxChannels = options.maxChannelsPerNode ?? DEFAULT_MAX_CHANNELS_PER_NODE;
  }

  endpoint(node: NodeTarget): SshEndpoint {
    return resolveEndpoint(this.settings, node);
  }

  private async privateKey(endpoint: SshEndpoint): Promise<string> {
    if (endpoint.privateKeyPath !== null) {
      try {
        return await readFile(endpoint.privateKeyPath, 'utf8');
      } catch (err) {
        throw new K8snetError(
          'config',
          `cannot read SSH private key ${endpoint.privateKeyPath}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
          { cause: err },
        );
      }
    }
    if (this.settings.privateKey) return this.settings.privateKey;
    throw new K8snetError('config', `no SSH private key for ${endpoint.node}: set a key path or key text`);
  }

  private async dial(endpoint: SshEndpoint, sock?: Duplex): Promise<NodeSSH> {
    const verifier = this.settings.strictHostKeys
      ? knownHostsVerifier(await loadKnownHosts(this.settings.knownHostsPath), this.settings.knownHostsPath, endpoint)
      : null;
    const config: NodeSshConfig = {
      host: endpoint.host,
      port: endpoint.port,
      username: endpoint.user,
      privateKey: await this.privateKey(endpoint),
      readyTimeout: this.settings.connectTimeoutMs,
      keepaliveInterval: this.settings.keepaliveIntervalMs,
      keepaliveCountMax: KEEPALIVE_COUNT_MAX,
      hostVerifier: verifier ? (key: Buffer) => verifier.verify(key) : () => true,
    };
    if (this.settings.passphrase) config.passphrase = this.settings.passphrase;
    if (verifier?.algorithms)
      config.algorithms = {
        serverHostKey: verifier.algorithms as NonNullable<NodeSshConfig['algorithms']>['serverHostKey'],
      };
    if (sock) config.sock = sock;
    const ssh = new NodeSSH();
    try {
      await ssh.connect(config);
    } catch (err) {
      ssh.dispose();
      throw translateConnectError(err, endpoint, this.settings.connectTimeoutMs, verifier);
    }
    return ssh;
  }

  private jumpConnection(): Promise<NodeSSH> {
    const endpoint = jumpEndpoint(this.settings)!;
    if (!this.jump) {
      const attempt = this.dial(endpoint);
      this.jump = attempt;
      attempt.then(
        (ssh) => this.forgetOnClose(ssh, () => this.jump === attempt && (this.jump = null)),
        () => this.jump === attempt && (this.jump = null),
      );
    }
    return this.jump;
  }

  /** A TCP stream to the node opened by the jump host (direct-tcpip), bounded by the connect timeout. */
  private async throughJump(endpoint: SshEndpoint): Promise<Duplex> {
    const jump = await this.jumpConnection();
    const client = jump.connection;
    if (!client)
      throw new K8snetError('ssh_connect', `the jump host connection closed before reaching ${endpoint.node}`, {
        retryable: true,
      });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new K8snetError(
              'timeout',
              `jump host did not open a connection to ${endpoint.node} (${endpoint.host}:${endpoint.port}) within ${this.settings.connectTimeoutMs} ms`,
              { retryable: true },
            ),
          ),
        this.settings.connectTimeoutMs,
      );
      try {
        client.forwardOut('127.0.0.1', 0, endpoint.host, endpoint.port, (err, stream) => {
          clearTimeout(timer);
          if (err)
            reject(
              new K8snetError(
                'ssh_connect',
                `jump host cannot reach ${endpoint.node} (${endpoint.host}:${endpoint.port}): ${err.message}`,
                { cause: err, retryable: true },
              ),
            );
          else resolve(stream);
        });
      } catch (err) {
        clearTimeout(timer);
        reject(
          new K8snetError('ssh_connect', `the jump host connection is gone: ${(err as Error).message}`, {
            cause: err,
            retryable: true,
          }),
        );
      }
    });
  }

  /** After connecting, ssh2 reports a dead connection as 'error' then 'close': without a listener the error would crash the process. */
  private forgetOnClose(ssh: NodeSSH, forget: () => void): void {
    const client = ssh.connection;
    if (!client) return forget();
    client.on('error', forget);
    client.on('close', forget);
  }

  /** The node's connection, made once and shared; a failed attempt is forgotten so the next call tries again. */
  connection(node: NodeTarget): Promise<NodeSSH> {
    if (this.closed) return Promise.reject(new K8snetError('internal', 'the SSH pool is closed'));
    const existing = this.connections.get(node.name);
    if (existing) return existing;
    const endpoint = this.endpoint(node);
    const attempt = (async () =>
      this.dial(endpoint, this.settings.jumpHost ? await this.throughJump(endpoint) : undefined))();
    this.connections.set(node.name, attempt);
    const forget = () => {
      if (this.connections.get(node.name) === attempt) this.connections.delete(node.name);
    };
    attempt.then((ssh) => this.forgetOnClose(ssh, forget), forget);
    return attempt;
  }

  /** Drops the node's connection (the next call makes a new one). */
  drop(node: NodeTarget, ssh?: NodeSSH): void {
    const current = this.connections.get(node.name);
    if (!current) return;
    if (ssh) {
      void current.then(
        (c) => {
          if (c === ssh && this.connections.get(node.name) === current) this.connections.delete(node.name);
        },
        () => undefined,
      );
    } else {
      this.connections.delete(node.name);
    }
    ssh?.dispose();
  }

  private slotsFor(node: NodeTarget): ChannelSlots {
    let s = this.slots.get(node.name);
    if (!s) {
      s = new ChannelSlots(this.maxChannels);
      this.slots.set(node.name, s);
    }
    return s;
  }

  private openChannel(ssh: NodeSSH, line: string): Promise<ClientChannel> {
    const client = ssh.connection;
    if (!client) return Promise.reject(new Error('Not connected'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(Object.assign(new Error('channel open timed out'), { level: LEVEL_TIMEOUT })),
        this.settings.connectTimeoutMs,
      );
      try {
        client.exec(line, (err, channel) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve(channel);
        });
      } catch (err) {
        clearTimeout(timer);
        reject(err);
      }
    });
  }

  /**
   * Opens a session channel running `line` on the node. The returned `release` must be called once the channel has
   * closed (it frees the node's channel slot). A connection found dead is dropped and the channel tried once more on
   * a fresh one.
   */
  async exec(
    node: NodeTarget,
    line: string,
    signal?: AbortSignal,
  ): Promise<{ channel: ClientChannel; release: () => void }> {
    const release = await this.slotsFor(node).acquire(signal);
    try {
      for (let attempt = 1, refused = 0; ; attempt++) {
        const ssh = await this.connection(node);
        if (signal?.aborted) throw cancelled(`connecting to ${node.name}`);
        try {
          return { channel: await this.openChannel(ssh, line), release };
        } catch (err) {
          const dead =
            !ssh.isConnected() ||
            (err as SshErrorShape).message === 'Not connected' ||
            (err as SshErrorShape).level === LEVEL_TIMEOUT;
          if (dead && attempt === 1) {
            this.drop(node, ssh);
            continue;
          }
          // sshd counts a session until it has reaped its command, a moment after the channel closed on our side:
          // a burst that reuses freed slots at once can meet "open failed" (MaxSessions). Wait briefly and ask again.
          if (!dead && /Channel open failure/.test((err as Error).message) && refused < OPEN_REFUSED_RETRIES) {
            await new Promise((resolve) => setTimeout(resolve, OPEN_REFUSED_BACKOFF_MS * 2 ** refused++));
            if (signal?.aborted) throw cancelled(`opening a session on ${node.name}`);
            continue;
          }
          if (dead)
            throw new K8snetError('ssh_connect', `the connection to ${node.name} died twice while opening a session`, {
              cause: err,
              retryable: true,
            });
          throw new K8snetError(
            'ssh_command',
            `${node.name} refused a new SSH session: ${(err as Error).message} (sshd MaxSessions?)`,
            { cause: err, retryable: true },
          );
        }
      }
    } catch (err) {
      release();
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.connections.values(), ...(this.jump ? [this.jump] : [])];
    this.connections.clear();
    this.jump = null;
    await Promise.all(
      all.map((c) =>
        c.then(
          (s) => s.dispose(),
          () => undefined,
        ),
      ),
    );
  }
}
