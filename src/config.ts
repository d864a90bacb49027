/**
 * The one reader of process.env. Each process reads only the sections it needs (the CLI needs no Slack token),
 * validates them at start-up, and a bad or missing variable stops it with a message naming the variable.
 * Secrets may come from a mounted file instead: NAME_FILE=/path wins over NAME (Kubernetes Secret volumes).
 */
import { readFileSync } from 'node:fs';
import { K8snetError } from './errors.ts';
import { validateDnsSubdomain, validateIntegerInRange, validatePort } from './validate.ts';
import { DEFAULT_CAPTURE_BOUNDS } from './command/capture-bounds.ts';
import type { SshJumpHost, SshNodeOverride, SshSettings } from './node/ssh-settings.ts';

export type Env = Record<string, string | undefined>;

export class ConfigError extends K8snetError {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super('config', `${variable}: ${message}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

function raw(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === '' ? undefined : v;
}

export function required(env: Env, name: string): string {
  const v = raw(env, name);
  if (v === undefined) throw new ConfigError(name, 'is required but not set (see .env.example)');
  return v;
}

/** A secret: NAME_FILE (a mounted file) or NAME. The value is never echoed in errors. */
export function secret(env: Env, name: string, options: { optional: true }): string | undefined;
export function secret(env: Env, name: string, options?: { optional?: false }): string;
export function secret(env: Env, name: string, options: { optional?: boolean } = {}): string | undefined {
  const file = raw(env, `${name}_FILE`);
  if (file !== undefined) {
    try {
      const value = readFileSync(file, 'utf8').trim();
      if (value) return value;
    } catch (err) {
      throw new ConfigError(`${name}_FILE`, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    throw new ConfigError(`${name}_FILE`, `${file} is empty`);
  }
  const value = raw(env, name);
  if (value === undefined && !options.optional)
    throw new ConfigError(name, `is required but not set (or set ${name}_FILE to a file holding it)`);
  return value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  try {
    return validateIntegerInRange(name, v, min, max);
  } catch (err) {
    throw new ConfigError(name, (err as Error).message.replace(`${name}: `, ''));
  }
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const v = raw(env, name)?.toLowerCase();
  if (v === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(name, `${JSON.stringify(v)} is not a boolean (true/false)`);
}

/** Comma- or space-separated list; empty means "not set". */
export function list(env: Env, name: string): string[] {
  return (raw(env, name) ?? '').split(/[\s,]+/).filter(Boolean);
}

/**
 * Every secret this deployment may hold, as set (NAME or NAME_FILE): an evidence bundle redacts them wherever they
 * turn up. A secret file that cannot be read is skipped here (the process reading it for use reports it).
 */
export function bundleSecrets(env: Env): string[] {
  const names = [
    'SLACK_BOT_TOKEN',
    'SLACK_SIGNING_SECRET',
    'SLACK_APP_TOKEN',
    'K8SNET_ACTION_KEY',
    'K8SNET_SSH_KEY_PASSPHRASE',
  ];
  return names.flatMap((name) => {
    try {
      const v = secret(env, name, { optional: true });
      return v ? [v] : [];
    } catch {
      return [];
    }
  });
}

// ---- Kubernetes ----

export interface KubeSettings {
  /** null: in-cluster when running in a pod, else the default kubeconfig (~/.kube/config). */
  kubeconfigPath: string | null;
  inCluster: boolean;
  context: string | null;
}

export function kubeSettings(env: Env): KubeSettings {
  return {
    kubeconfigPath: raw(env, 'KUBECONFIG') ?? null,
    inCluster: raw(env, 'KUBECONFIG') === undefined && raw(env, 'KUBERNETES_SERVICE_HOST') !== undefined,
    context: raw(env, 'K8SNET_KUBE_CONTEXT') ?? null,
  };
}

// ---- SSH to nodes ----

function parseJumpHost(env: Env, fallbackUser: string, fallbackKey: string): SshJumpHost | null {
  const v = raw(env, 'K8SNET_SSH_JUMP_HOST');
  if (v === undefined) return null;
  const m =
    /^(?:(?<user>[a-z_][a-z0-9_-]{0,31})@)?(?<host>[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(?<port>\d{1,5}))?$/.exec(v);
  if (!m?.groups) throw new ConfigError('K8SNET_SSH_JUMP_HOST', `${JSON.stringify(v)} is not [user@]host[:port]`);
  return {
    host: m.groups.host!.replace(/^\[|\]$/g, ''),
    port: m.groups.port ? validatePort(m.groups.port, 'K8SNET_SSH_JUMP_HOST port') : 22,
    user: m.groups.user ?? fallbackUser,
    privateKeyPath: raw(env, 'K8SNET_SSH_JUMP_KEY') ?? fallbackKey,
  };
}

function parseOverrides(env: Env): Record<string, SshNodeOverride> {
  const v = raw(env, 'K8SNET_SSH_NODE_OVERRIDES');
  if (v === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    throw new ConfigError(
      'K8SNET_SSH_NODE_OVERRIDES',
      'is not valid JSON (expected {"node-name": {"host": "…", "port": 22, "user": "…", "privateKeyPath": "…"}})',
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ConfigError('K8SNET_SSH_NODE_OVERRIDES', 'must be a JSON object keyed by node name');
  const out: Record<string, SshNodeOverride> = {};
  for (const [node, o] of Object.entries(parsed as Record<string, Record<string, unknown>>)) {
    const field = `K8SNET_SSH_NODE_OVERRIDES[${JSON.stringify(node)}]`;
    try {
      validateDnsSubdomain(field, node);
      const entry: SshNodeOverride = {};
      if (o.host !== undefined) entry.host = String(o.host);
      if (o.port !== undefined) entry.port = validatePort(o.port, `${field}.port`);
      if (o.user !== undefined) entry.user = String(o.user);
      if (o.privateKeyPath !== undefined) entry.privateKeyPath = String(o.privateKeyPath);
      out[node] = entry;
    } catch (err) {
      throw new ConfigError('K8SNET_SSH_NODE_OVERRIDES', (err as Error).message);
    }
  }
  return out;
}

/** The SSH settings the node layer takes (src/node/ssh-settings.ts), from K8SNET_SSH_* variables. */
export function sshEnvSettings(env: Env): SshSettings {
  const user = raw(env, 'K8SNET_SSH_USER') ?? 'root';
  const privateKeyPath = required(env, 'K8SNET_SSH_KEY');
  return {
    user,
    privateKeyPath,
    passphrase: secret(env, 'K8SNET_SSH_KEY_PASSPHRASE', { optional: true }),
    knownHostsPath: required(env, 'K8SNET_SSH_KNOWN_HOSTS'),
    port: integer(env, 'K8SNET_SSH_PORT', 22, 1, 65535),
    connectTimeoutMs: integer(env, 'K8SNET_SSH_CONNECT_TIMEOUT_MS', 10_000, 500, 120_000),
    commandTimeoutSeconds: integer(env, 'K8SNET_SSH_COMMAND_TIMEOUT_SECONDS', 20, 1, 600),
    keepaliveIntervalMs: integer(env, 'K8SNET_SSH_KEEPALIVE_MS', 15_000, 0, 600_000),
    strictHostKeys: bool(env, 'K8SNET_SSH_STRICT_HOST_KEYS', true),
    jumpHost: parseJumpHost(env, user, privateKeyPath),
    perNode: parseOverrides(env),
  };
}

// ---- Captures ----

/** Bounds every capture: a user may ask for fewer seconds, never more. */
export interface CaptureSettings {
  defaultSeconds: number;
  maxSeconds: number;
  maxPackets: number;
  /** 128 bytes keeps Ethernet + outer IP/UDP + VXLAN + inner IP/TCP headers and drops payloads. */
  snapLength: number;
}

export function captureSettings(env: Env): CaptureSettings {
  const maxSeconds = integer(env, 'K8SNET_CAPTURE_MAX_SECONDS', DEFAULT_CAPTURE_BOUNDS.maxSeconds, 1, 300);
  return {
    defaultSeconds: integer(env, 'K8SNET_CAPTURE_SECONDS', DEFAULT_CAPTURE_BOUNDS.defaultSeconds, 1, maxSeconds),
    maxSeconds,
    maxPackets: integer(env, 'K8SNET_CAPTURE_MAX_PACKETS', 2000, 10, 1_000_000),
    snapLength: integer(env, 'K8SNET_CAPTURE_SNAPLEN', 128, 96, 262_144),
  };
}

// ---- Slack (the bot) ----

export interface SlackSettings {
  botToken: string;
  signingSecret: string;
  /** Set: Socket Mode instead of the HTTP receiver. */
  appToken: string | undefined;
  /** Base URL of the Web API ending in /api/ (a local stand-in); undefined: Slack's. */
  apiUrl: string | undefined;
  /** HTTP receiver port; slash commands arrive at /slack/events. */
  port: number;
  /** What button values are sealed with (actionKeySecret); absent: the signing secret. */
  actionSecret?: string | undefined;
}

/** A K8SNET_ACTION_KEY shorter than this is refused: it is an HMAC key, and 32 characters is 128+ bits of hex. */
export const MIN_ACTION_KEY_LENGTH = 32;

/**
 * The secret button values are sealed with (slack/action-value.ts derives the HMAC key from it): K8SNET_ACTION_KEY
 * when set — the same on the bot and every worker, so workers need not hold Slack's signing secret — else
 * SLACK_SIGNING_SECRET. Undefined: neither is set (no buttons).
 */
export function actionKeySecret(env: Env): string | undefined {
  const key = secret(env, 'K8SNET_ACTION_KEY', { optional: true });
  if (key !== undefined && key.length < MIN_ACTION_KEY_LENGTH)
    throw new ConfigError(
      'K8SNET_ACTION_KEY',
      `is ${key.length} characters; use at least ${MIN_ACTION_KEY_LENGTH} random ones (openssl rand -hex 32)`,
    );
  return key ?? secret(env, 'SLACK_SIGNING_SECRET', { optional: true });
}

/** Slack ID kinds: channels (C public, G private, D direct messages) and people (U, W users; S user groups). */
const CHANNEL_ID = { pattern: /^[CGD][A-Z0-9]{1,20}$/, what: 'a channel ID (C…, G… or D…)' };
const USER_ID = { pattern: /^[UWS][A-Z0-9]{1,20}$/, what: 'a user ID (U…, W…) or a user group ID (S…)' };

/** A list of one kind of Slack ID: a channel ID in a user list would otherwise silently refuse everyone. */
function slackIds(env: Env, name: string, kind: { pattern: RegExp; what: string }): string[] {
  const ids = list(env, name);
  for (const id of ids)
    if (!kind.pattern.test(id)) throw new ConfigError(name, `${JSON.stringify(id)} is not ${kind.what}`);
  return ids;
}

/** What a worker needs to answer in Slack: the bot token and where the Web API is. */
export function slackClientSettings(env: Env): Pick<SlackSettings, 'botToken' | 'apiUrl'> {
  const botToken = secret(env, 'SLACK_BOT_TOKEN');
  if (!botToken.startsWith('xoxb-')) throw new ConfigError('SLACK_BOT_TOKEN', 'is not a bot token (xoxb-…)');
  const apiUrl = raw(env, 'SLACK_API_URL');
  if (apiUrl !== undefined && !/^https?:\/\/[^\s]+\/api\/$/.test(apiUrl))
    throw new ConfigError('SLACK_API_URL', `${JSON.stringify(apiUrl)} must be an http(s) URL ending in /api/`);
  return { botToken, apiUrl };
}

export function slackSettings(env: Env): SlackSettings {
  const appToken = secret(env, 'SLACK_APP_TOKEN', { optional: true });
  if (appToken !== undefined && !appToken.startsWith('xapp-'))
    throw new ConfigError('SLACK_APP_TOKEN', 'is not an app-level token (xapp-…)');
  // Socket Mode has no HTTP requests to verify: the signing secret is needed only for the HTTP receiver.
  const signingSecret =
    appToken === undefined
      ? secret(env, 'SLACK_SIGNING_SECRET')
      : (secret(env, 'SLACK_SIGNING_SECRET', { optional: true }) ?? '');
  return {
    ...slackClientSettings(env),
    signingSecret,
    appToken,
    port: integer(env, 'PORT', 3000, 0, 65535),
    actionSecret: actionKeySecret(env),
  };
}

/** Who may do what from Slack. Empty channel/user lists: everyone; captures need an explicit list. */
export interface AccessSettings {
  allowedChannels: string[];
  /** User IDs (U…, W…) and user group IDs (S…). */
  allowedUsers: string[];
  captureUsers: string[];
  /**
   * A direct message with the bot (D…) passes the channel list even when it is set (the user and capture lists still
   * apply). Unset: false; an empty channel list allows every conversation anyway.
   */
  allowDirectMessages?: boolean;
  /** Channel the audit trail is also posted to. */
  auditChannel: string | undefined;
}

export function accessSettings(env: Env): AccessSettings {
  const audit = slackIds(env, 'K8SNET_AUDIT_CHANNEL', CHANNEL_ID);
  if (audit.length > 1) throw new ConfigError('K8SNET_AUDIT_CHANNEL', 'takes one channel ID');
  return {
    allowedChannels: slackIds(env, 'K8SNET_ALLOWED_CHANNELS', CHANNEL_ID),
    allowedUsers: slackIds(env, 'K8SNET_ALLOWED_USERS', USER_ID),
    captureUsers: slackIds(env, 'K8SNET_CAPTURE_USERS', USER_ID),
    allowDirectMessages: bool(env, 'K8SNET_ALLOW_DIRECT_MESSAGES', false),
    auditChannel: audit[0],
  };
}

// ---- Queue and processes ----

export interface QueueSettings {
  redisUrl: string;
  /** Key prefix of every queue key in Redis. */
  prefix: string;
}

export function queueSettings(env: Env): QueueSettings {
  const prefix = raw(env, 'K8SNET_QUEUE_PREFIX') ?? 'k8snet';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(prefix))
    throw new ConfigError('K8SNET_QUEUE_PREFIX', `${JSON.stringify(prefix)} may hold only letters, digits, _ . -`);
  return { redisUrl: raw(env, 'REDIS_URL') ?? 'redis://127.0.0.1:6379', prefix };
}

export interface WorkerSettings {
  /** Jobs one worker runs at once. */
  concurrency: number;
  /** A job running longer is cancelled and says so in its thread. */
  jobTimeoutMs: number;
  /** Without a heartbeat for this long, a job counts as stalled and another worker takes it. */
  lockDurationMs: number;
  /** How often workers look for stalled jobs. */
  stalledIntervalMs: number;
  /** On SIGTERM, how long running jobs get to finish before they are handed back to the queue. */
  shutdownGraceMs: number;
}

export function workerSettings(env: Env): WorkerSettings {
  return {
    concurrency: integer(env, 'K8SNET_WORKER_CONCURRENCY', 2, 1, 64),
    jobTimeoutMs: integer(env, 'K8SNET_JOB_TIMEOUT_SECONDS', 180, 10, 3600) * 1000,
    lockDurationMs: integer(env, 'K8SNET_JOB_LOCK_SECONDS', 30, 2, 600) * 1000,
    stalledIntervalMs: integer(env, 'K8SNET_STALLED_CHECK_SECONDS', 30, 1, 600) * 1000,
    shutdownGraceMs: integer(env, 'K8SNET_SHUTDOWN_GRACE_SECONDS', 25, 0, 600) * 1000,
  };
}

export interface ProcessSettings {
  /** Port of /healthz, /readyz and /metrics; 0 picks a free one. */
  healthPort: number;
  /** K8SNET_HEALTH_PORT was not set: if the default port is taken, any free port will do (the log says which). */
  healthPortIsDefault: boolean;
  logLevel: string;
}

/**
 * Health ports when K8SNET_HEALTH_PORT is unset: different per process, so a bot and a worker on one host both
 * start (a second worker on the same host falls back to a free port). Containers pin one port for both.
 */
export const DEFAULT_HEALTH_PORTS = { bot: 9464, worker: 9465 } as const;

export function processSettings(env: Env, role: keyof typeof DEFAULT_HEALTH_PORTS = 'bot'): ProcessSettings {
  const logLevel = raw(env, 'LOG_LEVEL') ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel))
    throw new ConfigError(
      'LOG_LEVEL',
      `${JSON.stringify(logLevel)} is not one of fatal, error, warn, info, debug, trace, silent`,
    );
  return {
    healthPort: integer(env, 'K8SNET_HEALTH_PORT', DEFAULT_HEALTH_PORTS[role], 0, 65535),
    healthPortIsDefault: raw(env, 'K8SNET_HEALTH_PORT') === undefined,
    logLevel,
  };
}

// ---- Many clusters ----

/** K8SNET_CLUSTERS_FILE: the clusters file (src/clusters/clusters-file.ts); undefined: one cluster, the environment's. */
export function clustersFileSetting(env: Env): string | undefined {
  return raw(env, 'K8SNET_CLUSTERS_FILE');
}

// ---- Scheduled reports ----

export interface ScheduleSettings {
  /** A schedule added from Slack may fire at most this often (the schedules file is trusted). */
  minIntervalSeconds: number;
  /** YAML file of schedules the bot declares at start-up; undefined: none. */
  file: string | undefined;
}

/** Once a minute: what cron can express without seconds, and plenty for a cluster-wide report. */
export const DEFAULT_MIN_INTERVAL_SECONDS = 60;

export function scheduleSettings(env: Env): ScheduleSettings {
  const name = 'K8SNET_SCHEDULE_MIN_INTERVAL_SECONDS';
  const value = env[name]?.trim();
  let minIntervalSeconds = DEFAULT_MIN_INTERVAL_SECONDS;
  if (value) {
    try {
      minIntervalSeconds = validateIntegerInRange(name, value, 1, 7 * 24 * 3600);
    } catch (err) {
      throw new ConfigError(name, (err as Error).message.replace(`${name}: `, ''));
    }
  }
  const file = env.K8SNET_SCHEDULES_FILE?.trim();
  return { minIntervalSeconds, file: file ? file : undefined };
}

// ---- The lab and the terminal ----

export interface CliSettings {
  /** K8SNET_LAB: the lab the lab commands use when --lab is not given. */
  lab: string | undefined;
  /** K8SNET_LAB_STATE_ROOT: where labs keep their files (tmpfs, so a reboot leaves nothing behind). */
  labStateRoot: string;
  /** NO_COLOR (no-color.org): any value turns colours off. */
  noColor: boolean;
  /** K8SNET_DEBUG: print stack traces of unexpected errors. */
  debug: boolean;
}

export function cliSettings(env: Env): CliSettings {
  return {
    lab: raw(env, 'K8SNET_LAB'),
    labStateRoot: raw(env, 'K8SNET_LAB_STATE_ROOT') ?? '/run/k8snet',
    noColor: env.NO_COLOR !== undefined && env.NO_COLOR !== '',
    debug: raw(env, 'K8SNET_DEBUG') !== undefined,
  };
}
