import { afterAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../../bin/k8snet.js', import.meta.url));
const fixture = fileURLToPath(new URL('../pcap/fixtures/vxlan.pcap', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'k8snet-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function k8snet(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('k8snet pcap', () => {
  it('prints the JSON contract and exits 0 for a good capture', async () => {
    const r = await k8snet(['pcap', fixture, '--json']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as {
      packets: number;
      flows: { tunnel: { type: string; vni: number } | null }[];
      errors: string[];
      findings: unknown[];
    };
    expect(json.packets).toBe(10);
    expect(json.flows[0]!.tunnel).toMatchObject({ type: 'vxlan', vni: 100 });
    expect(json.errors).toEqual([]);
  });

  it('exits 1 for a truncated capture and still prints the flows decoded before the cut', async () => {
    const cut = join(dir, 'cut.pcap');
    const whole = readFileSync(fixture);
    writeFileSync(cut, whole.subarray(0, whole.length - 30));
    const r = await k8snet(['pcap', cut, '--json']);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout) as { packets: number; flows: unknown[]; errors: string[] };
    expect(json.errors).toHaveLength(1);
    expect(json.flows.length).toBeGreaterThan(0);
  });

  it('says plainly when the file is missing, and shows usage without a file', async () => {
    const r = await k8snet(['pcap', join(dir, 'missing.pcap')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/k8snet pcap: cannot read .*missing\.pcap: ENOENT/);
    const u = await k8snet(['pcap']);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain('Usage: k8snet pcap FILE');
  });
});
