import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { run } from '../../support/lab.ts';

const exec = promisify(execFile);
const BIN = fileURLToPath(new URL('../../../bin/k8snet.js', import.meta.url));

describe('k8snet demo', () => {
  it('builds everything, shows the signed trace thread as Slack would, and tears it all down', async () => {
    const { stdout } = await exec(process.execPath, [BIN, 'demo', '--once', '--lab', 'itdemo'], {
      timeout: 240_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    expect(stdout).toContain('bringing up lab "itdemo"');
    expect(stdout).toContain('/k8snet trace pod-src pod-dest');
    expect(stdout).toMatch(/acknowledged by the bot in \d+ ms \(HTTP 200\)/);
    expect(stdout).toMatch(/parent message: done in \d+\.\d s/);
    expect(stdout).toContain('== trace default/pod-src → default/pod-dest ==');
    expect(stdout).toMatch(/k8s-node2 → [\d.]+: [\d.]+\/26 via [\d.]+ dev vxlan\.calico proto 80 onlink/);
    expect(stdout).toMatch(/VXLAN vni 4096 [\d.]+ → [\d.]+/);
    expect(stdout).toMatch(/📎 trace-k8s-node2-eth0\.pcap/);
    expect(stdout.trimEnd().endsWith('tearing down…')).toBe(true);
    expect((await run(['ip', 'netns', 'list'])).stdout).not.toContain('k8snet-itdemo');
    expect((await run(['pgrep', '-f', 'k8snet.js worker --lab itdemo'])).stdout).toBe('');
    // The bot and the stand-in stopped listening.
    const botPort = /k8snet bot on :(\d+)/.exec(stdout)![1]!;
    const standInPort = /Slack stand-in at http:\/\/127\.0\.0\.1:(\d+)\//.exec(stdout)![1]!;
    const listening = (await run(['ss', '-Hltn'])).stdout;
    expect(listening).not.toMatch(new RegExp(`:(${botPort}|${standInPort})\\s`));
  }, 300_000);

  it('refuses bad slash-command text before building anything', async () => {
    const r = await exec(process.execPath, [
      BIN,
      'demo',
      '--once',
      '--lab',
      'itdemo',
      '--',
      'trace',
      'pod;reboot',
      'x',
    ]).catch((err: { code: number; stderr: string; stdout: string }) => err);
    expect(r).toMatchObject({ code: 1, stderr: expect.stringContaining('SRC-POD') });
    expect((await run(['ip', 'netns', 'list'])).stdout).not.toContain('k8snet-itdemo');
  });
});
