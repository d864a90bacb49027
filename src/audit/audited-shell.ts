/**
 * A NodeShell that reports every command and capture it runs (node, argv, exit status, duration, error) and
 * counts SSH errors and capture bytes. The worker wraps its shared shell in one of these per job, so each job's
 * audit lists exactly its own commands.
 */
import { Transform, pipeline } from 'node:stream';
import { describeError, isK8snetError } from '../errors.ts';
import { tcpdump } from '../node/catalogue.ts';
import { shellQuote } from '../node/remote-command.ts';
import type { CaptureSpec, CaptureStream, CommandResult, NodeCommand, NodeShell, NodeTarget } from '../node/types.ts';
import type { K8snetMetrics } from '../observability/metrics.ts';

export interface NodeCommandRecord {
  node: string;
  /** The argv as one readable, quoted line (what a person would type). */
  command: string;
  exitCode: number | null;
  timedOut: boolean;
  durationMs: number;
  error?: string;
}

/**
 * A command as the evidence bundle keeps it: the audit record plus the argv as run, when it started, and its output
 * (capped by the catalogue's own limit; captures keep tcpdump's stderr, their pcap is a report attachment). The
 * audit trail takes only the NodeCommandRecord fields: it never holds output.
 */
export interface NodeCommandEvidence extends NodeCommandRecord {
  argv?: string[];
  /** ISO time the command was sent. */
  startedAt?: string;
  stdout?: string;
  stderr?: string;
  /** stdout was cut at the command's output cap. */
  truncated?: boolean;
}

/** Only the audit fields, whatever else a record carries (output must never reach the audit trail). */
export function auditFields(r: NodeCommandRecord): NodeCommandRecord {
  return {
    node: r.node,
    command: r.command,
    exitCode: r.exitCode,
    timedOut: r.timedOut,
    durationMs: r.durationMs,
    ...(r.error !== undefined ? { error: r.error } : {}),
  };
}

export function auditedShell(
  shell: NodeShell,
  onCommand: (record: NodeCommandEvidence) => void,
  metrics?: Pick<K8snetMetrics, 'sshErrors' | 'captureBytes'>,
): NodeShell {
  const line = (argv: string[]) => shellQuote(argv);
  const failed = (node: string, argv: string[], started: number, err: unknown) => {
    onCommand({
      node,
      command: line(argv),
      exitCode: null,
      timedOut: false,
      durationMs: Date.now() - started,
      error: describeError(err),
      argv,
      startedAt: new Date(started).toISOString(),
    });
    if (isK8snetError(err) && err.code.startsWith('ssh')) metrics?.sshErrors.inc({ node, code: err.code });
  };
  return {
    async run(node: NodeTarget, command: NodeCommand, signal?: AbortSignal): Promise<CommandResult> {
      const started = Date.now();
      try {
        const r = await shell.run(node, command, signal);
        onCommand({
          node: node.name,
          command: line(command.argv),
          exitCode: r.exitCode,
          timedOut: r.timedOut,
          durationMs: r.durationMs,
          argv: command.argv,
          startedAt: new Date(started).toISOString(),
          stdout: r.stdout,
          stderr: r.stderr,
          truncated: r.truncated,
        });
        return r;
      } catch (err) {
        failed(node.name, command.argv, started, err);
        throw err;
      }
    },
    async capture(node: NodeTarget, spec: CaptureSpec, signal?: AbortSignal): Promise<CaptureStream> {
      const started = Date.now();
      const argv = tcpdump(spec).argv;
      let stream: CaptureStream;
      try {
        stream = await shell.capture(node, spec, signal);
      } catch (err) {
        failed(node.name, argv, started, err);
        throw err;
      }
      const counted = new Transform({
        transform(chunk: Buffer, _enc, done) {
          metrics?.captureBytes.inc({ node: node.name, interface: spec.interface }, chunk.length);
          done(null, chunk);
        },
      });
      // pipeline: a reader that gives up on `counted` ends the node capture too.
      pipeline(stream.pcap, counted, () => undefined);
      const done = stream.done.then((d) => {
        onCommand({
          node: node.name,
          command: line(argv),
          exitCode: d.exitCode,
          timedOut: false,
          durationMs: Date.now() - started,
          argv,
          startedAt: new Date(started).toISOString(),
          stderr: d.stderr,
        });
        return d;
      });
      return { pcap: counted, done };
    },
    // The shared shell outlives the job; its owner closes it.
    close: async () => undefined,
  };
}
