import { describe, expect, it } from '@jest/globals';
import { compose, configMapData, deployment, envExample, read, secretTemplate, sources } from './deploy-files.ts';

/**
 * Every environment variable the sources read, found the ways they read one: the config helpers
 * (`raw(env, 'NAME')`, `secret(env, 'NAME')`, …), `env.NAME` / `process.env.NAME` / `env['NAME']`, and a quoted
 * 'K8SNET_…' / 'SLACK_…' name handed to a reader through a constant.
 */
function variablesRead(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const add = (name: string, file: string) => found.set(name, [...new Set([...(found.get(name) ?? []), file])]);
  for (const [file, text] of sources('src')) {
    for (const m of text.matchAll(/\(env, '([A-Z][A-Z0-9_]*)'/g)) add(m[1]!, file);
    for (const m of text.matchAll(/\benv(?:\.([A-Z][A-Z0-9_]*)\b|\['([A-Z][A-Z0-9_]*)'\])/g)) add(m[1] ?? m[2]!, file);
    for (const m of text.matchAll(/'((?:K8SNET|SLACK)_[A-Z0-9_]*[A-Z0-9])'/g)) add(m[1]!, file);
  }
  return found;
}

/** Secrets: read with `secret(env, 'NAME')`, so NAME_FILE works too. */
function secretsRead(): string[] {
  return [
    ...new Set([...read('src/config.ts').matchAll(/\bsecret\(env, '([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1]!)),
  ].sort();
}

/** Read, but not by the bot or worker processes (or set by the platform): with the reason. */
const NOT_DEPLOYMENT_SETTINGS: Record<string, string> = {
  KUBERNETES_SERVICE_HOST: 'set by Kubernetes in every pod (in-cluster detection)',
  NO_COLOR: 'terminal colours of the CLI',
  K8SNET_LAB: 'the lab commands only',
  K8SNET_LAB_STATE_ROOT: 'the lab commands only',
  PATH: 'the system',
  HOME: 'the system',
};

const deploymentSettings = () => [...variablesRead().keys()].filter((n) => !(n in NOT_DEPLOYMENT_SETTINGS)).sort();

describe('the environment the code reads', () => {
  it('is found in the sources, new worker and process settings included', () => {
    const names = deploymentSettings();
    for (const name of [
      'REDIS_URL',
      'SLACK_BOT_TOKEN',
      'K8SNET_SSH_KEY',
      'K8SNET_WORKER_CONCURRENCY',
      'K8SNET_JOB_TIMEOUT_SECONDS',
      'K8SNET_JOB_LOCK_SECONDS',
      'K8SNET_STALLED_CHECK_SECONDS',
      'K8SNET_SHUTDOWN_GRACE_SECONDS',
      'LOG_LEVEL',
      'K8SNET_HEALTH_PORT',
      'K8SNET_DEBUG',
    ]) {
      expect(names).toContain(name);
    }
    expect(secretsRead()).toEqual([
      'K8SNET_ACTION_KEY',
      'K8SNET_SSH_KEY_PASSPHRASE',
      'SLACK_APP_TOKEN',
      'SLACK_BOT_TOKEN',
      'SLACK_SIGNING_SECRET',
    ]);
  });

  it('is every one in .env.example, each with a comment above it', () => {
    const documented = envExample();
    const lines = read('.env.example').split('\n');
    for (const name of deploymentSettings()) {
      expect([name, documented.has(name)]).toEqual([name, true]);
      // The variable's line, or one of the lines of its group, follows a comment.
      let i = lines.findIndex((l) => l.startsWith(`${name}=`));
      while (i > 0 && /^[A-Z]/.test(lines[i - 1]!)) i -= 1;
      expect([name, lines[i - 1]?.startsWith('#')]).toEqual([name, true]);
    }
    expect(read('.env.example')).toMatch(/NAME_FILE=\/path/);
    expect(read('.env.example')).toContain('KUBERNETES_SERVICE_HOST');
  });

  it('keeps no secret in .env.example', () => {
    for (const name of secretsRead()) expect([name, envExample().get(name)]).toEqual([name, '']);
  });

  it('is in the ConfigMap, or for secrets in the Secret template, never in both', () => {
    const config = configMapData();
    const secret = secretTemplate();
    for (const name of deploymentSettings()) {
      const secretName = secretsRead().includes(name);
      expect([name, secretName ? name in secret : name in config]).toEqual([name, true]);
      if (secretName) expect([name, name in config]).toEqual([name, false]);
    }
  });

  it('reaches each process in Kubernetes: the ConfigMap to both, each secret to the Deployment that reads it', () => {
    const secretKeys = new Set(Object.keys(secretTemplate()));
    const refs = (d: 'k8snet-bot' | 'k8snet-worker') => {
      const [c] = deployment(d).spec.template.spec.containers;
      expect(c!.envFrom).toEqual([{ configMapRef: { name: 'k8snet' } }]);
      return Object.fromEntries((c!.env ?? []).map((e) => [e.name, e.valueFrom?.secretKeyRef]));
    };
    const bot = refs('k8snet-bot');
    const worker = refs('k8snet-worker');
    // Which process reads which secret (src/service/*-process.ts): the worker seals button values with a key derived
    // from K8SNET_ACTION_KEY, else the signing secret (both optional: without either, no buttons).
    expect(Object.keys(bot).sort()).toEqual([
      'K8SNET_ACTION_KEY',
      'REDIS_URL',
      'SLACK_APP_TOKEN',
      'SLACK_BOT_TOKEN',
      'SLACK_SIGNING_SECRET',
    ]);
    expect(Object.keys(worker).sort()).toEqual([
      'K8SNET_ACTION_KEY',
      'K8SNET_SSH_KEY_PASSPHRASE',
      'REDIS_URL',
      'SLACK_BOT_TOKEN',
      'SLACK_SIGNING_SECRET',
    ]);
    for (const [name, ref] of [...Object.entries(bot), ...Object.entries(worker)]) {
      expect([name, ref?.name, ref?.key]).toEqual([name, 'k8snet', name]);
      // A key the template leaves out must be optional, or the pod never starts.
      if (!secretKeys.has(name)) expect([name, ref?.optional]).toEqual([name, true]);
    }
    for (const name of secretsRead()) expect([name, name in bot || name in worker]).toEqual([name, true]);
  });

  it('never overrides the ConfigMap with an empty secret (an empty REDIS_URL would mean 127.0.0.1)', () => {
    for (const [name, value] of Object.entries(secretTemplate())) {
      if (name in configMapData()) expect([name, value]).toEqual([name, expect.stringMatching(/\S/)]);
    }
  });

  it('reaches both processes in docker-compose.yml: all of .env, and only documented overrides', () => {
    const { services } = compose();
    for (const name of ['bot', 'worker']) {
      const service = services[name]!;
      expect([name, service.env_file]).toEqual([name, '.env']);
      for (const key of Object.keys(service.environment ?? {}))
        expect([name, key, envExample().has(key)]).toEqual([name, key, true]);
    }
    expect(read('.gitignore')).toMatch(/^\.env$/m);
  });
});
