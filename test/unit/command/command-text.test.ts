import { describe, expect, it } from '@jest/globals';
import { commandText } from '../../../src/command/command-text.ts';
import { parseSlackCommand } from '../../../src/command/grammar.ts';
import type { OperationCommand } from '../../../src/ops/run-operation.ts';

const bounds = { defaultSeconds: 5, maxSeconds: 30 };
const parsed = (text: string) => {
  const p = parseSlackCommand(text, bounds);
  if (p.kind !== 'operation') throw new Error(`not an operation: ${text}`);
  return p.command;
};

describe('command text, the inverse of the grammar', () => {
  it.each([
    'trace pod-src pod-dest',
    'trace pod-src payments/pod-dest -n web --port 8080 --capture-seconds 12',
    'trace pod-src default/pod-dest --no-capture --no-test',
    'trace a b --no-test',
    'trace pod-src pod-dest -6',
    'trace pod-src pod-dest --ipv4 --no-capture',
    'nodeport 30080 --no-capture',
    'nodeport 30080 --capture-seconds 3',
    'svc web -n shop',
    'svc web -n shop -6 --no-capture',
    'nodeport 31046 --ipv6',
    'pod pod-src -n payments',
    'policy pod-src',
    'routes k8s-node1',
    'report',
    'report --sample 4',
  ])('parses back to the same command: %s', (text) => {
    const command = parsed(text);
    expect(parsed(commandText(command))).toEqual(command);
  });

  it('spells every capture choice out, so a later change of the default does not change what a button runs', () => {
    const c: OperationCommand = {
      op: 'trace',
      namespace: 'default',
      src: 'a',
      dst: 'b',
      capture: { enabled: true, seconds: 5 },
    };
    expect(commandText(c)).toBe('trace a b --capture-seconds 5');
    expect(commandText({ ...c, capture: { enabled: false, seconds: 5 } })).toBe('trace a b --no-capture');
  });

  it('keeps the family a dual-stack Service was walked in, so a button re-runs the same half', () => {
    expect(commandText(parsed('svc web46 -6'))).toBe('svc web46 --capture-seconds 5 --ipv6');
    expect(commandText(parsed('nodeport 31046 -4 --no-capture'))).toBe('nodeport 31046 --no-capture --ipv4');
  });
});
