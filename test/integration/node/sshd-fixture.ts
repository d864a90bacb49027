/**
 * A real OpenSSH server for the node layer's integration tests: 127.0.0.1 on a free high port, a temporary host key,
 * a temporary client key in its own authorized_keys, running in the foreground as our child (sshd -D -e) so
 * stopping it is one kill of a process we started.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SshSettings } from '../../../src/node/ssh-settings.ts';

export const SSHD = '/usr/sbin/sshd';

export interface TestSshd {
  dir: string;
  port: number;
  hostKeyLine: string;
  clientKeyPath: string;
  /** known_hosts holding this server's key under [127.0.0.1]:port. */
  knownHostsPath: string;
  settings(overrides?: Partial<SshSettings>): SshSettings;
  /** A known_hosts file with other content (for the unknown/changed key cases). */
  writeKnownHosts(name: string, text: string): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForListener(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`sshd exited ${child.exitCode}: ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on ${port}: ${stderr()}`);
}

export function keygen(path: string): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'k8snet-test', '-f', path]);
  return readFileSync(`${path}.pub`, 'utf8').trim();
}

export async function startSshd(): Promise<TestSshd> {
  if (!existsSync(SSHD))
    throw new Error(`${SSHD} is missing: flock /tmp/k8snet-apt.lock apt-get install -y openssh-server`);
  mkdirSync('/run/sshd', { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'k8snet-sshd-'));
  const port = await freePort();
  const hostKeyLine = keygen(join(dir, 'host_ed25519'));
  const clientPub = keygen(join(dir, 'client_ed25519'));
  writeFileSync(join(dir, 'authorized_keys'), `${clientPub}\n`);
  const hostKey = hostKeyLine.split(' ').slice(0, 2).join(' ');
  const knownHostsPath = join(dir, 'known_hosts');
  writeFileSync(knownHostsPath, `[127.0.0.1]:${port} ${hostKey}\n`);
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${join(dir, 'host_ed25519')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'AllowTcpForwarding yes',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 10_000) stderr += d.toString();
  });
  await waitForListener(port, child, () => stderr);
  const clientKeyPath = join(dir, 'client_ed25519');
  return {
    dir,
    port,
    hostKeyLine,
    clientKeyPath,
    knownHostsPath,
    settings: (overrides = {}) => ({
      user: 'root',
      privateKeyPath: clientKeyPath,
      knownHostsPath,
      port,
      connectTimeoutMs: 5000,
      commandTimeoutSeconds: 10,
      keepaliveIntervalMs: 5000,
      strictHostKeys: true,
      jumpHost: null,
      perNode: {},
      ...overrides,
    }),
    writeKnownHosts(name, text) {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
