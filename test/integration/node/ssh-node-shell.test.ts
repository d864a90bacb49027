import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';
import { testConnect, tcpdump } from '../../../src/node/catalogue.ts';
import { SshNodeShell, type CommandAuditEvent } from '../../../src/node/ssh-node-shell.ts';
import { SshPool } from '../../../src/node/ssh-pool.ts';
import type { CaptureSpec, NodeTarget } from '../../../src/node/types.ts';
import { keygen, startSshd, type TestSshd } from './sshd-fixture.ts';

const exec = promisify(execFile);
const NETNS = `k8snet-it-ssh-${process.pid}`;
const node: NodeTarget = { name: 'test-node', address: '127.0.0.1' };

let sshd: TestSshd;
let shell: SshNodeShell;
const audit: CommandAuditEvent[] = [];

async function pgrep(pattern: string): Promise<string> {
  const r = await exec('pgrep', ['-f', pattern]).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  return r.stdout.trim();
}

/** pgrep until the pattern is gone (the node side needs a moment to reap), at most `ms`. */
async function goneWithin(pattern: string, ms: number): Promise<string> {
  const until = Date.now() + ms;
  let left = await pgrep(pattern);
  while (left !== '' && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    left = await pgrep(pattern);
  }
  return left;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function firstBytes(stream: Readable, count: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= count) {
        stream.off('data', onData);
        stream.pause();
        resolve(got);
      }
    };
    stream.on('data', onData);
    stream.once('end', () => reject(new Error(`stream ended after ${got.length} bytes`)));
  });
}

/** Records in a classic pcap: [24-byte header][16-byte record header + incl_len bytes]… (little-endian magic). */
function pcapRecords(pcap: Buffer): number {
  let offset = 24;
  let n = 0;
  while (offset + 16 <= pcap.length) {
    offset += 16 + pcap.readUInt32LE(offset + 8);
    n++;
  }
  expect(offset).toBe(pcap.length);
  return n;
}

async function establishedTo(port: number): Promise<string[]> {
  const { stdout } = await exec('ss', ['-H', '-tnp', 'state', 'established', `( dport = :${port} )`]);
  return stdout.trim().split('\n').filter(Boolean);
}

const loCapture = (overrides: Partial<CaptureSpec>): CaptureSpec => ({
  interface: 'lo',
  netns: NETNS,
  hosts: ['127.0.0.1'],
  ports: [9],
  includeTunnel: false,
  maxPackets: 6,
  maxSeconds: 15,
  snapLength: 96,
  ...overrides,
});

beforeAll(async () => {
  sshd = await startSshd();
  shell = new SshNodeShell(new SshPool(sshd.settings()), { onCommand: (e) => audit.push(e) });
  await exec('ip', ['netns', 'add', NETNS]);
  await exec('ip', ['-n', NETNS, 'link', 'set', 'lo', 'up']);
}, 30_000);

afterAll(async () => {
  await shell?.close();
  await exec('ip', ['netns', 'del', NETNS]).catch(() => undefined);
  await sshd?.stop();
}, 30_000);

describe('host keys are checked strictly against known_hosts', () => {
  it('connects when known_hosts holds the server key under [127.0.0.1]:port, and runs the command', async () => {
    const r = await shell.run(node, { argv: ['echo', 'hello', 'node'], timeoutSeconds: 5, maxOutputBytes: 100 });
    expect(r).toMatchObject({
      node: 'test-node',
      stdout: 'hello node\n',
      stderr: '',
      exitCode: 0,
      timedOut: false,
      truncated: false,
    });
  });

  it('refuses a server whose key is not in known_hosts, naming the node, address and file', async () => {
    const empty = sshd.writeKnownHosts('empty_known_hosts', '');
    const strict = new SshNodeShell(new SshPool(sshd.settings({ knownHostsPath: empty })));
    await expect(strict.run(node, { argv: ['true'], timeoutSeconds: 5, maxOutputBytes: 10 })).rejects.toMatchObject({
      code: 'ssh_host_key',
      message: expect.stringMatching(
        new RegExp(
          `^host key for test-node \\(127\\.0\\.0\\.1:${sshd.port}\\) is not in known_hosts ${empty}; the node presented ssh-ed25519 SHA256:`,
        ),
      ),
    });
    await strict.close();
  });

  it('refuses a changed key with HOST KEY CHANGED', async () => {
    const impostor = keygen(`${sshd.dir}/impostor`).split(' ').slice(0, 2).join(' ');
    const changed = sshd.writeKnownHosts('changed_known_hosts', `[127.0.0.1]:${sshd.port} ${impostor}\n`);
    const strict = new SshNodeShell(new SshPool(sshd.settings({ knownHostsPath: changed })));
    await expect(strict.run(node, { argv: ['true'], timeoutSeconds: 5, maxOutputBytes: 10 })).rejects.toMatchObject({
      code: 'ssh_host_key',
      message: expect.stringMatching(/^HOST KEY CHANGED for test-node/),
    });
    await strict.close();
  });
});

describe('commands on the node', () => {
  it('returns exit code and stderr, and tells the audit hook what ran (never the output)', async () => {
    const r = await shell.run(node, {
      argv: ['sh', '-c', 'echo out; echo oops >&2; exit 3'],
      timeoutSeconds: 5,
      maxOutputBytes: 100,
    });
    expect(r).toMatchObject({ stdout: 'out\n', stderr: 'oops\n', exitCode: 3, timedOut: false });
    const event = audit.at(-1)!;
    expect(event).toMatchObject({
      node: 'test-node',
      argv: ['sh', '-c', 'echo out; echo oops >&2; exit 3'],
      exitCode: 3,
      timedOut: false,
    });
    expect(Object.keys(event).sort()).toEqual(['argv', 'durationMs', 'exitCode', 'node', 'timedOut']);
  });

  it('passes hostile-looking arguments through as data, never as shell syntax', async () => {
    const args = ['$(id)', '`id`', "it's", 'a;b', 'x\ny'];
    const r = await shell.run(node, { argv: ['printf', '%s|', ...args], timeoutSeconds: 5, maxOutputBytes: 100 });
    expect(r.stdout).toBe(`${args.join('|')}|`);
  });

  it('caps output and says it did', async () => {
    const r = await shell.run(node, {
      argv: ['head', '-c', '1000000', '/dev/zero'],
      timeoutSeconds: 5,
      maxOutputBytes: 1000,
    });
    expect(r.truncated).toBe(true);
    expect(r.stdout.length).toBe(1000);
  });

  it('kills a command past its timeout on the node itself: no orphan is left', async () => {
    const r = await shell.run(node, { argv: ['sleep', '37'], timeoutSeconds: 2, maxOutputBytes: 100 });
    expect(r).toMatchObject({ timedOut: true, exitCode: 124 });
    expect(r.durationMs).toBeLessThan(6000);
    expect(await goneWithin('sleep 37', 3000)).toBe('');
  });

  it('an abort stops the command on the node at once, long before its timeout', async () => {
    const abort = new AbortController();
    const running = shell.run(node, { argv: ['sleep', '38'], timeoutSeconds: 30, maxOutputBytes: 100 }, abort.signal);
    await new Promise((r) => setTimeout(r, 500));
    expect(await pgrep('sleep 38')).not.toBe('');
    abort.abort();
    await expect(running).rejects.toMatchObject({ code: 'timeout', message: expect.stringMatching(/^cancelled/) });
    expect(await goneWithin('sleep 38', 2000)).toBe('');
  });

  it('reuses one connection for many commands, more at once than sshd has sessions', async () => {
    const results = await Promise.all(
      Array.from({ length: 14 }, (_, i) =>
        shell.run(node, {
          argv: ['sh', '-c', 'sleep 0.3; echo "$1"', 'x', String(i)],
          timeoutSeconds: 10,
          maxOutputBytes: 100,
        }),
      ),
    );
    expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 14 }, (_, i) => String(i)));
    expect(await establishedTo(sshd.port)).toHaveLength(1);
  });

  it('drops a dead connection and makes a new one', async () => {
    await shell.run(node, { argv: ['true'], timeoutSeconds: 5, maxOutputBytes: 10 });
    // The per-connection sshd process serving us (a child of the sshd this test started).
    const { stdout } = await exec('ss', ['-H', '-tnp', 'state', 'established', `( sport = :${sshd.port} )`]);
    const pids = [...stdout.matchAll(/pid=(?<pid>\d+)/g)].map((m) => Number(m.groups!.pid));
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of new Set(pids)) process.kill(pid, 'SIGKILL');
    const r = await shell.run(node, { argv: ['echo', 'again'], timeoutSeconds: 5, maxOutputBytes: 100 });
    expect(r.stdout).toBe('again\n');
  });
});

describe('captures stream pcap from tcpdump on the node', () => {
  it('streams valid pcap from lo inside a network namespace and stops at the packet cap', async () => {
    const cap = await shell.capture(node, loCapture({ maxPackets: 6 }));
    const all = readAll(cap.pcap);
    // Five bounded connects to a closed port: a SYN and a RST each, ten packets for a six-packet cap.
    await new Promise((r) => setTimeout(r, 1000));
    for (let i = 0; i < 5; i++) await shell.run(node, testConnect(NETNS, '127.0.0.1', 9, 1));
    const pcap = await all;
    const { exitCode } = await cap.done;
    expect(pcap.readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect(pcap.readUInt32LE(16)).toBe(96); // snap length
    expect(pcapRecords(pcap)).toBe(6);
    expect(exitCode).toBe(0);
    expect(pcap.length).toBeLessThanOrEqual(tcpdump(loCapture({ maxPackets: 6 })).maxOutputBytes);
  });

  it('runs several captures at once on one connection', async () => {
    const caps = await Promise.all(
      [1, 2, 3].map(() => shell.capture(node, loCapture({ maxSeconds: 2, ports: [4441] }))),
    );
    const headers = await Promise.all(caps.map((c) => readAll(c.pcap)));
    for (const h of headers) expect(h.readUInt32LE(0)).toBe(0xa1b2c3d4);
    // The time cap: coreutils timeout stopped each tcpdump (124).
    expect((await Promise.all(caps.map((c) => c.done))).map((d) => d.exitCode)).toEqual([124, 124, 124]);
    expect(await establishedTo(sshd.port)).toHaveLength(1);
  });

  it('an abort stops the remote tcpdump: pgrep finds none left', async () => {
    const abort = new AbortController();
    const cap = await shell.capture(node, loCapture({ ports: [4444], maxSeconds: 60, maxPackets: 50 }), abort.signal);
    const header = await firstBytes(cap.pcap, 24);
    expect(header.readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect(await pgrep('tcpdump -i lo -nn -U -w - -s 96 -c 50')).not.toBe('');
    abort.abort();
    cap.pcap.resume();
    await cap.done;
    expect(await goneWithin('tcpdump -i lo -nn -U -w - -s 96 -c 50', 3000)).toBe('');
  });
});

describe('connecting', () => {
  it('goes through a jump host (the same sshd) with ssh2 forwardOut', async () => {
    const jumped = new SshNodeShell(
      new SshPool(
        sshd.settings({
          jumpHost: { host: '127.0.0.1', port: sshd.port, user: 'root' },
          perNode: { 'behind-jump': { host: '127.0.0.1' } },
        }),
      ),
    );
    try {
      const r = await jumped.run(
        { name: 'behind-jump', address: '192.0.2.1' },
        { argv: ['echo', 'via', 'jump'], timeoutSeconds: 5, maxOutputBytes: 100 },
      );
      expect(r.stdout).toBe('via jump\n');
      // The forwarded TCP connection to the node was opened by sshd (the jump host), not by us.
      expect((await establishedTo(sshd.port)).some((l) => l.includes('"sshd'))).toBe(true);
    } finally {
      await jumped.close();
    }
  });

  describe('with a server that never answers', () => {
    let silent: Server;
    let port: number;
    beforeAll(async () => {
      // Reads and drops what it gets (so it sees the client hang up) and never answers.
      silent = createServer((socket) => socket.resume());
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      port = (silent.address() as { port: number }).port;
    });
    afterAll(async () => {
      await new Promise((r) => silent.close(r));
    });

    it('gives up after the connect timeout with a timeout error', async () => {
      const slow = new SshNodeShell(new SshPool(sshd.settings({ port, connectTimeoutMs: 800 })));
      const started = Date.now();
      await expect(slow.run(node, { argv: ['true'], timeoutSeconds: 5, maxOutputBytes: 10 })).rejects.toMatchObject({
        code: 'timeout',
        message: expect.stringMatching(/^connecting to test-node \(root@127\.0\.0\.1:\d+\) took longer than 800 ms/),
      });
      expect(Date.now() - started).toBeLessThan(3000);
      silent.getConnections(() => undefined);
      await slow.close();
    });
  });

  it('reports a refused connection as ssh_connect', async () => {
    const refused = new SshNodeShell(new SshPool(sshd.settings({ port: 1 })));
    await expect(refused.run(node, { argv: ['true'], timeoutSeconds: 5, maxOutputBytes: 10 })).rejects.toMatchObject({
      code: 'ssh_connect',
      message: expect.stringMatching(/ECONNREFUSED/),
    });
    await refused.close();
  });
});
