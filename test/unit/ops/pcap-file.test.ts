import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarizePcapFile } from '../../../src/ops/pcap-file.ts';
import { renderReportText } from '../../../src/render/terminal.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../pcap/fixtures/${name}`, import.meta.url));
const ctx = { onStep: () => undefined, signal: new AbortController().signal };
const dir = mkdtempSync(join(tmpdir(), 'k8snet-pcap-op-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('pcap FILE', () => {
  it("shows VXLAN flows with the outer tunnel endpoints beside the inner addresses (tcpdump's vxlan.pcap)", async () => {
    const { result, report } = await summarizePcapFile(fixture('vxlan.pcap'), ctx);
    expect(result.errors).toEqual([]);
    const flows = result.flows as {
      src: string;
      dst: string;
      proto: string;
      tunnel: { type: string; vni: number; outerSrc: string } | null;
    }[];
    expect(
      flows.some(
        (f) =>
          f.src === '192.168.203.3' &&
          f.dst === '192.168.203.5' &&
          f.proto === 'icmp' &&
          f.tunnel?.type === 'vxlan' &&
          f.tunnel.vni === 100,
      ),
    ).toBe(true);
    expect(result.findings.map((f) => f.code)).toContain('encapsulated');
    const text = renderReportText(report);
    expect(text).toMatch(
      /192\.168\.203\.3 → 192\.168\.203\.5 icmp\s+VXLAN vni 100 192\.168\.203\.1 → 192\.168\.202\.1/,
    );
  });

  it('reports a file cut off mid-record as an error and keeps what was decoded before it', async () => {
    const whole = readFileSync(fixture('vxlan.pcap'));
    const cut = join(dir, 'cut.pcap');
    writeFileSync(cut, whole.subarray(0, whole.length - 30));
    const { result } = await summarizePcapFile(cut, ctx);
    expect(result.errors).toHaveLength(1);
    expect(result.packets).toBeGreaterThan(0);
    expect(result.findings[0]).toMatchObject({ severity: 'error', code: 'capture_unreadable' });
  });

  it('refuses a path that is not a readable file, saying so', async () => {
    await expect(summarizePcapFile(join(dir, 'nope.pcap'), ctx)).rejects.toThrow(/cannot read .*nope\.pcap: ENOENT/);
    await expect(summarizePcapFile(dir, ctx)).rejects.toThrow(/is not a file/);
  });
});
