/**
 * Runs host tools (ip, iptables-restore, ssh-keygen, sysctl) for the lab builder: argv only, never a shell,
 * with failures turned into K8snetError('lab') that say which command failed and what it printed.
 */
import { execFile } from 'node:child_process';
import { K8snetError } from '../errors.ts';

export interface ToolResult {
  stdout: string;
  stderr: string;
}

/** Generous: `ip` and `iptables-restore` answer in milliseconds; only a wedged kernel call takes longer. */
const TOOL_TIMEOUT_MS = 30_000;

export function runTool(
  argv: readonly string[],
  options: { input?: string; allowFailure?: boolean } = {},
): Promise<ToolResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new K8snetError('internal', 'runTool: empty argv');
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: TOOL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err && !options.allowFailure) {
          const detail = stderr.trim() || err.message;
          reject(new K8snetError('lab', `${argv.join(' ')} failed: ${detail}`, { cause: err }));
          return;
        }
        resolve({ stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** `ip -n NS -batch -`: many ip commands in one netns with one process (a lab of 10+ nodes builds in seconds). */
export async function ipBatch(netns: string | null, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  const argv = netns === null ? ['ip', '-batch', '-'] : ['ip', '-n', netns, '-batch', '-'];
  await runTool(argv, { input: `${lines.join('\n')}\n` });
}

export function inNetns(netns: string, argv: readonly string[]): string[] {
  return ['ip', 'netns', 'exec', netns, ...argv];
}
