import { describe, expect, it } from '@jest/globals';
import { followUps, runningFollowUps } from '../../../src/slack/follow-ups.ts';
import { commandText } from '../../../src/command/command-text.ts';
import type { OperationCommand } from '../../../src/ops/run-operation.ts';

const bounds = { defaultSeconds: 5, maxSeconds: 30 };
const shown = (c: OperationCommand, b = bounds) => followUps(c, b).map((f) => [f.label, commandText(f.command)]);
const trace: OperationCommand = {
  op: 'trace',
  namespace: 'web',
  src: 'client',
  dst: 'api',
  dstNamespace: 'payments',
  port: 8443,
  capture: { enabled: true, seconds: 5 },
};

describe('which buttons a finished job offers', () => {
  it("trace: capture again for 10 s, reverse (the port was the destination's, so it goes), without capture, evidence, re-run", () => {
    expect(shown(trace)).toEqual([
      ['Capture again (10 s)', 'trace client payments/api -n web --port 8443 --capture-seconds 10'],
      ['Reverse (DST → SRC)', 'trace api web/client -n payments --capture-seconds 5'],
      ['No capture', 'trace client payments/api -n web --port 8443 --no-capture'],
      ['Evidence bundle', 'trace client payments/api -n web --port 8443 --capture-seconds 5'],
      ['Re-run', 'trace client payments/api -n web --port 8443 --capture-seconds 5'],
    ]);
  });

  it('trace without a capture offers one (at the default length, with the test connection again)', () => {
    const c: OperationCommand = {
      op: 'trace',
      namespace: 'default',
      src: 'a',
      dst: 'b',
      noTest: true,
      capture: { enabled: false, seconds: 5 },
    };
    expect(shown(c).map(([l]) => l)).toEqual([
      'Capture again (10 s)',
      'Reverse (DST → SRC)',
      'With capture',
      'Evidence bundle',
      'Re-run',
    ]);
    expect(shown(c)[2]).toEqual(['With capture', 'trace a b --capture-seconds 5']);
    expect(shown(c)[1]).toEqual(['Reverse (DST → SRC)', 'trace b a --no-capture --no-test']);
  });

  it('never asks for more capture than the deployment allows', () => {
    expect(shown(trace, { defaultSeconds: 2, maxSeconds: 4 })[0]).toEqual([
      'Capture again (4 s)',
      'trace client payments/api -n web --port 8443 --capture-seconds 4',
    ]);
  });

  it('nodeport and svc: capture on every node; pod: its policies; the rest: evidence and re-run', () => {
    expect(shown({ op: 'nodeport', port: 30080, capture: { enabled: false, seconds: 5 } })[0]).toEqual([
      'Capture on every node',
      'nodeport 30080 --capture-seconds 5',
    ]);
    expect(shown({ op: 'svc', namespace: 'shop', name: 'web', capture: { enabled: true, seconds: 7 } })[0]).toEqual([
      'Capture on every node',
      'svc web -n shop --capture-seconds 7',
    ]);
    expect(shown({ op: 'pod', namespace: 'payments', name: 'pod-src' })).toEqual([
      ['Policy', 'policy pod-src -n payments'],
      ['Evidence bundle', 'pod pod-src -n payments'],
      ['Re-run', 'pod pod-src -n payments'],
    ]);
    expect(shown({ op: 'routes', node: 'k8s-node1' }).map(([l]) => l)).toEqual(['Evidence bundle', 'Re-run']);
    expect(shown({ op: 'report', previous: null, tunnelSampleSeconds: 3 })).toEqual([
      ['Evidence bundle', 'report --sample 3'],
      ['Re-run', 'report --sample 3'],
    ]);
  });

  it('a running job offers Cancel only', () => {
    expect(runningFollowUps(trace).map((f) => f.label)).toEqual(['Cancel']);
  });
});
