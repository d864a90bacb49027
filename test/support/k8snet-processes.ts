/**
 * For tests that run `k8snet bot` / `k8snet worker` as real processes against the Slack stand-in: the environment
 * they share, their teardown, and reading back an evidence bundle's commands against what the lab's nodes logged.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { SlackStandIn } from '../../src/demo/slack-stand-in.ts';
import type { K8snetProcess } from '../../src/demo/k8snet-process.ts';
import { nodeCommandLog } from '../../src/lab/sshd.ts';
import { labPaths } from '../../src/lab/state.ts';
import { BOT_TOKEN, REDIS_URL, SIGNING_SECRET, until } from './slack-pipeline.ts';

/** Slack through the stand-in, Redis under `prefix`, health on any free port, JSON logs the tests read. */
export function processEnv(standIn: SlackStandIn, prefix: string, extra: Record<string, string> = {}) {
  return {
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: standIn.apiUrl,
    REDIS_URL,
    K8SNET_QUEUE_PREFIX: prefix,
    K8SNET_HEALTH_PORT: '0',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

/** Kills every process, deletes the prefix's keys, closes Redis and the stand-in (each may be missing). */
export async function stopProcesses(
  processes: K8snetProcess[],
  redis: Redis | undefined,
  prefix: string,
  standIn: SlackStandIn | undefined,
): Promise<void> {
  await Promise.all(processes.map((p) => p.kill('SIGKILL')));
  const keys = (await redis?.keys(`${prefix}:*`)) ?? [];
  if (keys.length > 0) await redis!.del(...keys);
  await redis?.quit();
  await standIn?.close();
}

/** An unpacked bundle's commands.tsv rows (header dropped): [start, node, duration, exit, bytes, command]. */
export function bundleCommandRows(root: string): string[][] {
  return readFileSync(join(root, 'commands.tsv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split('\t'));
}

/** Each row as [node, command, whether that node of `lab` logged it] — all true when the bundle tells the truth. */
export function loggedOnNodes(rows: string[][], lab: string, nodes: readonly string[]): [string, string, boolean][] {
  const logs = Object.fromEntries(nodes.map((n) => [n, readFileSync(nodeCommandLog(labPaths(lab), n), 'utf8')]));
  return rows.map(([, node, , , , command]) => [node!, command!, logs[node!]?.includes(command!) ?? false]);
}

/** Waits for the private (response_url) answer containing `text`, as a refused command or click gets one. */
export function privateAnswer(standIn: SlackStandIn, text: string, ms = 10_000) {
  return until(
    () => standIn.calls.find((c) => c.method === 'response_url' && String(c.args.text).includes(text)),
    ms,
    `a private answer with ${JSON.stringify(text)}`,
  );
}
