import { describe, expect, it } from '@jest/globals';
import {
  codeBlocks,
  mention,
  PARENT_FINDINGS,
  renderSlackThread,
  SECTION_TEXT_LIMIT,
  statusMessage,
} from '../../../src/slack/slack-blocks.ts';
import type { Finding } from '../../../src/model/report.ts';
import type { Report } from '../../../src/model/report.ts';

const report: Report = {
  title: 'trace default/pod-src → default/pod-dest',
  headline: '1 problem',
  findings: [
    { severity: 'info', code: 'overlay', message: 'VXLAN over vxlan.calico', evidence: '' },
    {
      severity: 'error',
      code: 'no_route_to_block',
      message: 'k8s-node2 has no route to <10.244.0.0/26>',
      evidence: 'default via 10.254.0.254 dev eth0',
    },
  ],
  sections: [
    {
      kind: 'preformatted',
      title: 'k8s-node2: ip route',
      text: 'default via 10.254.0.254 dev eth0\n10.244.0.64/26 via 10.244.0.64 dev vxlan.calico onlink\n',
    },
    { kind: 'table', title: 'Pods', columns: ['POD', 'IP'], rows: [['pod-src', '10.244.0.65']] },
    {
      kind: 'preformatted',
      title: 'huge dump',
      text: Array.from({ length: 2000 }, (_, i) => `line ${i} ${'x'.repeat(40)}`).join('\n'),
    },
  ],
  attachments: [
    { filename: 'trace.pcap', title: 'capture', contentType: 'application/vnd.tcpdump.pcap', data: Buffer.alloc(100) },
  ],
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
    expect(JSON.stringify(replies)).toContain(
      '```default via 10.254.0.254 dev eth0\\n10.244.0.64/26 via 10.244.0.64 dev vxlan.calico onlink```',
    );
    expect(files.map((f) => f.filename)).toEqual(['trace.pcap', 'huge-dump.txt']);
    for (const r of replies) {
      expect(r.blocks.length).toBeLessThanOrEqual(50);
      for (const b of r.blocks)
        if (b.type === 'section') expect(b.text.text.length).toBeLessThanOrEqual(SECTION_TEXT_LIMIT);
    }
  });

  it('splits long monospace text on line boundaries into blocks that each fit', () => {
    const blocks = codeBlocks(Array.from({ length: 300 }, (_, i) => `row ${i} ${'y'.repeat(30)}`).join('\n'));
    expect(blocks.length).toBeGreaterThan(1);
    const lines = blocks.flatMap((b) => (b.type === 'section' ? b.text.text.replaceAll('```', '').split('\n') : []));
    expect(lines).toHaveLength(300);
  });

  it('shows progress on the parent message', () => {
    expect(statusMessage('nodeport 31080', 'running: reading kube-proxy rules on k8s-node1').blocks[1]).toEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: 'running: reading kube-proxy rules on k8s-node1' }],
    });
  });
});

describe("mentions and the parent message's status", () => {
  it('mentions only well-formed user IDs', () => {
    expect(mention('U024BE7LH')).toBe('<@U024BE7LH>');
    expect(mention('W0ENTERPRISE1')).toBe('<@W0ENTERPRISE1>');
    for (const notAUser of [
      undefined,
      '',
      'C0NETOPS',
      'S0NETENG',
      'B0BOT',
      'u024be7lh',
      '<!channel>',
      'U024BE7LH> <!here',
      `U${'1'.repeat(21)}`,
    ])
      expect(mention(notAUser)).toBe('');
  });

  it('says who asked after the status, escaped, and no one when the user is not a user ID', () => {
    const m = statusMessage('trace default/pod-src → default/pod-dest', 'queued as job 42', { user: 'U024BE7LH' });
    expect(m.blocks).toEqual([
      { type: 'header', text: { type: 'plain_text', text: 'trace default/pod-src → default/pod-dest' } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: 'queued as job 42 — asked by <@U024BE7LH>' }] },
    ]);
    expect(m.text).toBe('trace default/pod-src → default/pod-dest: queued as job 42');
    expect(statusMessage('report', 'failed: <b> & co', { user: '<!channel>' }).blocks[1]).toEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: 'failed: &lt;b&gt; &amp; co' }],
    });
  });

  it("cuts the title to a header's 150 characters", () => {
    const header = statusMessage(`svc ${'a'.repeat(63)}/${'b'.repeat(200)}`, 'done').blocks[0]!;
    expect(header.type === 'header' && header.text.text.length).toBe(150);
  });

  it('shows the headline and at most a few problems and warnings, no information, within one section', () => {
    const findings: Finding[] = [
      { severity: 'info', code: 'overlay', message: 'VXLAN over vxlan.calico', evidence: '' },
      ...Array.from({ length: 20 }, (_, i): Finding => ({
        severity: i % 2 ? 'warning' : 'error',
        code: `f${i}`,
        message: `finding ${i} ${'z'.repeat(400)}`,
        evidence: `line ${i}`,
      })),
    ];
    const m = statusMessage('network health report', 'done', {
      user: 'U024BE7LH',
      detail: { headline: '10 problems, 10 warnings', findings },
    });
    expect(m.text).toBe('network health report: 10 problems, 10 warnings');
    expect(m.blocks[2]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: '*10 problems, 10 warnings*' } });
    const body = m.blocks[3]!;
    expect(body.type).toBe('section');
    const text = body.type === 'section' ? body.text.text : '';
    expect(text.length).toBeLessThanOrEqual(SECTION_TEXT_LIMIT);
    const shown = text.match(/finding \d+/g) ?? [];
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.length).toBeLessThanOrEqual(PARENT_FINDINGS);
    // Problems first.
    expect(text.indexOf(':red_circle:')).toBe(0);
    expect(text).not.toContain('VXLAN');
    expect(m.blocks).toHaveLength(4);
  });
});
