/**
 * A node whose command ends at once: sshd's exec reply, the exit status and the channel's close can reach us in one
 * read. This in-process SSH server (ssh2's, on loopback) sends them back to back, as a fast `ip netns list` on a busy
 * node does; the shell must still report the exit status, never "ended without one".
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import { Server, utils } from 'ssh2';
import { SshNodeShell } from '../../../src/node/ssh-node-shell.ts';
import { SshPool } from '../../../src/node/ssh-pool.ts';
import type { NodeCommand, NodeTarget } from '../../../src/node/types.ts';

const node: NodeTarget = { name: 'quick-node', address: '127.0.0.1' };
const clientKey = utils.generateKeyPairSync('ed25519');
const hostKey = utils.generateKeyPairSync('ed25519');
/** The exit status this node answers every command with: 3 when the command line names `three`, else 0. */
const statusFor = (line: string) => (line.includes('three') ? 3 : 0);

let server: Server;
let shell: SshNodeShell;

beforeAll(async () => {
  server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('authentication', (ctx) => (ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey'])));
    client.on('session', (acceptSession) => {
      acceptSession().on('exec', (accept, _reject, info) => {
        const channel = accept();
        // Reply, output, status and close in one turn of the server's loop: they leave together.
        channel.write('out\n');
        channel.exit(statusFor(info.command));
        channel.end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  shell = new SshNodeShell(
    new SshPool({
      user: 'root',
      privateKey: clientKey.private,
      knownHostsPath: '/nonexistent',
      port,
      connectTimeoutMs: 5_000,
      commandTimeoutSeconds: 5,
      keepaliveIntervalMs: 0,
      strictHostKeys: false,
      perNode: {},
    }),
  );
});

afterAll(async () => {
  await shell?.close();
  await new Promise((resolve) => server?.close(resolve));
});

const cmd = (word: string): NodeCommand => ({ argv: ['echo', word], timeoutSeconds: 5, maxOutputBytes: 1024 });

it('reports the exit status of commands that end in the same read as the exec reply', async () => {
  // Many at once, as a namespace scan runs them: each must carry its own status.
  const words = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? 'three' : 'zero'));
  const results = await Promise.all(words.map((w) => shell.run(node, cmd(w))));
  expect(results.map((r) => [r.exitCode, r.stdout])).toEqual(words.map((w) => [statusFor(w), 'out\n']));
}, 30_000);
