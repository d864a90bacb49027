import { describe, expect, it } from '@jest/globals';
import { messageLines, plainMrkdwn, renderTranscript } from '../../../src/demo/slack-transcript.ts';
import { statusMessage } from '../../../src/slack/slack-blocks.ts';
import { renderSlackThread } from '../../../src/slack/slack-blocks.ts';
import type { Report } from '../../../src/model/report.ts';

describe('Slack thread → terminal transcript', () => {
  it('reads mrkdwn as a person would: mentions, channel links, entities, emoji', () => {
    expect(
      plainMrkdwn('done — asked by <@U0DEMO0001> in <#C0DEMO0001|net-oncall>: 1 &lt; 2 &amp;&amp; :red_circle: x'),
    ).toBe('done — asked by @U0DEMO0001 in #net-oncall: 1 < 2 && ✖ x');
  });

  it('renders what the worker posts: header, status, findings, code blocks indented, files last', () => {
    const report: Report = {
      title: 'routes k8s-node1',
      headline: '1 problem',
      findings: [
        {
          severity: 'error',
          code: 'no_route_to_block',
          message: 'k8s-node1 has no route to 10.244.0.64/26',
          evidence: 'default via 10.254.1.254 dev eth0',
        },
      ],
      sections: [
        {
          kind: 'preformatted',
          title: 'k8s-node1: ip route',
          text: 'default via 10.254.1.254 dev eth0\nblackhole 10.244.0.0/26 proto 80\n',
        },
      ],
      attachments: [],
    };
    const thread = renderSlackThread(report, 'done in 1.2 s', 'U1');
    const text = renderTranscript(thread.parent, thread.replies, [{ filename: 'k8s-node1-ip-route.txt', bytes: 120 }]);
    expect(text).toBe(
      [
        '== routes k8s-node1 ==',
        '   done in 1.2 s — asked by @U1',
        '1 problem',
        '✖ k8s-node1 has no route to 10.244.0.64/26',
        '      `default via 10.254.1.254 dev eth0`',
        '',
        '  ┌ reply 1',
        '  │ Findings',
        '  │ ✖ k8s-node1 has no route to 10.244.0.64/26',
        '  │       `default via 10.254.1.254 dev eth0`',
        '  └',
        '',
        '  ┌ reply 2',
        '  │ k8s-node1: ip route',
        '  │     default via 10.254.1.254 dev eth0',
        '  │     blackhole 10.244.0.0/26 proto 80',
        '  └',
        '',
        '  📎 k8s-node1-ip-route.txt (120 bytes)',
        '',
      ].join('\n'),
    );
  });

  it('draws the buttons under a message', () => {
    const message = statusMessage('pod default/a', 'done in 1.0 s', {
      buttons: ['Policy', 'Re-run'].map((t) => ({
        type: 'button' as const,
        action_id: `k8snet:${t}`,
        text: { type: 'plain_text' as const, text: t },
        value: 'v',
      })),
    });
    expect(messageLines(message).at(-1)).toBe('   [ Policy ] [ Re-run ]');
  });
});
