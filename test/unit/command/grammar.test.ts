import { describe, expect, it } from '@jest/globals';
import { parseInspectArgs, parseSlackCommand } from '../../../src/command/grammar.ts';
import { capturesPackets } from '../../../src/queue/jobs.ts';

describe('inspection command arguments', () => {
  it('parses each command with its defaults', () => {
    expect(parseInspectArgs('trace', ['pod-src', 'pod-dest']).command).toEqual({
      op: 'trace',
      namespace: 'default',
      src: 'pod-src',
      dst: 'pod-dest',
      capture: { enabled: true, seconds: 5 },
    });
    expect(
      parseInspectArgs('trace', ['-n', 'shop', 'frontend', 'db/postgres-0', '--capture-seconds', '3']).command,
    ).toEqual({
      op: 'trace',
      namespace: 'shop',
      src: 'frontend',
      dst: 'postgres-0',
      dstNamespace: 'db',
      capture: { enabled: true, seconds: 3 },
    });
    expect(parseInspectArgs('nodeport', ['31080', '--no-capture', '--json'])).toMatchObject({
      json: true,
      command: { op: 'nodeport', port: 31080, capture: { enabled: false } },
    });
    expect(parseInspectArgs('routes', ['k8s-node1', '--lab', 'lab'])).toMatchObject({
      lab: 'lab',
      command: { op: 'routes', node: 'k8s-node1' },
    });
    expect(parseInspectArgs('report', []).command).toEqual({ op: 'report' });
  });

  it.each([
    ['trace', ['pod;rm -rf /', 'pod-dest'], /SRC-POD: "pod;rm -rf \/" is not a valid name/],
    ['trace', ['$(id)', 'pod-dest'], /SRC-POD: "\$\(id\)" is not a valid name/],
    ['trace', ['pod-src', 'pod\ndest'], /DST-POD: .* is not a valid name/],
    ['pod', ['-oProxyCommand=x'], /Unknown option '-o'/],
    ['pod', ['pоd-src'], /NAME: "pоd-src" is not a valid name/],
    ['svc', ['x'.repeat(64)], /NAME: is longer than 63 characters/],
    ['nodeport', ['0'], /PORT: 0 is outside 1–65535/],
    ['nodeport', ['65536'], /PORT: 65536 is outside 1–65535/],
    ['nodeport', ['31080;reboot'], /PORT: "31080;reboot" is not a whole number/],
    ['trace', ['a', 'b', '--capture-seconds', '999'], /--capture-seconds: 999 is outside 1–30/],
    ['trace', ['a'], /`trace` takes 2 arguments, got 1/],
    ['routes', ['k8s-node1', '--lab', '../x'], /lab name/],
  ] as const)('refuses %s %j with a message that says what was wrong', (op, argv, message) => {
    expect(() => parseInspectArgs(op, argv)).toThrow(message);
  });
});

describe('a report with a tunnel sample', () => {
  it('takes --sample SECONDS on report only, bounded, and counts it as capturing packets', () => {
    expect(parseInspectArgs('report', ['--sample', '3']).command).toEqual({ op: 'report', tunnelSampleSeconds: 3 });
    expect(parseSlackCommand('report --sample 5')).toEqual({
      kind: 'operation',
      command: { op: 'report', tunnelSampleSeconds: 5 },
    });
    expect(() => parseInspectArgs('report', ['--sample', '0'])).toThrow(/--sample/);
    expect(() => parseInspectArgs('report', ['--sample', '31'])).toThrow(/--sample/);
    expect(() => parseInspectArgs('report', ['--sample', '3;id'])).toThrow(/--sample/);
    expect(() => parseInspectArgs('routes', ['k8s-node1', '--sample', '3'])).toThrow(
      '--sample: only `report` takes a tunnel sample: k8snet report [--sample SECONDS]',
    );
    expect(capturesPackets({ op: 'report', tunnelSampleSeconds: 3 })).toBe(true);
    expect(capturesPackets({ op: 'report' })).toBe(false);
    expect(capturesPackets({ op: 'routes', node: 'k8s-node1' })).toBe(false);
  });
});

describe('the same grammar from Slack', () => {
  it('reads /k8snet text into the same commands the CLI builds', async () => {
    const { parseSlackCommand } = await import('../../../src/command/grammar.ts');
    expect(parseSlackCommand('trace pod-src pod-dest')).toEqual({
      kind: 'operation',
      command: {
        op: 'trace',
        namespace: 'default',
        src: 'pod-src',
        dst: 'pod-dest',
        capture: { enabled: true, seconds: 5 },
      },
    });
    expect(parseSlackCommand('  nodeport   31080  --no-capture ')).toEqual({
      kind: 'operation',
      command: { op: 'nodeport', port: 31080, capture: { enabled: false, seconds: 5 } },
    });
    expect(parseSlackCommand('')).toEqual({ kind: 'help' });
    expect(parseSlackCommand('help')).toEqual({ kind: 'help' });
  });

  it('refuses unknown verbs, terminal-only flags and hostile text with a message', async () => {
    const { parseSlackCommand } = await import('../../../src/command/grammar.ts');
    expect(() => parseSlackCommand('rm -rf /')).toThrow(
      'command: unknown command "rm"; try one of trace, policy, nodeport, svc, pod, routes, report',
    );
    expect(() => parseSlackCommand('trace a b --lab lab')).toThrow(
      '--lab is a terminal option, not available in Slack',
    );
    expect(() => parseSlackCommand('trace a b --bundle /etc/passwd')).toThrow(
      '--bundle is a terminal option, not available in Slack',
    );
    expect(() => parseSlackCommand('trace "pod-src; reboot" pod-dest')).toThrow(
      /SRC-POD: "pod-src; reboot" is not a valid name/,
    );
    expect(() => parseSlackCommand('pod “$(id)”')).toThrow(/NAME: "\$\(id\)" is not a valid name/);
  });

  it('splits words on blanks and keeps quoted ones together, Slack smart quotes included', async () => {
    const { tokenize } = await import('../../../src/command/grammar.ts');
    expect(tokenize('schedule add "*/5 * * * *" report')).toEqual(['schedule', 'add', '*/5 * * * *', 'report']);
    expect(tokenize('a “b c” ‘d e’')).toEqual(['a', 'b c', 'd e']);
  });
});

describe('cancelling a job from Slack', () => {
  it('reads the job number people see on the message into the job id', async () => {
    const { parseSlackCommand } = await import('../../../src/command/grammar.ts');
    expect(parseSlackCommand('cancel 42')).toEqual({ kind: 'cancel', jobId: 'j42' });
    expect(parseSlackCommand('  cancel   7 ')).toEqual({ kind: 'cancel', jobId: 'j7' });
    expect(parseSlackCommand('cancel j42')).toEqual({ kind: 'cancel', jobId: 'j42' });
    expect(parseSlackCommand('cancel 007')).toEqual({ kind: 'cancel', jobId: 'j7' });
    expect(parseSlackCommand('cancel repeat:nightly-report:1740819600000')).toEqual({
      kind: 'cancel',
      jobId: 'repeat:nightly-report:1740819600000',
    });
  });

  it.each([
    ['cancel', /`cancel` takes 1 argument \(the job number\), got 0/],
    ['cancel 42 43', /`cancel` takes 1 argument \(the job number\), got 2/],
    ['cancel 42;reboot', /^JOB: "42;reboot" is not a job number$/],
    ['cancel ../../etc/passwd', /^JOB: "..\/..\/etc\/passwd" is not a job number$/],
    ['cancel <#C0NETOPS|netops>', /^JOB: "<#C0NETOPS\|netops>" is not a job number$/],
    ['cancel "4 2"', /^JOB: "4 2" is not a job number$/],
  ])('refuses %j with a message', async (text, message) => {
    const { parseSlackCommand } = await import('../../../src/command/grammar.ts');
    expect(() => parseSlackCommand(text)).toThrow(message);
  });

  it('validates job ids on their own, and shows at most 40 characters of a bad one', async () => {
    const { validateJobId } = await import('../../../src/command/grammar.ts');
    expect(validateJobId('j1')).toBe('j1');
    expect(() => validateJobId(42)).toThrow('JOB: "42" is not a job number');
    expect(() => validateJobId(undefined, 'jobId')).toThrow('jobId: "undefined" is not a job number');
    expect(() => validateJobId('')).toThrow('JOB: "" is not a job number');
    expect(() => validateJobId('x'.repeat(101))).toThrow(`JOB: "${'x'.repeat(40)}" is not a job number`);
    expect(validateJobId('x'.repeat(100))).toBe('x'.repeat(100));
  });
});

describe('network policy commands', () => {
  it('parses policy POD and trace --port, from the terminal and from Slack', () => {
    expect(parseInspectArgs('policy', ['-n', 'payments', 'ledger-0']).command).toEqual({
      op: 'policy',
      namespace: 'payments',
      name: 'ledger-0',
    });
    expect(parseSlackCommand('policy pod-dest')).toEqual({
      kind: 'operation',
      command: { op: 'policy', namespace: 'default', name: 'pod-dest' },
    });
    expect(parseInspectArgs('trace', ['pod-src', 'payments/pod-dest', '--port', '5432']).command).toMatchObject({
      op: 'trace',
      dst: 'pod-dest',
      dstNamespace: 'payments',
      port: 5432,
    });
  });

  it('refuses a bad port, a port on a command that takes none, and a hostile pod name', () => {
    expect(() => parseInspectArgs('trace', ['a', 'b', '--port', '0'])).toThrow('--port: 0 is outside 1–65535');
    expect(() => parseInspectArgs('trace', ['a', 'b', '--port', '80;id'])).toThrow(
      /--port: "80;id" is not a whole number/,
    );
    expect(() => parseInspectArgs('pod', ['a', '--port', '80'])).toThrow('--port: only `trace` takes a port');
    expect(() => parseInspectArgs('pod', ['web', '-6'])).toThrow(
      '--ipv6: only `trace`, `svc` and `nodeport` pick a family',
    );
    expect(parseInspectArgs('svc', ['web', '-6']).command).toMatchObject({ op: 'svc', name: 'web', family: 6 });
    expect(parseInspectArgs('nodeport', ['31080', '--ipv4']).command).toMatchObject({ op: 'nodeport', family: 4 });
    expect(parseSlackCommand('svc web -n shop -6')).toMatchObject({
      kind: 'operation',
      command: { op: 'svc', namespace: 'shop', family: 6 },
    });
    expect(() => parseInspectArgs('trace', ['a', 'b', '-4', '-6'])).toThrow(
      '--ipv4: --ipv4 and --ipv6 cannot be given together',
    );
    expect(parseInspectArgs('trace', ['a', 'b', '--ipv6']).command).toMatchObject({ op: 'trace', family: 6 });
    expect(() => parseSlackCommand('policy $(reboot)')).toThrow(/POD: .* is not a valid name/);
    expect(() => parseInspectArgs('policy', [])).toThrow('`policy` takes 1 argument, got 0');
  });
});

describe('the evidence bundle from the terminal', () => {
  it('takes --bundle FILE on every inspection command', () => {
    expect(parseInspectArgs('trace', ['a', 'b', '--bundle', 'out.tar.gz']).bundle).toBe('out.tar.gz');
    expect(parseInspectArgs('pod', ['a', '--bundle=x.tgz']).bundle).toBe('x.tgz');
    expect(parseInspectArgs('routes', ['n1']).bundle).toBeUndefined();
    expect(() => parseInspectArgs('trace', ['a', 'b', '--bundle='])).toThrow('--bundle');
  });
});
