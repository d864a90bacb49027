/**
 * How k8snet reaches nodes over SSH: a plain settings type (src/config.ts fills it from K8SNET_SSH_* variables) and
 * the pure rules that turn it plus a node into the endpoint to dial. Secrets (key text, passphrase) live here but
 * never leave through `describeSshSettings`, the only form that may be logged.
 */
import type { NodeTarget } from './types.ts';

/** OpenSSH's port. */
export const DEFAULT_SSH_PORT = 22;

export interface SshJumpHost {
  host: string;
  port: number;
  user: string;
  /** Key for the jump host; the nodes' key when unset. */
  privateKeyPath?: string;
}

/** Per-node exceptions (K8SNET_SSH_NODE_OVERRIDES): a different address, port, user or key for one node name. */
export interface SshNodeOverride {
  host?: string;
  port?: number;
  user?: string;
  privateKeyPath?: string;
}

export interface SshSettings {
  user: string;
  /** Path of the private key; or `privateKey` with the key text itself (a mounted Secret). One of them is required. */
  privateKeyPath?: string;
  /** Secret: never logged. */
  privateKey?: string;
  /** Secret: never logged. */
  passphrase?: string | undefined;
  knownHostsPath: string;
  port: number;
  connectTimeoutMs: number;
  /** Default bound for commands that do not carry their own. */
  commandTimeoutSeconds: number;
  /** 0 turns keepalive off. */
  keepaliveIntervalMs: number;
  /** Refuse unknown and changed host keys (the default). Off only for throw-away labs. */
  strictHostKeys: boolean;
  jumpHost?: SshJumpHost | null;
  perNode: Record<string, SshNodeOverride>;
}

/** Where one node's connection goes, after overrides. */
export interface SshEndpoint {
  node: string;
  host: string;
  port: number;
  user: string;
  /** The key file to read, or null when the settings carry the key text. */
  privateKeyPath: string | null;
}

export function resolveEndpoint(settings: SshSettings, node: NodeTarget): SshEndpoint {
  const o = settings.perNode[node.name] ?? {};
  return {
    node: node.name,
    host: o.host ?? node.address,
    port: o.port ?? settings.port,
    user: o.user ?? settings.user,
    privateKeyPath: o.privateKeyPath ?? settings.privateKeyPath ?? null,
  };
}

/** The jump host as an endpoint of its own (checked against the same known_hosts under its own name). */
export function jumpEndpoint(settings: SshSettings): SshEndpoint | null {
  const j = settings.jumpHost;
  if (!j) return null;
  return {
    node: `jump host ${j.host}`,
    host: j.host,
    port: j.port,
    user: j.user,
    privateKeyPath: j.privateKeyPath ?? settings.privateKeyPath ?? null,
  };
}

/** A loggable summary: paths and numbers, never key text or passphrase. */
export function describeSshSettings(settings: SshSettings): Record<string, unknown> {
  return {
    user: settings.user,
    key: settings.privateKeyPath ?? (settings.privateKey ? '(inline key)' : '(none)'),
    passphrase: settings.passphrase ? '(set)' : '(none)',
    knownHosts: settings.knownHostsPath,
    port: settings.port,
    connectTimeoutMs: settings.connectTimeoutMs,
    commandTimeoutSeconds: settings.commandTimeoutSeconds,
    keepaliveIntervalMs: settings.keepaliveIntervalMs,
    strictHostKeys: settings.strictHostKeys,
    jumpHost: settings.jumpHost
      ? `${settings.jumpHost.user}@${settings.jumpHost.host}:${settings.jumpHost.port}`
      : null,
    perNode: Object.keys(settings.perNode),
  };
}
