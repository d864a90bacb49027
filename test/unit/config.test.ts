import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureSettings, ConfigError, kubeSettings, secret, sshEnvSettings } from '../../src/config.ts';

const base = { K8SNET_SSH_KEY: '/keys/id', K8SNET_SSH_KNOWN_HOSTS: '/keys/known_hosts' };

describe('configuration from the environment', () => {
  it('stops with the name of a missing variable', () => {
    expect(() => sshEnvSettings({ K8SNET_SSH_KNOWN_HOSTS: '/k' })).toThrow('K8SNET_SSH_KEY: is required but not set (see .env.example)');
  });

  it('names the variable whose value is bad', () => {
    expect(() => sshEnvSettings({ ...base, K8SNET_SSH_PORT: '70000' })).toThrow(new ConfigError('K8SNET_SSH_PORT', '70000 is outside 1–65535'));
    expect(() => sshEnvSettings({ ...base, K8SNET_SSH_STRICT_HOST_KEYS: 'maybe' })).toThrow(/K8SNET_SSH_STRICT_HOST_KEYS/);
    expect(() => sshEnvSettings({ ...base, K8SNET_SSH_NODE_OVERRIDES: '{"Bad Node": {}}' })).toThrow(/K8SNET_SSH_NODE_OVERRIDES/);
    expect(() => sshEnvSettings({ ...base, K8SNET_SSH_JUMP_HOST: 'root@host;rm -rf /' })).toThrow(/K8SNET_SSH_JUMP_HOST/);
  });

  it('defaults to strict host keys, root and port 22, and parses a jump host and per-node overrides', () => {
    const s = sshEnvSettings({ ...base, K8SNET_SSH_JUMP_HOST: 'ops@bastion.example:2222', K8SNET_SSH_NODE_OVERRIDES: '{"k8s-node1": {"host": "10.0.0.5", "port": 2200}}' });
    expect(s.strictHostKeys).toBe(true);
    expect(s.user).toBe('root');
    expect(s.port).toBe(22);
    expect(s.jumpHost).toEqual({ host: 'bastion.example', port: 2222, user: 'ops', privateKeyPath: '/keys/id' });
    expect(s.perNode).toEqual({ 'k8s-node1': { host: '10.0.0.5', port: 2200 } });
  });

  it('reads secrets from a mounted file in preference to the variable, and never echoes them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8snet-config-'));
    writeFileSync(join(dir, 'token'), 'xoxb-from-file\n');
    expect(secret({ SLACK_BOT_TOKEN: 'xoxb-env', SLACK_BOT_TOKEN_FILE: join(dir, 'token') }, 'SLACK_BOT_TOKEN')).toBe('xoxb-from-file');
    expect(() => secret({ SLACK_BOT_TOKEN_FILE: join(dir, 'missing') }, 'SLACK_BOT_TOKEN')).toThrow(/SLACK_BOT_TOKEN_FILE: cannot read .*ENOENT/);
    rmSync(dir, { recursive: true });
    try {
      secret({}, 'SLACK_BOT_TOKEN');
    } catch (err) {
      expect((err as Error).message).toBe('SLACK_BOT_TOKEN: is required but not set (or set SLACK_BOT_TOKEN_FILE to a file holding it)');
    }
  });

  it('bounds captures and keeps the default inside the maximum', () => {
    expect(captureSettings({})).toEqual({ defaultSeconds: 5, maxSeconds: 30, maxPackets: 2000, snapLength: 128 });
    expect(() => captureSettings({ K8SNET_CAPTURE_MAX_SECONDS: '10', K8SNET_CAPTURE_SECONDS: '20' })).toThrow(/K8SNET_CAPTURE_SECONDS: 20 is outside 1–10/);
  });

  it('uses in-cluster credentials only when no kubeconfig is given inside a pod', () => {
    expect(kubeSettings({ KUBERNETES_SERVICE_HOST: '10.96.0.1' }).inCluster).toBe(true);
    expect(kubeSettings({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBECONFIG: '/k' }).inCluster).toBe(false);
  });
});
