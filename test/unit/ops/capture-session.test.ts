import { describe, expect, it } from '@jest/globals';
import { PassThrough, type Readable } from 'node:stream';
import { runCaptures } from '../../../src/ops/capture-session.ts';
import type { CaptureSpec, CaptureStream, NodeShell, NodeTarget } from '../../../src/node/types.ts';
import { K8snetError } from '../../../src/errors.ts';

const spec = (iface: string, maxPackets = 10): CaptureSpec => ({
  interface: iface,
  hosts: [],
  ports: [],
  includeTunnel: true,
  maxPackets,
  maxSeconds: 1,
  snapLength: 96,
});
const header = Buffer.alloc(24, 1);

/** A NodeShell whose captures emit a pcap header at once, then whatever the test pushes, then end. */
function fakeShell(events: string[]): NodeShell & { streams: Map<string, PassThrough> } {
  const streams = new Map<string, PassThrough>();
  return {
    streams,
    async run() {
      throw new Error('not used');
    },
    async capture(node: NodeTarget, s: CaptureSpec, signal?: AbortSignal): Promise<CaptureStream> {
      if (s.interface === 'missing0') throw new K8snetError('ssh_command', 'tcpdump: missing0: No such device exists');
      const pcap = new PassThrough();
      streams.set(`${node.name}/${s.interface}`, pcap);
      setTimeout(() => {
        events.push(`listening ${s.interface}`);
        pcap.write(header);
      }, 20);
      const done = new Promise<{ exitCode: number | null; stderr: string }>((resolve) =>
        pcap.once('end', () => resolve({ exitCode: 0, stderr: '2 packets captured' })),
      );
      // Like the SSH shell: an abort ends the capture (the node's watchdog kills tcpdump).
      signal?.addEventListener('abort', () => events.push(`stopped ${s.interface}`) && pcap.end(), { once: true });
      return { pcap, done };
    },
    async close() {},
  };
}

async function countBytes(stream: Readable): Promise<number> {
  let n = 0;
  for await (const chunk of stream) n += (chunk as Buffer).length;
  return n;
}

describe('simultaneous captures', () => {
  it('sends test traffic only once every capture is listening, and summarizes each point', async () => {
    const events: string[] = [];
    const shell = fakeShell(events);
    const node = { name: 'k8s-node2', address: '10.254.0.12' };
    const { points, traffic } = await runCaptures(
      shell,
      [
        { node, role: 'src-pod', spec: spec('cali1') },
        { node, role: 'src-uplink', spec: spec('eth0') },
      ],
      countBytes,
      {
        signal: new AbortController().signal,
        whileCapturing: async () => {
          events.push('traffic');
          for (const s of shell.streams.values()) s.end(Buffer.alloc(40, 2));
          return 'connected';
        },
      },
    );
    expect(events).toEqual(['listening cali1', 'listening eth0', 'traffic']);
    expect(traffic).toBe('connected');
    expect(points.map((p) => [p.interface, p.summary, p.pcap?.length, p.error])).toEqual([
      ['cali1', 64, 64, null],
      ['eth0', 64, 64, null],
    ]);
  });

  it("stops every capture the window after all were listening, not at tcpdump's own time cap", async () => {
    const events: string[] = [];
    const shell = fakeShell(events);
    const node = { name: 'k8s-node1', address: '10.254.0.11' };
    const t0 = performance.now();
    let trafficAt = 0;
    const { points } = await runCaptures(
      shell,
      [
        { node, role: 'dst-uplink', spec: spec('eth0') },
        { node, role: 'dst-pod', spec: spec('cali2') },
      ],
      countBytes,
      {
        signal: new AbortController().signal,
        windowMs: 400,
        whileCapturing: async () => {
          trafficAt = performance.now() - t0;
          return 'connected';
        },
      },
    );
    const took = performance.now() - t0;
    expect(events).toEqual(['listening eth0', 'listening cali2', 'stopped eth0', 'stopped cali2']);
    expect(trafficAt).toBeGreaterThanOrEqual(15);
    expect(took).toBeGreaterThanOrEqual(400);
    expect(took).toBeLessThan(400 + 300);
    expect(points.map((p) => p.error)).toEqual([null, null]);
  });

  it('reports a capture point that could not start without losing the others', async () => {
    const shell = fakeShell([]);
    const node = { name: 'k8s-node1', address: '10.254.0.11' };
    const run = runCaptures(
      shell,
      [
        { node, role: 'dst-tunnel', spec: spec('missing0') },
        { node, role: 'dst-pod', spec: spec('cali2') },
      ],
      countBytes,
      { signal: new AbortController().signal },
    );
    setTimeout(() => shell.streams.get('k8s-node1/cali2')?.end(), 100);
    const { points } = await run;
    expect(points[0]).toMatchObject({
      interface: 'missing0',
      summary: null,
      error: 'tcpdump: missing0: No such device exists',
    });
    expect(points[1]).toMatchObject({ interface: 'cali2', summary: 24, error: null });
  });

  it('keeps at most packet cap × (record header + snap length) bytes for the attachment', async () => {
    const shell = fakeShell([]);
    const node = { name: 'n', address: '10.0.0.1' };
    const run = runCaptures(shell, [{ node, role: 'x', spec: spec('eth0', 1) }], countBytes, {
      signal: new AbortController().signal,
    });
    setTimeout(() => shell.streams.get('n/eth0')?.end(Buffer.alloc(10_000)), 50);
    const { points } = await run;
    expect(points[0]!.summary).toBe(10_024);
    expect(points[0]!.pcap!.length).toBe(24 + 16 + 96);
  });

  it('gives no result when cancelled while the captures finish (a cut-short capture would read as "no packets")', async () => {
    const shell = fakeShell([]);
    const node = { name: 'k8s-node2', address: '10.254.0.12' };
    const abort = new AbortController();
    const run = runCaptures(shell, [{ node, role: 'src-pod', spec: spec('cali1') }], countBytes, {
      signal: abort.signal,
      whileCapturing: async () => {
        setTimeout(() => {
          abort.abort();
          for (const s of shell.streams.values()) s.end();
        }, 10);
        return null;
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'timeout', message: 'cancelled while capturing' });
  });

  it('holds one lock per node interface for the whole capture, taken in sorted order and always released', async () => {
    const held: string[] = [];
    const log: string[] = [];
    const locks = {
      async acquire(key: string, ttlMs: number) {
        log.push(`acquire ${key} ${ttlMs}`);
        held.push(key);
        return async () => {
          log.push(`release ${key}`);
          held.splice(held.indexOf(key), 1);
        };
      },
    };
    const shell = fakeShell([]);
    const n1 = { name: 'k8s-node1', address: '10.254.0.11' };
    const n2 = { name: 'k8s-node2', address: '10.254.0.12' };
    await runCaptures(
      shell,
      [
        { node: n2, role: 'a', spec: spec('eth0') },
        { node: n1, role: 'b', spec: { ...spec('cali1'), netns: 'cni-1' } },
      ],
      countBytes,
      {
        signal: new AbortController().signal,
        locks,
        whileCapturing: async () => {
          expect(held).toEqual(['k8s-node1/cni-1/cali1', 'k8s-node2//eth0']);
          for (const s of shell.streams.values()) s.end();
          return null;
        },
      },
    );
    expect(log).toEqual([
      'acquire k8s-node1/cni-1/cali1 18000',
      'acquire k8s-node2//eth0 18000',
      'release k8s-node1/cni-1/cali1',
      'release k8s-node2//eth0',
    ]);
    expect(held).toEqual([]);
  });

  it('does not capture when an interface stays busy, and gives back the locks it already took', async () => {
    const released: string[] = [];
    const locks = {
      async acquire(key: string) {
        if (key.startsWith('k8s-node2'))
          throw new K8snetError('timeout', `${key} is busy with another capture`, { retryable: true });
        return async () => void released.push(key);
      },
    };
    const shell = fakeShell([]);
    const run = runCaptures(
      shell,
      [
        { node: { name: 'k8s-node1', address: '10.254.0.11' }, role: 'a', spec: spec('eth0') },
        { node: { name: 'k8s-node2', address: '10.254.0.12' }, role: 'b', spec: spec('eth0') },
      ],
      countBytes,
      { signal: new AbortController().signal, locks },
    );
    await expect(run).rejects.toMatchObject({ retryable: true });
    expect(released).toEqual(['k8s-node1//eth0']);
    expect(shell.streams.size).toBe(0);
  });
});
