import { describe, expect, it } from '@jest/globals';
import { codeBlocks, renderSlackThread, SECTION_TEXT_LIMIT, statusMessage } from '../../../src/render/slack-blocks.ts';
import type { Report } from '../../../src/render/report.ts';

const report: Report = {
  title: 'trace default/pod-src → default/pod-dest',
  headline: '1 problem',
  findings: [
    { severity: 'info', code: 'overlay', message: 'VXLAN over vxlan.calico', evidence: '' },
    { severity: 'error', code: 'no_route_to_block', message: 'k8s-node2 has no route to <10.244.0.0/26>', evidence: 'default via 10.254.0.254 dev eth0' },
  ],
  sections: [
    { kind: 'preformatted', title: 'k8s-node2: ip route', text: 'default via 10.254.0.254 dev eth0\n10.244.0.64/26 via 10.244.0.64 dev vxlan.calico onlink\n' },
    { kind: 'table', title: 'Pods', columns: ['POD', 'IP'], rows: [['pod-src', '10.244.0.65']] },
    { kind: 'preformatted', title: 'huge dump', text: Array.from({ length: 2000 }, (_, i) => `line ${i} ${'x'.repeat(40)}`).join('\n') },
  ],
  attachments: [{ filename: 'trace.pcap', title: 'capture', contentType: 'application/vnd.tcpdump.pcap', data: Buffer.alloc(100) }],
};

describe('Slack rendering', () => {
  it('puts the headline and the problems (not the info) on the parent message, escaped', () => {
    const { parent } = renderSlackThread(report);
    const text = JSON.stringify(parent.blocks);
    expect(text).toContain('*1 problem*');
    expect(text).toContain('k8s-node2 has no route to &lt;10.244.0.0/26&gt;');
    expect(text).not.toContain('VXLAN over vxlan.calico');
    expect(parent.text).toBe('trace default/pod-src → default/pod-dest: 1 problem');
  });

  it('posts route tables as monospace blocks in the thread, and sends what is too long, and the pcap, as files', () => {
    const { replies, files } = renderSlackThread(report);
    expect(JSON.stringify(replies)).toContain('```default via 10.254.0.254 dev eth0\\n10.244.0.64/26 via 10.244.0.64 dev vxlan.calico onlink```');
    expect(files.map((f) => f.filename)).toEqual(['trace.pcap', 'huge-dump.txt']);
    for (const r of replies) {
      expect(r.blocks.length).toBeLessThanOrEqual(50);
      for (const b of r.blocks) if (b.type === 'section') expect(b.text.text.length).toBeLessThanOrEqual(SECTION_TEXT_LIMIT);
    }
  });

  it('splits long monospace text on line boundaries into blocks that each fit', () => {
    const blocks = codeBlocks(Array.from({ length: 300 }, (_, i) => `row ${i} ${'y'.repeat(30)}`).join('\n'));
    expect(blocks.length).toBeGreaterThan(1);
    const lines = blocks.flatMap((b) => (b.type === 'section' ? b.text.text.replaceAll('```', '').split('\n') : []));
    expect(lines).toHaveLength(300);
  });

  it('shows progress on the parent message', () => {
    expect(statusMessage('nodeport 31080', 'running: reading kube-proxy rules on k8s-node1').blocks[1]).toEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: 'running: reading kube-proxy rules on k8s-node1' }] });
  });
});
