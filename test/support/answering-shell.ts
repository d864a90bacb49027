/**
 * A NodeShell for unit tests that answers each catalogue command from a table keyed by its argv joined with spaces
 * (a node's real outputs, from fixtures); any other command fails with exit 1, as a missing tool or table does.
 */
import type { NodeShell } from '../../src/node/types.ts';

export function answeringShell(outputs: Readonly<Record<string, string>>): NodeShell {
  return {
    async run(n, command) {
      const stdout = outputs[command.argv.join(' ')];
      return {
        node: n.name,
        argv: command.argv,
        stdout: stdout ?? '',
        stderr: stdout === undefined ? `${command.argv[0]}: not answered here` : '',
        exitCode: stdout === undefined ? 1 : 0,
        timedOut: false,
        truncated: false,
        durationMs: 1,
      };
    },
    async capture() {
      throw new Error('unused');
    },
    async close() {},
  };
}
