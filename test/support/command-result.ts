/** A CommandResult as a NodeShell returns it for a command that ran and exited 0, with what a test overrides. */
import type { CommandResult } from '../../src/node/types.ts';

export function commandResult(node: string, argv: string[], over: Partial<CommandResult> = {}): CommandResult {
  return {
    node,
    argv,
    stdout: '',
    stderr: '',
    exitCode: 0,
    timedOut: false,
    truncated: false,
    durationMs: 1,
    ...over,
  };
}
