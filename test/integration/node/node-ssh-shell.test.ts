import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import type { LabState } from '../../../src/lab/state.ts';
import { labPaths } from '../../../src/lab/state.ts';
import { SshNodeShell } from '../../../src/node/ssh-node-shell.ts';
import { SshPool } from '../../../src/node/ssh-pool.ts';
import type { SshSettings } from '../../../src/node/ssh-settings.ts';

const sshShell = (settings: SshSettings) => new SshNodeShell(new SshPool(settings));
import { sshEnvSettings } from '../../../src/config.ts';
import { labClientEnv } from '../../../src/lab/lab-up.ts';
import { inNetns, run, startLab, stopLab } from '../../support/lab.ts';

const LAB = 'itssh';
let lab: LabState;
let shell: SshNodeShell;
let node: { name: string; address: string };
const pgrep = async (pattern: string) =>
  (await run(inNetns(lab.plan.nodes[0]!.netns, ['pgrep', '-f', pattern]))).stdout.trim();

beforeAll(async () => {
  lab = await startLab(LAB);
  shell = sshShell(sshEnvSettings(await labClientEnv(LAB)));
  node = { name: lab.plan.nodes[0]!.name, address: lab.plan.nodes[0]!.ip };
}, 120_000);
afterAll(async () => {
  await shell?.close();
  await stopLab(LAB);
}, 60_000);

describe('SSH node shell on a lab node', () => {
  it('kills a command past its timeout on the node itself: no orphan is left', async () => {
    const r = await shell.run(node, { argv: ['sleep', '47'], timeoutSeconds: 1, maxOutputBytes: 1024 });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBe(124);
    expect(await pgrep('sleep 47')).toBe('');
  });

  it('stops a capture on abort and leaves no tcpdump running', async () => {
    const abort = new AbortController();
    const cap = await shell.capture(
      node,
      {
        interface: 'eth0',
        hosts: [],
        ports: [4444],
        includeTunnel: false,
        maxPackets: 10,
        maxSeconds: 30,
        snapLength: 96,
      },
      abort.signal,
    );
    const header = await new Promise<Buffer>((resolve) => cap.pcap.once('data', resolve));
    expect(header.readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect(await pgrep('tcpdump -i eth0')).not.toBe('');
    abort.abort();
    await cap.done;
    // SIGKILL on the channel, and `timeout` on the node as the backstop.
    for (let i = 0; i < 20 && (await pgrep('tcpdump -i eth0')) !== ''; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(await pgrep('tcpdump -i eth0')).toBe('');
  });

  it('caps output and says it did', async () => {
    const r = await shell.run(node, {
      argv: ['head', '-c', '100000', '/dev/zero'],
      timeoutSeconds: 5,
      maxOutputBytes: 1000,
    });
    expect(r.truncated).toBe(true);
    expect(r.stdout.length).toBe(1000);
  });

  it('reuses one connection for many commands, several at once', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        shell.run(node, { argv: ['echo', String(i)], timeoutSeconds: 5, maxOutputBytes: 100 }),
      ),
    );
    expect(results.map((r) => r.stdout.trim())).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    const sessions = (
      await run(inNetns(lab.plan.nodes[0]!.netns, ['ss', '-H', '-tn', 'state', 'established', '( sport = :22 )']))
    ).stdout
      .trim()
      .split('\n')
      .filter(Boolean);
    expect(sessions).toHaveLength(1);
  });

  it('refuses a node whose host key is not in known_hosts, saying so', async () => {
    const env = await labClientEnv(LAB);
    const emptyKnownHosts = `${labPaths(LAB).dir}/empty_known_hosts`;
    await writeFile(emptyKnownHosts, '');
    const strict = sshShell(sshEnvSettings({ ...env, K8SNET_SSH_KNOWN_HOSTS: emptyKnownHosts }));
    await expect(strict.run(node, { argv: ['true'], timeoutSeconds: 5, maxOutputBytes: 10 })).rejects.toThrow(
      /host key for k8s-node1 \(.*:22\) is not in .*empty_known_hosts/,
    );
    await strict.close();
  });
});

describe('SSH through a jump host, with per-node overrides', () => {
  it('reaches k8s-node2 through k8s-node1 and uses a per-node address override', async () => {
    const env = await labClientEnv(LAB);
    const [n1, n2] = lab.plan.nodes;
    const jumped = sshShell(
      sshEnvSettings({
        ...env,
        K8SNET_SSH_JUMP_HOST: `root@${n1!.ip}`,
        K8SNET_SSH_NODE_OVERRIDES: JSON.stringify({ 'renamed-node': { host: n2!.ip } }),
      }),
    );
    try {
      const r = await jumped
        .run(
          { name: 'renamed-node', address: '192.0.2.1' },
          { argv: ['sh', '-c', 'hostname; echo "$SSH_CLIENT"'], timeoutSeconds: 5, maxOutputBytes: 1000 },
        )
        .catch((err: Error) => err);
      // The override names an address known_hosts files under k8s-node2's IP, so strict checking accepts it.
      expect(r).not.toBeInstanceOf(Error);
      const [hostname, client] = (r as { stdout: string }).stdout.trim().split('\n');
      expect(hostname).toBe('k8s-node2');
      // The connection arrived from node1 (the jump host), not from the host's link into the lab.
      expect(client!.split(' ')[0]).toBe(n1!.ip);
    } finally {
      await jumped.close();
    }
  });
});
