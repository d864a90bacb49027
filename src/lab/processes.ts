/**
 * Starting and stopping the lab's long-running processes (sshd, kube-proxy stand-ins, pod containers, the API
 * server): detached from the CLI so they outlive `lab up`, logging to the lab's logs/ dir.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { K8snetError } from '../errors.ts';

export function startDetached(argv: readonly string[], logFile: string): number {
  const [file, ...args] = argv;
  if (file === undefined) throw new K8snetError('internal', 'startDetached: empty argv');
  const log = openSync(logFile, 'a');
  try {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', log, log] });
    if (child.pid === undefined) throw new K8snetError('lab', `could not start ${file}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(log);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The command line of a pid, to be sure a recorded pid is still ours before signalling it. */
export async function commandLineOf(pid: number): Promise<string | null> {
  try {
    return (await readFile(join('/proc', String(pid), 'cmdline'), 'utf8')).replaceAll('\0', ' ');
  } catch {
    return null;
  }
}

/** SIGTERM, then SIGKILL after a grace period: returns once every pid is gone. */
export async function stopProcesses(pids: readonly number[], graceMs = 2000): Promise<void> {
  const live = pids.filter(isAlive);
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + graceMs;
  while (live.some(isAlive) && Date.now() < deadline) await sleep(50);
  for (const pid of live.filter(isAlive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  while (live.some(isAlive) && Date.now() < deadline + 2000) await sleep(20);
}

export async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new K8snetError('lab', `timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}
