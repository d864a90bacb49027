/**
 * Which buttons a job's parent message carries, decided from the command that ran (the worker hands the chat port
 * the command; this is the Slack side deciding). Each follow-up is a whole new command, run as a new job in the
 * same thread by whoever clicks. Pure.
 *
 *   trace     Capture again (10 s) · Reverse (DST → SRC) · No capture / With capture
 *   nodeport  Capture on every node
 *   svc       Capture on every node
 *   pod       Policy
 *   every op  Evidence bundle · Re-run
 *   running   Cancel
 */
import type { CaptureBounds } from '../command/grammar.ts';
import type { OperationCommand } from '../ops/run-operation.ts';

export type FollowUpId =
  | 'capture_again'
  | 'reverse'
  | 'without_capture'
  | 'with_capture'
  | 'capture_every_node'
  | 'policy'
  | 'bundle'
  | 'rerun'
  | 'cancel';

export interface FollowUp {
  id: FollowUpId;
  label: string;
  /**
   * What a click runs: a new command, or for `bundle` and `cancel` the job's own command (the bundle is that job's
   * evidence; who may have it follows whether that command captured packets).
   */
  command: OperationCommand;
}

/** "Capture again (10 s)": long enough to catch a retrying client (SYN retries at 1, 3, 7 s), within the cap. */
export const CAPTURE_AGAIN_SECONDS = 10;

function traceFollowUps(c: Extract<OperationCommand, { op: 'trace' }>, bounds: CaptureBounds): FollowUp[] {
  const seconds = Math.min(CAPTURE_AGAIN_SECONDS, bounds.maxSeconds);
  const { noTest: _noTest, ...withTest } = c;
  const dstNamespace = c.dstNamespace ?? c.namespace;
  // The port was the destination's; reversed, the old source's own container ports are judged instead.
  const { port: _port, dstNamespace: _dst, ...base } = c;
  const reversed: OperationCommand = {
    ...base,
    namespace: dstNamespace,
    src: c.dst,
    dst: c.src,
    ...(dstNamespace !== c.namespace ? { dstNamespace: c.namespace } : {}),
  };
  return [
    {
      id: 'capture_again',
      label: `Capture again (${seconds} s)`,
      command: { ...withTest, capture: { enabled: true, seconds } },
    },
    { id: 'reverse', label: 'Reverse (DST → SRC)', command: reversed },
    c.capture.enabled
      ? {
          id: 'without_capture',
          label: 'No capture',
          command: { ...c, capture: { enabled: false, seconds: c.capture.seconds } },
        }
      : {
          id: 'with_capture',
          label: 'With capture',
          command: { ...withTest, capture: { enabled: true, seconds: bounds.defaultSeconds } },
        },
  ];
}

/** The buttons of a finished job, in the order they are shown. */
export function followUps(c: OperationCommand, bounds: CaptureBounds): FollowUp[] {
  const specific: FollowUp[] = [];
  switch (c.op) {
    case 'trace':
      specific.push(...traceFollowUps(c, bounds));
      break;
    case 'nodeport':
    case 'svc':
      specific.push({
        id: 'capture_every_node',
        label: 'Capture on every node',
        command: {
          ...c,
          capture: { enabled: true, seconds: c.capture.enabled ? c.capture.seconds : bounds.defaultSeconds },
        },
      });
      break;
    case 'pod':
      specific.push({ id: 'policy', label: 'Policy', command: { op: 'policy', namespace: c.namespace, name: c.name } });
      break;
    case 'policy':
    case 'routes':
    case 'report':
      break;
  }
  // A report's memory of the previous run is the job's, not the command's: a re-run starts from the channel's.
  const again: OperationCommand =
    c.op === 'report'
      ? { op: 'report', ...(c.tunnelSampleSeconds ? { tunnelSampleSeconds: c.tunnelSampleSeconds } : {}) }
      : c;
  return [
    ...specific,
    { id: 'bundle', label: 'Evidence bundle', command: again },
    { id: 'rerun', label: 'Re-run', command: again },
  ];
}

/** The one button of a job still queued or running. */
export function runningFollowUps(c: OperationCommand): FollowUp[] {
  return [{ id: 'cancel', label: 'Cancel', command: c }];
}
