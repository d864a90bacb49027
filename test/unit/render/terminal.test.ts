import { describe, expect, it } from '@jest/globals';
import { alignTable, renderReportText } from '../../../src/render/terminal.ts';
import type { Report } from '../../../src/model/report.ts';

const report: Report = {
  title: 'trace default/pod-src → default/pod-dest',
  headline: '1 problem',
  findings: [
    { severity: 'info', code: 'overlay', message: 'overlay is VXLAN (vxlan.calico)', evidence: '' },
    {
      severity: 'error',
      code: 'no_route_to_block',
      message: 'k8s-node2 has no route to 10.244.0.0/26',
      evidence: 'default via 10.254.0.254 dev eth0',
    },
  ],
  sections: [
    {
      kind: 'table',
      title: 'Pods',
      columns: ['POD', 'IP', 'NODE'],
      rows: [
        ['pod-src', '10.244.0.65', 'k8s-node2'],
        ['pod-destination', '10.244.0.2', 'k8s-node1'],
      ],
    },
    { kind: 'preformatted', title: 'k8s-node2: ip route', text: 'default via 10.254.0.254 dev eth0\n' },
  ],
  attachments: [
    { filename: 'trace.pcap', title: 'capture', contentType: 'application/vnd.tcpdump.pcap', data: Buffer.alloc(24) },
  ],
};

describe('terminal rendering', () => {
  it("puts problems before info and shows each finding's evidence under it", () => {
    const text = renderReportText(report);
    expect(text.indexOf('PROBLEM')).toBeLessThan(text.indexOf('info'));
    expect(text).toContain(
      'PROBLEM  k8s-node2 has no route to 10.244.0.0/26\n         │ default via 10.254.0.254 dev eth0',
    );
  });

  it('aligns table columns without trailing blanks', () => {
    expect(
      alignTable(
        ['POD', 'IP'],
        [
          ['pod-src', '10.0.0.1'],
          ['p', '10.0.0.22'],
        ],
      ),
    ).toEqual(['POD      IP', 'pod-src  10.0.0.1', 'p        10.0.0.22']);
  });

  it('indents command output and names attachments without dumping their bytes', () => {
    const text = renderReportText(report);
    expect(text).toContain('k8s-node2: ip route\n  default via 10.254.0.254 dev eth0');
    expect(text).toContain('attachment: trace.pcap (capture, 24 bytes)');
    expect(text).not.toContain('\u001b[');
  });

  it('colours severities only when asked', () => {
    expect(renderReportText(report, { color: true })).toContain('\u001b[31mPROBLEM');
  });
});
