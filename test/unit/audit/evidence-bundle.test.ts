import { describe, expect, it } from '@jest/globals';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { Readable } from 'node:stream';
import {
  BUNDLE_MAX_BYTES,
  BUNDLE_OUTPUT_CAP_BYTES,
  buildEvidenceBundle,
  redact,
  type Evidence,
} from '../../../src/audit/evidence-bundle.ts';
import { auditedShell, type NodeCommandEvidence } from '../../../src/audit/audited-shell.ts';
import { recordingCluster, type ClusterRead } from '../../../src/ops/recording-cluster.ts';
import type { ClusterReader } from '../../../src/cluster/types.ts';
import type { NodeShell } from '../../../src/node/types.ts';

/** The bundle's files by name (root directory stripped), read with tar-stream's extractor. */
async function files(bundle: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        out.set(header.name.replace(/^[^/]+\//, ''), Buffer.concat(chunks));
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  Readable.from([gunzipSync(bundle)]).pipe(ex);
  await done;
  return out;
}

const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----';
const evidence = (over: Partial<Evidence> = {}): Evidence => ({
  job: {
    jobId: 'j4',
    command: 'trace pod-src pod-dest --capture-seconds 2',
    user: 'U1',
    channel: 'C1',
    startedAt: '2026-12-02T10:00:00.000Z',
    finishedAt: '2026-12-02T10:00:09.000Z',
    outcome: 'done',
  },
  commands: [
    {
      node: 'k8s-node1',
      command: 'ip -j route show table all',
      argv: ['ip', '-j', 'route', 'show', 'table', 'all'],
      startedAt: '2026-12-02T10:00:01.000Z',
      exitCode: 0,
      timedOut: false,
      durationMs: 14,
      stdout: '[{"dst":"default"}]',
      stderr: '',
    },
  ],
  reads: [
    {
      call: 'getPod',
      seq: 1,
      args: ['default', 'pod-src'],
      at: '2026-12-02T10:00:00.500Z',
      durationMs: 4,
      result: { name: 'pod-src', podIP: '10.244.0.5' },
    },
  ],
  result: { findings: [] },
  report: {
    title: 'trace',
    headline: 'no problems found',
    findings: [
      {
        severity: 'error',
        code: 'no_route',
        message: 'no route to 10.244.1.0/26',
        evidence: '10.244.1.0/26 unreachable',
      },
    ],
    sections: [],
    attachments: [
      {
        filename: 'trace-node1.pcap',
        title: 'capture',
        contentType: 'application/vnd.tcpdump.pcap',
        data: Buffer.alloc(40, 7),
      },
    ],
  },
  secrets: ['xoxb-the-bot-token', 'the-signing-secret'],
  ...over,
});

describe('the evidence bundle', () => {
  it('holds the commands with argv, start, duration, status and output; the reads as YAML; the pcap; result and findings', async () => {
    const f = await files(await buildEvidenceBundle(evidence()));
    expect([...f.keys()].sort()).toEqual([
      'README.txt',
      'captures/trace-node1.pcap',
      'cluster/001-getPod.yaml',
      'commands.tsv',
      'commands/001-k8s-node1.txt',
      'findings.txt',
      'job.json',
      'report.txt',
      'result.json',
    ]);
    const command = f.get('commands/001-k8s-node1.txt')!.toString();
    expect(command).toContain('argv: ["ip","-j","route","show","table","all"]');
    expect(command).toContain('started: 2026-12-02T10:00:01.000Z');
    expect(command).toContain('duration: 14 ms');
    expect(command).toContain('status: exit 0');
    expect(command).toContain('--- stdout ---\n[{"dst":"default"}]');
    expect(f.get('cluster/001-getPod.yaml')!.toString()).toContain('podIP: 10.244.0.5');
    expect(f.get('captures/trace-node1.pcap')).toEqual(Buffer.alloc(40, 7));
    expect(f.get('findings.txt')!.toString()).toContain(
      'ERROR no_route: no route to 10.244.1.0/26\n    10.244.1.0/26 unreachable',
    );
    expect(f.get('README.txt')!.toString()).toContain('Left out: nothing.');
    expect(JSON.parse(f.get('job.json')!.toString())).toMatchObject({ jobId: 'j4', user: 'U1' });
  });

  it('never holds a token, the signing secret or a private key, wherever they turn up', async () => {
    const leaky = evidence({
      commands: [
        {
          node: 'n1',
          command: 'cat x',
          argv: ['cat', 'x'],
          exitCode: 0,
          timedOut: false,
          durationMs: 1,
          stdout: `token xoxb-the-bot-token\n${KEY}\nxapp-1-A0-123-abc and xoxp-99-other`,
          stderr: 'the-signing-secret',
        },
      ],
      reads: [
        {
          call: 'listPods',
          seq: 1,
          args: [],
          at: '',
          durationMs: 1,
          result: [{ annotations: { note: 'xoxb-the-bot-token' } }],
        },
      ],
    });
    const bundle = await buildEvidenceBundle(leaky);
    const text = [...(await files(bundle)).values()].map((b) => b.toString()).join('\n');
    for (const s of ['xoxb-the-bot-token', 'the-signing-secret', 'BEGIN OPENSSH PRIVATE KEY', 'xapp-1-A0', 'xoxp-99'])
      expect(text).not.toContain(s);
    expect(text).toContain('[redacted]');
    expect(redact('a xoxb-1-2 b', [])).toBe('a [redacted] b');
  });

  it('caps each output and the whole, and lists what it left out in README.txt', async () => {
    const big = 'x'.repeat(BUNDLE_OUTPUT_CAP_BYTES + 10);
    const pcap = Buffer.alloc(BUNDLE_MAX_BYTES, 1);
    const f = await files(
      await buildEvidenceBundle(
        evidence({
          commands: [
            {
              node: 'n1',
              command: 'iptables-save',
              argv: ['iptables-save'],
              exitCode: 0,
              timedOut: false,
              durationMs: 1,
              stdout: big,
              stderr: '',
            },
          ],
          report: {
            ...evidence().report!,
            attachments: [{ filename: 'huge.pcap', title: 'c', contentType: 'x', data: pcap }],
          },
        }),
      ),
    );
    expect(f.get('commands/001-n1.txt')!.length).toBeLessThan(BUNDLE_OUTPUT_CAP_BYTES + 1000);
    expect(f.has('captures/huge.pcap')).toBe(false);
    const readme = f.get('README.txt')!.toString();
    expect(readme).toContain(`commands/001-n1.txt stdout: 10 bytes past the first ${BUNDLE_OUTPUT_CAP_BYTES}`);
    expect(readme).toContain(
      `captures/huge.pcap: ${BUNDLE_MAX_BYTES} bytes (the bundle is capped at ${BUNDLE_MAX_BYTES} bytes)`,
    );
  });
});

describe('what feeds it', () => {
  it('the audited shell hands over argv, start and output with each command', async () => {
    const shell: NodeShell = {
      run: async (node, command) => ({
        node: node.name,
        argv: command.argv,
        stdout: 'out',
        stderr: 'err',
        exitCode: 3,
        timedOut: false,
        truncated: true,
        durationMs: 5,
      }),
      capture: async () => {
        throw new Error('no capture here');
      },
      close: async () => undefined,
    };
    const seen: NodeCommandEvidence[] = [];
    await auditedShell(shell, (r) => seen.push(r)).run(
      { name: 'n1', address: '10.0.0.1' },
      { argv: ['ip', 'addr'], timeoutSeconds: 5, maxOutputBytes: 100 },
    );
    expect(seen).toEqual([
      {
        node: 'n1',
        command: 'ip addr',
        argv: ['ip', 'addr'],
        startedAt: expect.stringMatching(/^\d{4}-/),
        exitCode: 3,
        timedOut: false,
        durationMs: 5,
        stdout: 'out',
        stderr: 'err',
        truncated: true,
      },
    ]);
  });

  it('the recording cluster reports every read and its failure, and passes no Secret on', async () => {
    const reads: ClusterRead[] = [];
    const base = {
      getPod: async () => {
        throw new Error('pods "x" not found');
      },
      listPolicyObjects: async () => ({
        objects: [
          { kind: 'NetworkPolicy', metadata: { name: 'a' } },
          { kind: 'Secret', data: { token: 'c2VjcmV0' } },
        ],
        read: [],
        errors: [],
      }),
    } as unknown as ClusterReader;
    const cluster = recordingCluster(base, (r) => reads.push(r));
    await expect(cluster.getPod('default', 'x')).rejects.toThrow('not found');
    const objects = await cluster.listPolicyObjects();
    // The operation gets what the cluster returned; only the record drops the Secret.
    expect(objects.objects).toHaveLength(2);
    expect(reads.map((r) => [r.call, r.args, r.error ?? null])).toEqual([
      ['getPod', ['default', 'x'], 'Error: pods "x" not found'],
      ['listPolicyObjects', [], null],
    ]);
    expect(JSON.stringify(reads[1]!.result)).not.toContain('c2VjcmV0');
  });

  it('numbers reads in the order they were asked for when a slow one answers last', async () => {
    const reads: ClusterRead[] = [];
    const after = (ms: number, name: string) => new Promise((r) => setTimeout(() => r({ name }), ms));
    const base = {
      getPod: (_ns: string, name: string) => after(name === 'pod-src' ? 30 : 1, name),
    } as unknown as ClusterReader;
    const cluster = recordingCluster(base, (r) => reads.push(r));
    await Promise.all([cluster.getPod('default', 'pod-src'), cluster.getPod('default', 'pod-dest')]);
    expect(reads.map((r) => [r.seq, r.args[1]])).toEqual([
      [2, 'pod-dest'],
      [1, 'pod-src'],
    ]);
    const f = await files(await buildEvidenceBundle(evidence({ reads })));
    expect(f.get('cluster/001-getPod.yaml')!.toString()).toContain('pod-src');
    expect(f.get('cluster/002-getPod.yaml')!.toString()).toContain('pod-dest');
  });
});
