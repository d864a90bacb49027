import { describe, expect, it } from '@jest/globals';
import { parseInspectArgs } from '../../../src/cli/inspect-command.ts';

describe('inspection command arguments', () => {
  it('parses each command with its defaults', () => {
    expect(parseInspectArgs('trace', ['pod-src', 'pod-dest']).command).toEqual({ op: 'trace', namespace: 'default', src: 'pod-src', dst: 'pod-dest', capture: { enabled: true, seconds: 5 } });
    expect(parseInspectArgs('trace', ['-n', 'shop', 'frontend', 'db/postgres-0', '--capture-seconds', '3']).command).toEqual({ op: 'trace', namespace: 'shop', src: 'frontend', dst: 'postgres-0', dstNamespace: 'db', capture: { enabled: true, seconds: 3 } });
    expect(parseInspectArgs('nodeport', ['31080', '--no-capture', '--json'])).toMatchObject({ json: true, command: { op: 'nodeport', port: 31080, capture: { enabled: false } } });
    expect(parseInspectArgs('routes', ['k8s-node1', '--lab', 'lab'])).toMatchObject({ lab: 'lab', command: { op: 'routes', node: 'k8s-node1' } });
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
