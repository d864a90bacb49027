import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  accessSettings,
  actionKeySecret,
  bundleSecrets,
  captureSettings,
  ConfigError,
  kubeSettings,
  processSettings,
  queueSettings,
  secret,
  slackClientSettings,
  slackSettings,
  sshEnvSettings,
  workerSettings,
  type Env,
} from '../../src/config.ts';

const base = { K8SNET_SSH_KEY: '/keys/id', K8SNET_SSH_KNOWN_HOSTS: '/keys/known_hosts' };

describe('configuration from the environment', () => {
  it('stops with the name of a missing variable', () => {
    expect(() => sshEnvSettings({ K8SNET_SSH_KNOWN_HOSTS: '/k' })).toThrow(
      'K8SNET_SSH_KEY: is required but not set (see .env.example)',
    );
  });

  it('names the variable whose value is bad', () => {
    expect(() => sshEnvSettings({ ...base, K8SNET_SSH_PORT: '70000' })).toThrow(
      new ConfigError('K8SNET_SSH_PORT', '70000 is outside 1–65535'),
    );
    expect(() => sshEnvSettings({ ...base, K8SNET_SSH_STRICT_HOST_KEYS: 'maybe' })).toThrow(
      /K8SNET_SSH_STRICT_HOST_KEYS/,
    );
    expect(() => sshEnvSettings({ ...base, K8SNET_SSH_NODE_OVERRIDES: '{"Bad Node": {}}' })).toThrow(
      /K8SNET_SSH_NODE_OVERRIDES/,
    );
    expect(() => sshEnvSettings({ ...base, K8SNET_SSH_JUMP_HOST: 'root@host;rm -rf /' })).toThrow(
      /K8SNET_SSH_JUMP_HOST/,
    );
  });

  it('defaults to strict host keys, root and port 22, and parses a jump host and per-node overrides', () => {
    const s = sshEnvSettings({
      ...base,
      K8SNET_SSH_JUMP_HOST: 'ops@bastion.example:2222',
      K8SNET_SSH_NODE_OVERRIDES: '{"k8s-node1": {"host": "10.0.0.5", "port": 2200}}',
    });
    expect(s.strictHostKeys).toBe(true);
    expect(s.user).toBe('root');
    expect(s.port).toBe(22);
    expect(s.jumpHost).toEqual({ host: 'bastion.example', port: 2222, user: 'ops', privateKeyPath: '/keys/id' });
    expect(s.perNode).toEqual({ 'k8s-node1': { host: '10.0.0.5', port: 2200 } });
  });

  it('reads secrets from a mounted file in preference to the variable, and never echoes them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8snet-config-'));
    writeFileSync(join(dir, 'token'), 'xoxb-from-file\n');
    expect(secret({ SLACK_BOT_TOKEN: 'xoxb-env', SLACK_BOT_TOKEN_FILE: join(dir, 'token') }, 'SLACK_BOT_TOKEN')).toBe(
      'xoxb-from-file',
    );
    expect(() => secret({ SLACK_BOT_TOKEN_FILE: join(dir, 'missing') }, 'SLACK_BOT_TOKEN')).toThrow(
      /SLACK_BOT_TOKEN_FILE: cannot read .*ENOENT/,
    );
    rmSync(dir, { recursive: true });
    try {
      secret({}, 'SLACK_BOT_TOKEN');
    } catch (err) {
      expect((err as Error).message).toBe(
        'SLACK_BOT_TOKEN: is required but not set (or set SLACK_BOT_TOKEN_FILE to a file holding it)',
      );
    }
  });

  it('bounds captures and keeps the default inside the maximum', () => {
    expect(captureSettings({})).toEqual({ defaultSeconds: 5, maxSeconds: 30, maxPackets: 2000, snapLength: 128 });
    expect(() => captureSettings({ K8SNET_CAPTURE_MAX_SECONDS: '10', K8SNET_CAPTURE_SECONDS: '20' })).toThrow(
      /K8SNET_CAPTURE_SECONDS: 20 is outside 1–10/,
    );
  });

  it('uses in-cluster credentials only when no kubeconfig is given inside a pod', () => {
    expect(kubeSettings({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }).inCluster).toBe(true);
    expect(kubeSettings({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBECONFIG: '/k' }).inCluster).toBe(false);
  });
});

/** The message a settings reader stops with. */
function failure(read: () => unknown): ConfigError {
  try {
    read();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('the settings were accepted');
}

const BOT_TOKEN = 'xoxb-1234567890-0987654321-s3cr3tBotT0ken';
const SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const slackEnv: Env = { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: SIGNING_SECRET };

describe('Slack settings', () => {
  it("needs the bot token and signing secret, and defaults to the HTTP receiver on port 3000 and Slack's own API", () => {
    expect(slackSettings(slackEnv)).toEqual({
      botToken: BOT_TOKEN,
      signingSecret: SIGNING_SECRET,
      appToken: undefined,
      apiUrl: undefined,
      port: 3000,
      actionSecret: SIGNING_SECRET,
    });
    expect(failure(() => slackSettings({ SLACK_BOT_TOKEN: BOT_TOKEN })).message).toBe(
      'SLACK_SIGNING_SECRET: is required but not set (or set SLACK_SIGNING_SECRET_FILE to a file holding it)',
    );
    // Socket Mode receives no HTTP requests to verify: no signing secret needed.
    expect(
      slackSettings({ SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_APP_TOKEN: 'xapp-1-A0123456789-1234567890123-abcdef' }),
    ).toMatchObject({ signingSecret: '', appToken: 'xapp-1-A0123456789-1234567890123-abcdef' });
    expect(failure(() => slackSettings({ SLACK_SIGNING_SECRET: SIGNING_SECRET })).variable).toBe('SLACK_BOT_TOKEN');
  });

  it('seals buttons with K8SNET_ACTION_KEY when set (a worker then needs no signing secret), else the signing secret; a short key is refused', () => {
    const key = 'a'.repeat(16) + '0123456789abcdef';
    expect(actionKeySecret({ K8SNET_ACTION_KEY: key })).toBe(key);
    expect(actionKeySecret({ K8SNET_ACTION_KEY: key, SLACK_SIGNING_SECRET: SIGNING_SECRET })).toBe(key);
    expect(actionKeySecret({ SLACK_SIGNING_SECRET: SIGNING_SECRET })).toBe(SIGNING_SECRET);
    expect(actionKeySecret({})).toBeUndefined();
    expect(slackSettings({ ...slackEnv, K8SNET_ACTION_KEY: key })).toMatchObject({ actionSecret: key });
    expect(failure(() => actionKeySecret({ K8SNET_ACTION_KEY: 'short' })).message).toBe(
      'K8SNET_ACTION_KEY: is 5 characters; use at least 32 random ones (openssl rand -hex 32)',
    );
    // A bundle redacts it like the other secrets.
    expect(bundleSecrets({ K8SNET_ACTION_KEY: key })).toEqual([key]);
  });

  it('uses Socket Mode settings when an app-level token is set, and a stand-in API URL ending in /api/', () => {
    const s = slackSettings({
      ...slackEnv,
      SLACK_APP_TOKEN: 'xapp-1-A0123456789-1234567890123-abcdef',
      SLACK_API_URL: 'http://127.0.0.1:4100/api/',
      PORT: '8080',
    });
    expect(s).toMatchObject({
      appToken: 'xapp-1-A0123456789-1234567890123-abcdef',
      apiUrl: 'http://127.0.0.1:4100/api/',
      port: 8080,
    });
  });

  it('refuses a token of the wrong kind without repeating it', () => {
    const userToken = 'xoxp-1234-5678-s3cr3tUserT0ken';
    const wrongBot = failure(() => slackSettings({ ...slackEnv, SLACK_BOT_TOKEN: userToken }));
    expect(wrongBot.message).toBe('SLACK_BOT_TOKEN: is not a bot token (xoxb-…)');
    const wrongApp = failure(() => slackSettings({ ...slackEnv, SLACK_APP_TOKEN: BOT_TOKEN }));
    expect(wrongApp.message).toBe('SLACK_APP_TOKEN: is not an app-level token (xapp-…)');
    for (const err of [wrongBot, wrongApp]) expect(err.message).not.toMatch(/s3cr3t/);
  });

  it('names PORT and SLACK_API_URL when they are bad', () => {
    expect(failure(() => slackSettings({ ...slackEnv, PORT: '70000' })).message).toBe('PORT: 70000 is outside 0–65535');
    expect(failure(() => slackSettings({ ...slackEnv, PORT: 'http' })).variable).toBe('PORT');
    expect(failure(() => slackSettings({ ...slackEnv, SLACK_API_URL: 'https://slack.com/api' })).message).toBe(
      'SLACK_API_URL: "https://slack.com/api" must be an http(s) URL ending in /api/',
    );
  });

  it('reads the token and the signing secret from mounted files (Kubernetes Secret volumes), trimmed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8snet-config-'));
    try {
      writeFileSync(join(dir, 'token'), `${BOT_TOKEN}\n`);
      writeFileSync(join(dir, 'signing'), `  ${SIGNING_SECRET}\n`);
      writeFileSync(join(dir, 'empty'), '\n');
      const files = { SLACK_BOT_TOKEN_FILE: join(dir, 'token'), SLACK_SIGNING_SECRET_FILE: join(dir, 'signing') };
      expect(slackSettings(files)).toMatchObject({ botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET });
      expect(failure(() => slackSettings({ ...files, SLACK_SIGNING_SECRET_FILE: join(dir, 'empty') })).message).toBe(
        `SLACK_SIGNING_SECRET_FILE: ${join(dir, 'empty')} is empty`,
      );
      writeFileSync(join(dir, 'user-token'), 'xoxp-1234-5678-s3cr3tUserT0ken\n');
      expect(failure(() => slackSettings({ ...files, SLACK_BOT_TOKEN_FILE: join(dir, 'user-token') })).message).toBe(
        'SLACK_BOT_TOKEN: is not a bot token (xoxb-…)',
      );
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('gives a worker only what it needs to answer: the bot token and the API URL', () => {
    expect(slackClientSettings({ SLACK_BOT_TOKEN: BOT_TOKEN })).toEqual({ botToken: BOT_TOKEN, apiUrl: undefined });
    expect(failure(() => slackClientSettings({ SLACK_BOT_TOKEN: 'xapp-1-A0-s3cr3t' })).message).not.toMatch(/s3cr3t/);
  });
});

describe('access settings', () => {
  it('defaults to every channel and user, no capture from Slack and no audit channel', () => {
    expect(accessSettings({})).toEqual({
      allowedChannels: [],
      allowedUsers: [],
      captureUsers: [],
      allowDirectMessages: false,
      auditChannel: undefined,
    });
    expect(accessSettings({ K8SNET_ALLOW_DIRECT_MESSAGES: 'true' }).allowDirectMessages).toBe(true);
  });

  it('reads comma- or blank-separated Slack IDs, user groups included', () => {
    expect(
      accessSettings({
        K8SNET_ALLOWED_CHANNELS: 'C0NETOPS, G0PRIVATE',
        K8SNET_ALLOWED_USERS: 'U024BE7LH W0ENTERPRISE\tS0NETENG',
        K8SNET_CAPTURE_USERS: 'S0SRE,',
        K8SNET_AUDIT_CHANNEL: ' C0AUDIT ',
      }),
    ).toEqual({
      allowedChannels: ['C0NETOPS', 'G0PRIVATE'],
      allowedUsers: ['U024BE7LH', 'W0ENTERPRISE', 'S0NETENG'],
      captureUsers: ['S0SRE'],
      allowDirectMessages: false,
      auditChannel: 'C0AUDIT',
    });
  });

  it('refuses channel names, user names and more than one audit channel, naming the variable', () => {
    expect(failure(() => accessSettings({ K8SNET_ALLOWED_CHANNELS: '#netops' })).message).toBe(
      'K8SNET_ALLOWED_CHANNELS: "#netops" is not a channel ID (C…, G… or D…)',
    );
    // Each list takes its own kind of ID: a channel in a user list would refuse everyone, silently.
    expect(failure(() => accessSettings({ K8SNET_ALLOWED_USERS: 'C0NETOPS' })).message).toBe(
      'K8SNET_ALLOWED_USERS: "C0NETOPS" is not a user ID (U…, W…) or a user group ID (S…)',
    );
    expect(failure(() => accessSettings({ K8SNET_AUDIT_CHANNEL: 'U024BE7LH' })).variable).toBe('K8SNET_AUDIT_CHANNEL');
    expect(failure(() => accessSettings({ K8SNET_ALLOWED_USERS: '@alice' })).variable).toBe('K8SNET_ALLOWED_USERS');
    expect(failure(() => accessSettings({ K8SNET_CAPTURE_USERS: 'u024be7lh' })).variable).toBe('K8SNET_CAPTURE_USERS');
    expect(failure(() => accessSettings({ K8SNET_AUDIT_CHANNEL: 'C0AUDIT,C0OTHER' })).message).toBe(
      'K8SNET_AUDIT_CHANNEL: takes one channel ID',
    );
  });
});

describe('queue settings', () => {
  it('defaults to the local Redis and the k8snet key prefix', () => {
    expect(queueSettings({})).toEqual({ redisUrl: 'redis://127.0.0.1:6379', prefix: 'k8snet' });
    expect(
      queueSettings({
        REDIS_URL: 'redis+sentinel://:pw@h1:26379,h2:26379/mymaster',
        K8SNET_QUEUE_PREFIX: 'k8snet-staging',
      }),
    ).toEqual({ redisUrl: 'redis+sentinel://:pw@h1:26379,h2:26379/mymaster', prefix: 'k8snet-staging' });
  });

  it('refuses a prefix that is not a plain word (it becomes part of every Redis key)', () => {
    expect(failure(() => queueSettings({ K8SNET_QUEUE_PREFIX: 'k8snet prod' })).message).toBe(
      'K8SNET_QUEUE_PREFIX: "k8snet prod" may hold only letters, digits, _ . -',
    );
    expect(failure(() => queueSettings({ K8SNET_QUEUE_PREFIX: 'a:b' })).variable).toBe('K8SNET_QUEUE_PREFIX');
    expect(failure(() => queueSettings({ K8SNET_QUEUE_PREFIX: 'x'.repeat(65) })).variable).toBe('K8SNET_QUEUE_PREFIX');
  });
});

describe('worker settings', () => {
  it('defaults to two jobs at once, a three-minute time limit, 30 s locks and stall checks, 25 s of grace', () => {
    expect(workerSettings({})).toEqual({
      concurrency: 2,
      jobTimeoutMs: 180_000,
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      shutdownGraceMs: 25_000,
    });
  });

  it('reads seconds and hands them on in milliseconds', () => {
    expect(
      workerSettings({
        K8SNET_WORKER_CONCURRENCY: '8',
        K8SNET_JOB_TIMEOUT_SECONDS: '600',
        K8SNET_JOB_LOCK_SECONDS: '60',
        K8SNET_STALLED_CHECK_SECONDS: '15',
        K8SNET_SHUTDOWN_GRACE_SECONDS: '0',
      }),
    ).toEqual({
      concurrency: 8,
      jobTimeoutMs: 600_000,
      lockDurationMs: 60_000,
      stalledIntervalMs: 15_000,
      shutdownGraceMs: 0,
    });
  });

  it.each([
    ['K8SNET_WORKER_CONCURRENCY', '0', 'K8SNET_WORKER_CONCURRENCY: 0 is outside 1–64'],
    ['K8SNET_WORKER_CONCURRENCY', '65', 'K8SNET_WORKER_CONCURRENCY: 65 is outside 1–64'],
    ['K8SNET_JOB_TIMEOUT_SECONDS', '5', 'K8SNET_JOB_TIMEOUT_SECONDS: 5 is outside 10–3600'],
    ['K8SNET_JOB_LOCK_SECONDS', '1', 'K8SNET_JOB_LOCK_SECONDS: 1 is outside 2–600'],
    ['K8SNET_STALLED_CHECK_SECONDS', '601', 'K8SNET_STALLED_CHECK_SECONDS: 601 is outside 1–600'],
    ['K8SNET_SHUTDOWN_GRACE_SECONDS', '-1', /^K8SNET_SHUTDOWN_GRACE_SECONDS: /],
    ['K8SNET_SHUTDOWN_GRACE_SECONDS', '25s', /^K8SNET_SHUTDOWN_GRACE_SECONDS: "25s" is not a whole number/],
  ])('stops on %s=%s with a message naming it', (name, value, message) => {
    expect(() => workerSettings({ [name]: value })).toThrow(message);
  });
});

describe('process settings', () => {
  it('defaults to health and metrics on 9464 for the bot and 9465 for a worker (both start on one host), and info logs', () => {
    expect(processSettings({})).toEqual({ healthPort: 9464, healthPortIsDefault: true, logLevel: 'info' });
    expect(processSettings({}, 'bot')).toEqual({ healthPort: 9464, healthPortIsDefault: true, logLevel: 'info' });
    expect(processSettings({}, 'worker')).toEqual({ healthPort: 9465, healthPortIsDefault: true, logLevel: 'info' });
    expect(processSettings({ K8SNET_HEALTH_PORT: '0', LOG_LEVEL: 'debug' }, 'worker')).toEqual({
      healthPort: 0,
      healthPortIsDefault: false,
      logLevel: 'debug',
    });
  });

  it('names LOG_LEVEL and K8SNET_HEALTH_PORT when they are bad', () => {
    expect(failure(() => processSettings({ LOG_LEVEL: 'verbose' })).message).toBe(
      'LOG_LEVEL: "verbose" is not one of fatal, error, warn, info, debug, trace, silent',
    );
    expect(failure(() => processSettings({ K8SNET_HEALTH_PORT: '65536' })).message).toBe(
      'K8SNET_HEALTH_PORT: 65536 is outside 0–65535',
    );
  });
});
