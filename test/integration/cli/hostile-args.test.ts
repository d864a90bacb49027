import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { labPaths } from '../../../src/lab/state.ts';
import { nodeCommandLog } from '../../../src/lab/sshd.ts';
import { startLab, stopLab } from '../../support/lab.ts';

const LAB = 'ithost';
const bin = fileURLToPath(new URL('../../../bin/k8snet.js', import.meta.url));

function k8snet(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const logs = () =>
  Promise.all(['k8s-node1', 'k8s-node2'].map((n) => readFile(nodeCommandLog(labPaths(LAB), n), 'utf8')));

beforeAll(async () => {
  await startLab(LAB);
}, 120_000);
afterAll(async () => {
  await stopLab(LAB);
}, 60_000);

describe('hostile arguments through the real CLI', () => {
  it("are refused with a clear message and nothing runs on any node (the nodes' own command logs prove it)", async () => {
    const before = await logs();
    const attempts = [
      ['trace', 'pod-src;reboot', 'pod-dest'],
      ['trace', 'pod-src', '$(touch /tmp/pwned)'],
      ['trace', 'pod-src', 'pod-dest\nid'],
      ['pod', '--', '-oProxyCommand=sh -c id'],
      ['pod', 'pоd-src'],
      ['svc', '`id`'],
      ['nodeport', '31080 || true'],
      ['routes', 'k8s-node1 && reboot'],
      ['trace', '-n', 'default;id', 'pod-src', 'pod-dest'],
    ];
    for (const argv of attempts) {
      const r = await k8snet([...argv, '--lab', LAB]);
      expect([argv, r.code]).toEqual([argv, 2]);
      expect(r.stderr).toMatch(/is not a valid name|is not a whole number|takes \d argument|Unknown option|is outside/);
    }
    expect(await logs()).toEqual(before);
  }, 120_000);

  it('while a valid command does reach the nodes, through the fixed catalogue', async () => {
    const before = await logs();
    const r = await k8snet(['routes', 'k8s-node1', '--lab', LAB, '--json']);
    expect(r.code).toBe(0);
    const [after] = await logs();
    expect(after!.length).toBeGreaterThan(before[0]!.length);
    expect(after!.slice(before[0]!.length)).toContain('timeout --kill-after=2 10 ip -j -4 route show table main');
  }, 60_000);
});
