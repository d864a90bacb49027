/**
 * Starts `k8snet bot` / `k8snet worker` as real child processes — the same commands the image runs — and reads
 * their JSON log lines, so the demo and tests can wait for "ready", stop them (SIGTERM, SIGKILL) and see how they
 * ended.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/k8snet.js', import.meta.url));

export interface K8snetProcess {
  child: ChildProcess;
  /** Parsed JSON log lines so far. */
  logs: Record<string, unknown>[];
  stderr: string[];
  /** Resolves with the first log line whose msg is `msg` (rejects if the process exits first or after `ms`). */
  waitForLog(msg: string, ms?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `where`: another copy of the CLI (an image's layout) and of node, run as another user. */
export function startK8snet(
  args: string[],
  env: Record<string, string>,
  where: { node?: string; bin?: string; uid?: number; gid?: number; cwd?: string } = {},
): K8snetProcess {
  const child = spawn(where.node ?? process.execPath, [where.bin ?? BIN, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(where.uid !== undefined ? { uid: where.uid } : {}),
    ...(where.gid !== undefined ? { gid: where.gid } : {}),
    ...(where.cwd !== undefined ? { cwd: where.cwd } : {}),
  });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const waiters: { msg: string; resolve: (l: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      entry = { msg: line };
    }
    logs.push(entry);
    for (const w of waiters.filter((x) => x.msg === entry.msg)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(entry);
    }
  });
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    logs,
    stderr,
    exited,
    waitForLog(msg, ms = 20_000) {
      const seen = logs.find((l) => l.msg === msg);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`k8snet ${args[0]}: no "${msg}" log within ${ms} ms; stderr: ${stderr.join('\n')}`)),
          ms,
        );
        void exited.then(({ code, signal }) => {
          clearTimeout(timer);
          reject(
            new Error(`k8snet ${args[0]} exited (${code ?? signal}) before "${msg}"; stderr: ${stderr.join('\n')}`),
          );
        });
        waiters.push({
          msg,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
      });
    },
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
