import { describe, expect, it } from '@jest/globals';
import { AUDIT_COMMANDS_SHOWN, auditMessage } from '../../../src/slack/audit-message.ts';
import type { JobAudit } from '../../../src/audit/job-audit.ts';
import { formatAuditRecord } from '../../../src/audit/audit-format.ts';
import type { NodeCommandRecord } from '../../../src/audit/audited-shell.ts';
import { BLOCKS_PER_MESSAGE, SECTION_TEXT_LIMIT, type SlackBlock } from '../../../src/slack/slack-blocks.ts';

/** Commands as the audited shell records them from a trace on the lab (shell-quoted argv). */
const traceCommands: NodeCommandRecord[] = [
  { node: 'k8s-node1', command: 'ip -j -4 route show table main', exitCode: 0, timedOut: false, durationMs: 41 },
  {
    node: 'k8s-node1',
    command: 'ip netns exec cni-0c2d8e51-7c4e-2d8c-5e6f-0a1b2c3d4e5f ip -o -4 addr show',
    exitCode: 0,
    timedOut: false,
    durationMs: 63,
  },
  {
    node: 'k8s-node2',
    command:
      "tcpdump -i vxlan.calico -nn -U -w - -s 128 -c 2000 '((host 10.244.0.65 or host 10.244.1.2) and (port 8080)) or (udp port 4789 or udp port 8472 or ip proto 4)'",
    exitCode: null,
    timedOut: true,
    durationMs: 7012,
  },
  {
    node: 'k8s-node3',
    command: 'ip -j -4 route show table main',
    exitCode: null,
    timedOut: false,
    durationMs: 10_004,
    error: 'ssh_connect: k8s-node3 (10.254.0.13:22): connect ETIMEDOUT',
  },
];

const audit: JobAudit = {
  jobId: 'j42',
  user: 'U024BE7LH',
  channel: 'C0NETOPS',
  command: 'trace default/pod-src → default/pod-dest',
  result: 'done',
  detail: '1 problem',
  commands: traceCommands,
};

const texts = (blocks: SlackBlock[]) =>
  blocks.flatMap((b) =>
    b.type === 'section' ? [b.text.text] : b.type === 'context' ? b.elements.map((e) => e.text) : [],
  );

describe('the audit channel message', () => {
  it('says who ran what where, how it ended, and links the user and the channel', () => {
    const m = auditMessage(audit);
    expect(m.blocks[0]).toEqual({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: '<@U024BE7LH> ran `trace default/pod-src → default/pod-dest` in <#C0NETOPS> (job j42): *done* — 1 problem',
      },
    });
    expect(m.text).toBe('k8snet audit: U024BE7LH ran trace default/pod-src → default/pod-dest (done)');
  });

  it('lists every node command with its exit status, time-out or error, and its duration', () => {
    const [code] = texts(auditMessage(audit).blocks).slice(1);
    expect(code!.split('\n')).toEqual([
      '```k8s-node1  exit 0      0.0 s  ip -j -4 route show table main',
      'k8s-node1  exit 0      0.1 s  ip netns exec cni-0c2d8e51-7c4e-2d8c-5e6f-0a1b2c3d4e5f ip -o -4 addr show',
      "k8s-node2  timed out    7.0 s  tcpdump -i vxlan.calico -nn -U -w - -s 128 -c 2000 '((host 10.244.0.65 or host 10.244.1.2) and (port 8080)) or (udp port 4789 or udp port 8472 or ip proto 4)'",
      'k8s-node3  error: ssh_connect: k8s-node3 (10.254.0.13:22): connect ETIMEDOUT   10.0 s  ip -j -4 route show table main```',
    ]);
  });

  it('mentions only a real user ID; anything else is shown as escaped text', () => {
    expect(texts(auditMessage({ ...audit, user: 'W012ENTERPRISE' }).blocks)[0]).toMatch(/^<@W012ENTERPRISE> ran/);
    const forged = texts(auditMessage({ ...audit, user: '<!channel>' }).blocks)[0]!;
    expect(forged).toMatch(/^&lt;!channel&gt; ran/);
    expect(forged).not.toContain('<!channel>');
    expect(texts(auditMessage({ ...audit, user: 'scheduler' }).blocks)[0]).toMatch(/^scheduler ran/);
  });

  it('links channel, group and DM IDs but shows anything else as escaped text', () => {
    expect(texts(auditMessage({ ...audit, channel: 'G0PRIVATE' }).blocks)[0]).toContain(' in <#G0PRIVATE> ');
    expect(texts(auditMessage({ ...audit, channel: 'D0DIRECT' }).blocks)[0]).toContain(' in <#D0DIRECT> ');
    expect(texts(auditMessage({ ...audit, channel: '#netops<script>' }).blocks)[0]).toContain(
      ' in #netops&lt;script&gt; ',
    );
  });

  it('escapes <, > and & in the command, the detail and every node command', () => {
    const m = auditMessage({
      ...audit,
      command: 'svc <b>&co',
      detail: 'SSH failed: <host> & more',
      commands: [
        {
          node: 'k8s-node1',
          command: "sh -c 'ip route show >/dev/null && echo <ok>'",
          exitCode: 0,
          timedOut: false,
          durationMs: 5,
        },
      ],
    });
    const [head, code] = texts(m.blocks);
    expect(head).toBe(
      '<@U024BE7LH> ran `svc &lt;b&gt;&amp;co` in <#C0NETOPS> (job j42): *done* — SSH failed: &lt;host&gt; &amp; more',
    );
    expect(code).toBe(
      "```k8s-node1  exit 0      0.0 s  sh -c 'ip route show &gt;/dev/null &amp;&amp; echo &lt;ok&gt;'```",
    );
  });

  it('says so when no command ran on any node', () => {
    const m = auditMessage({ ...audit, result: 'failed', detail: 'pod "pod-x" not found', commands: [] });
    expect(m.blocks).toHaveLength(2);
    expect(m.blocks[1]).toEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: 'no commands ran on any node' }],
    });
    expect(texts(m.blocks)[0]).toContain(': *failed* — pod "pod-x" not found');
  });

  it(`shows the first ${AUDIT_COMMANDS_SHOWN} commands and counts the rest`, () => {
    const commands = Array.from({ length: 250 }, (_, i) => ({ ...traceCommands[0]!, node: `k8s-node${i}` }));
    const lines = texts(auditMessage({ ...audit, commands }).blocks)
      .slice(1)
      .join('\n')
      .replaceAll('```', '')
      .split('\n');
    expect(lines).toHaveLength(AUDIT_COMMANDS_SHOWN + 1);
    expect(lines[0]).toMatch(/^k8s-node0 /);
    expect(lines[AUDIT_COMMANDS_SHOWN - 1]).toMatch(new RegExp(`^k8s-node${AUDIT_COMMANDS_SHOWN - 1} `));
    expect(lines[AUDIT_COMMANDS_SHOWN]).toBe(`… and ${250 - AUDIT_COMMANDS_SHOWN} more (k8snet audit shows all)`);
  });

  it("stays within Slack's block limits, and still counts what it left out, with long commands and a long detail", () => {
    // Long lines: 253-character node names (the DNS limit) and captures with a long filter.
    const node = `ip-10-0-1-23.${'a'.repeat(200)}.eu-west-1.compute.internal`;
    const filter = `'(${Array.from({ length: 20 }, (_, i) => `host 10.244.${i}.17`).join(' or ')}) and (port 8080)'`;
    const commands = Array.from({ length: 200 }, () => ({
      ...traceCommands[2]!,
      node,
      command: `ip netns exec cni-0c2d8e51-7c4e-2d8c-5e6f-0a1b2c3d4e5f tcpdump -i eth0 -nn -U -w - -s 128 -c 2000 ${filter}`,
    }));
    const m = auditMessage({ ...audit, detail: 'x'.repeat(5000), commands });
    expect(m.blocks.length).toBeLessThanOrEqual(BLOCKS_PER_MESSAGE);
    for (const text of texts(m.blocks)) expect(text.length).toBeLessThanOrEqual(SECTION_TEXT_LIMIT);
    const lines = texts(m.blocks).slice(1).join('\n').replaceAll('```', '').split('\n');
    const more = /^… and (\d+) more \(k8snet audit shows all\)$/.exec(lines.at(-1)!);
    expect(more).not.toBeNull();
    expect(lines.length - 1 + Number(more![1])).toBe(200);
  });

  it('cuts a long detail before escaping it, so no entity is cut in two', () => {
    const [head] = texts(auditMessage({ ...audit, result: 'failed', detail: `${'<&>'.repeat(1000)}END` }).blocks);
    expect(head!.length).toBeLessThanOrEqual(SECTION_TEXT_LIMIT);
    expect(head).toMatch(/(&lt;|&amp;|&gt;)…$/);
    expect(head).not.toContain('END');
  });
});

describe('the audit trail in a terminal', () => {
  it('prints each kind of record on one line, at second precision in UTC', () => {
    expect(
      formatAuditRecord({
        id: '1',
        at: '2025-03-01T09:15:02.123Z',
        type: 'request',
        jobId: 'j42',
        user: 'U024BE7LH',
        channel: 'C0NETOPS',
        command: 'trace default/pod-src → default/pod-dest',
      }),
    ).toBe('2025-03-01 09:15:02Z  job j42  U024BE7LH in C0NETOPS asked: trace default/pod-src → default/pod-dest');
    expect(
      formatAuditRecord({
        id: '2',
        at: '2025-03-01T09:15:03Z',
        type: 'refused',
        user: 'U0MALLORY',
        channel: 'C0RANDOM',
        reason: 'k8snet is not enabled in this channel.',
      }),
    ).toBe('2025-03-01 09:15:03Z  refused  U0MALLORY in C0RANDOM: k8snet is not enabled in this channel.');
    expect(
      formatAuditRecord({
        id: '3',
        at: '2025-03-01T09:15:04.5Z',
        type: 'outcome',
        jobId: 'j42',
        user: 'U024BE7LH',
        channel: 'C0NETOPS',
        command: 'trace',
        result: 'done',
        detail: '',
      }),
    ).toBe('2025-03-01 09:15:04Z  job j42  done');
    expect(
      formatAuditRecord({
        id: '4',
        at: '2025-03-01T09:15:05.000Z',
        type: 'outcome',
        jobId: 'j43',
        user: 'U024BE7LH',
        channel: 'C0NETOPS',
        command: 'trace',
        result: 'cancelled',
        detail: 'cancelled by U0BOB',
      }),
    ).toBe('2025-03-01 09:15:05Z  job j43  cancelled: cancelled by U0BOB');
  });

  it('prints a node command with its exit status, time-out or error and its duration', () => {
    const base = {
      id: '5',
      at: '2025-03-01T09:15:06.789Z',
      type: 'node_command',
      jobId: 'j42',
      node: 'k8s-node2',
      command: 'iptables-save -t nat',
      timedOut: false,
      durationMs: 87,
    } as const;
    expect(formatAuditRecord({ ...base, exitCode: 0 })).toBe(
      '2025-03-01 09:15:06Z  job j42  k8s-node2: iptables-save -t nat  → exit 0 (87 ms)',
    );
    expect(formatAuditRecord({ ...base, exitCode: null, timedOut: true })).toBe(
      '2025-03-01 09:15:06Z  job j42  k8s-node2: iptables-save -t nat  → timed out (87 ms)',
    );
    expect(formatAuditRecord({ ...base, exitCode: null })).toBe(
      '2025-03-01 09:15:06Z  job j42  k8s-node2: iptables-save -t nat  → exit ? (87 ms)',
    );
    expect(formatAuditRecord({ ...base, exitCode: null, error: 'ssh_connect: connect ECONNREFUSED' })).toBe(
      '2025-03-01 09:15:06Z  job j42  k8s-node2: iptables-save -t nat  → error: ssh_connect: connect ECONNREFUSED (87 ms)',
    );
  });
});
